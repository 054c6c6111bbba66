"""fastact: JIT-compiled activation-function kernels (forward and backward) for NumPy arrays.

Every activation NAME has ``fastact.NAME(x, *, out=None, device="auto", **params)`` and
``fastact.NAME_backward(grad, x, *, out=None, device="auto", **params)``; ``fastact.ACTIVATIONS`` lists them.
``fastact.reference`` holds the plain-NumPy versions used to check them.
"""
from __future__ import annotations

from . import reference
from ._version import __version__
from .elementwise import ACTIVATIONS, BACKWARD, FORWARD, run_backward, run_forward
from .bias_act import bias_act, bias_act_backward
from .gated import geglu, geglu_backward, glu, glu_backward, swiglu, swiglu_backward
from .prelu import prelu, prelu_backward
from .softmax import log_softmax, log_softmax_backward, softmax, softmax_backward

identity = FORWARD["identity"]
binary_step = FORWARD["binary_step"]
sigmoid = FORWARD["sigmoid"]
tanh = FORWARD["tanh"]
relu = FORWARD["relu"]
relu6 = FORWARD["relu6"]
leaky_relu = FORWARD["leaky_relu"]
elu = FORWARD["elu"]
celu = FORWARD["celu"]
selu = FORWARD["selu"]
gelu = FORWARD["gelu"]
silu = FORWARD["silu"]
swish = FORWARD["swish"]
mish = FORWARD["mish"]
softplus = FORWARD["softplus"]
softsign = FORWARD["softsign"]
hardsigmoid = FORWARD["hardsigmoid"]
hardswish = FORWARD["hardswish"]
logsigmoid = FORWARD["logsigmoid"]

identity_backward = BACKWARD["identity"]
binary_step_backward = BACKWARD["binary_step"]
sigmoid_backward = BACKWARD["sigmoid"]
tanh_backward = BACKWARD["tanh"]
relu_backward = BACKWARD["relu"]
relu6_backward = BACKWARD["relu6"]
leaky_relu_backward = BACKWARD["leaky_relu"]
elu_backward = BACKWARD["elu"]
celu_backward = BACKWARD["celu"]
selu_backward = BACKWARD["selu"]
gelu_backward = BACKWARD["gelu"]
silu_backward = BACKWARD["silu"]
swish_backward = BACKWARD["swish"]
mish_backward = BACKWARD["mish"]
softplus_backward = BACKWARD["softplus"]
softsign_backward = BACKWARD["softsign"]
hardsigmoid_backward = BACKWARD["hardsigmoid"]
hardswish_backward = BACKWARD["hardswish"]
logsigmoid_backward = BACKWARD["logsigmoid"]


def forward(name: str, x, **params):
    """Apply activation `name` (one of ACTIVATIONS) to x; prelu takes `weight`."""
    if name == "prelu":
        return prelu(x, **params)
    return run_forward(name, x, **params)


def backward(name: str, grad, x, **params):
    """Gradient of activation `name` w.r.t. x given grad w.r.t. its output; prelu returns (dx, dweight)."""
    if name == "prelu":
        return prelu_backward(grad, x, **params)
    return run_backward(name, grad, x, **params)


__all__ = ["ACTIVATIONS", "__version__", "backward", "bias_act", "bias_act_backward", "forward", "geglu",
           "geglu_backward", "glu", "glu_backward", "log_softmax", "log_softmax_backward", "prelu",
           "prelu_backward", "reference", "softmax", "softmax_backward", "swiglu", "swiglu_backward",
           *FORWARD, *(f"{n}_backward" for n in FORWARD)]
