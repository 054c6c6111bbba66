"""CUDA backend entry points (placeholder until the CUDA kernels land)."""


def _unavailable(*_args, **_kwargs):
    raise RuntimeError("device='cuda' is not supported yet: fastact's CUDA kernels are not built in this version; "
                       "use device='cpu' with NumPy arrays")


elementwise_forward = elementwise_backward = prelu_forward = prelu_backward = softmax_forward = _unavailable
bias_act_forward = bias_act_backward = gated_forward = gated_backward = _unavailable
