"""The public contract: names, signatures, dtype rules, shapes, out=, in-place, errors, docstrings."""
import inspect

import numpy as np
import pytest

import fastact
from fastact import reference

ELEMENTWISE = [n for n in fastact.ACTIVATIONS if n != "prelu"]
EXPECTED = ("identity", "binary_step", "sigmoid", "tanh", "relu", "relu6", "leaky_relu", "elu", "celu", "selu",
            "gelu", "silu", "swish", "mish", "softplus", "softsign", "hardsigmoid", "hardswish", "logsigmoid",
            "prelu")


def test_every_name_exists_with_docstring():
    assert set(fastact.ACTIVATIONS) == set(EXPECTED)
    for n in EXPECTED:
        for fn in (getattr(fastact, n), getattr(fastact, n + "_backward"), getattr(reference, n),
                   getattr(reference, n + "_backward")):
            assert callable(fn)
        doc = getattr(fastact, n).__doc__
        assert doc and ("=" in doc) and len(doc) > 40


def test_signatures_are_keyword_only():
    sig = inspect.signature(fastact.elu)
    assert list(sig.parameters) == ["x", "out", "device", "alpha"]
    assert sig.parameters["alpha"].default == 1.0
    assert sig.parameters["out"].kind is inspect.Parameter.KEYWORD_ONLY
    assert list(inspect.signature(fastact.gelu_backward).parameters) == ["grad", "x", "out", "device", "approximate"]


def test_forward_backward_by_name():
    x = np.linspace(-3, 3, 11)
    np.testing.assert_array_equal(fastact.forward("elu", x, alpha=2.0), fastact.elu(x, alpha=2.0))
    np.testing.assert_array_equal(fastact.backward("silu", x, x), fastact.silu_backward(x, x))
    dx, dw = fastact.backward("prelu", x, x, weight=[0.1])
    assert dx.shape == x.shape and dw.shape == (1,)
    with pytest.raises(ValueError, match="unknown activation"):
        fastact.forward("nope", x)


@pytest.mark.parametrize("dtype,expected", [(np.float32, np.float32), (np.float64, np.float64),
                                            (np.float16, np.float16), (np.int32, np.float64),
                                            (np.int64, np.float64), (np.uint8, np.float64), (np.bool_, np.float64)])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_dtype_rules(name, dtype, expected):
    x = (np.arange(-4, 5) % 3).astype(dtype)
    y = getattr(fastact, name)(x)
    assert y.dtype == expected
    assert getattr(fastact, name + "_backward")(np.ones_like(x), x).dtype == expected
    np.testing.assert_allclose(y, getattr(reference, name)(x.astype(np.float64)), rtol=2e-3 if dtype == np.float16
                               else 1e-6, atol=1e-3 if dtype == np.float16 else 0)


@pytest.mark.parametrize("bad", [np.array([1 + 2j]), np.array(["a"]), np.array([object()], dtype=object),
                                 np.array([1.0], dtype=np.longdouble)])
def test_bad_dtype_is_type_error(bad):
    with pytest.raises(TypeError, match="x"):
        fastact.sigmoid(bad)


def test_bad_grad_and_param_errors():
    x = np.ones(4)
    with pytest.raises(ValueError, match="grad"):
        fastact.relu_backward(np.ones(3), x)
    with pytest.raises(TypeError, match="grad"):
        fastact.relu_backward(np.array(["a"] * 4), x)
    with pytest.raises(TypeError, match="alpha"):
        fastact.elu(x, alpha="big")
    with pytest.raises(ValueError, match="alpha"):
        fastact.celu(x, alpha=0.0)
    with pytest.raises(ValueError, match="approximate"):
        fastact.gelu(x, approximate="sigmoid")
    with pytest.raises(TypeError, match="unexpected keyword"):
        fastact.relu(x, alpha=1.0)
    with pytest.raises(ValueError, match="device"):
        fastact.relu(x, device="tpu")
    with pytest.raises(RuntimeError, match="cuda"):
        fastact.relu(x, device="cuda")


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (5,), (2, 3, 4)])
def test_shapes(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = fastact.gelu(x)
    assert y.shape == shape and y.dtype == np.float32
    np.testing.assert_allclose(y, reference.gelu(x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("view", ["transpose", "negative", "strided", "fortran"])
def test_non_contiguous_inputs(view, path):
    base = np.random.default_rng(1).standard_normal((64, 48)).astype(np.float32)
    x = {"transpose": base.T, "negative": base[::-1, ::-2], "strided": base[::3, 1::2],
         "fortran": np.asfortranarray(base)}[view]
    g = np.ones_like(x)
    np.testing.assert_allclose(fastact.silu(x), reference.silu(x), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(fastact.silu_backward(g, x), reference.silu_backward(g, x), rtol=1e-5, atol=1e-6)
    out = np.empty(x.shape, np.float32)
    assert fastact.silu(x, out=out) is out
    np.testing.assert_allclose(out, reference.silu(x), rtol=1e-6, atol=1e-30)


def test_out_and_in_place(path):
    x = np.random.default_rng(2).standard_normal(1000).astype(np.float32)
    keep = x.copy()
    out = np.empty_like(x)
    r = fastact.tanh(x, out=out)
    assert r is out
    np.testing.assert_array_equal(x, keep)  # input untouched
    y = x.copy()
    assert fastact.tanh(y, out=y) is y  # in place
    np.testing.assert_array_equal(y, out)
    g = np.ones_like(x)
    assert fastact.tanh_backward(g, x, out=g) is g
    np.testing.assert_allclose(g, reference.tanh_backward(np.ones_like(x), x), rtol=1e-6)
    # an out that overlaps x shifted by one element must not corrupt the result
    z = np.random.default_rng(3).standard_normal(101).astype(np.float32)
    expect = fastact.sigmoid(z[1:])
    fastact.sigmoid(z[1:], out=z[:-1])
    np.testing.assert_array_equal(z[:-1], expect)


def test_out_errors():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="out"):
        fastact.relu(x, out=np.empty((4, 3), np.float32))
    with pytest.raises(TypeError, match="out"):
        fastact.relu(x, out=np.empty((3, 4), np.float64))
    with pytest.raises(TypeError, match="out"):
        fastact.relu(x, out=[[0.0] * 4] * 3)
    ro = np.empty((3, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        fastact.relu(x, out=ro)


def test_lists_and_array_protocol():
    class Protocol:
        def __array__(self, dtype=None, copy=None):
            return np.array([-1.0, 0.0, 2.0], dtype=np.float32)

    np.testing.assert_array_equal(fastact.relu([-1.0, 0.0, 2.0]), [0.0, 0.0, 2.0])
    y = fastact.relu(Protocol())
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [0.0, 0.0, 2.0])


def test_torch_cpu_tensor_if_installed():
    torch = pytest.importorskip("torch")
    t = torch.linspace(-3, 3, 101)
    np.testing.assert_array_equal(fastact.gelu(t), fastact.gelu(t.numpy()))
    # PyTorch's float32 GELU computes 1 + erf(x/√2), which cancels in the left tail (4e-5 relative at x = -3,
    # where fastact is within 4 ULP of the float64 value): hence the absolute tolerance.
    np.testing.assert_allclose(fastact.gelu(t), torch.nn.functional.gelu(t).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fastact.gelu(t, approximate="tanh"),
                               torch.nn.functional.gelu(t, approximate="tanh").numpy(), rtol=1e-5, atol=1e-6)


def test_kink_conventions_follow_torch():
    z = np.zeros(1)
    assert fastact.relu_backward(np.ones(1), z)[0] == 0.0
    assert fastact.relu6_backward(np.ones(1), np.array([6.0]))[0] == 0.0
    assert fastact.leaky_relu_backward(np.ones(1), z, negative_slope=0.2)[0] == 0.2
    assert fastact.elu_backward(np.ones(1), z, alpha=2.0)[0] == 2.0
    assert fastact.hardswish_backward(np.ones(1), np.array([3.0]))[0] == 1.5
    assert fastact.hardswish_backward(np.ones(1), np.array([-3.0]))[0] == -0.5
    assert fastact.hardsigmoid_backward(np.ones(1), np.array([3.0]))[0] == 0.0
    assert fastact.binary_step(z)[0] == 0.0 and fastact.binary_step(np.ones(1))[0] == 1.0


def test_serial_and_parallel_agree_bitwise():
    import fastact._arrays as arrays

    x = np.random.default_rng(4).standard_normal(100_000).astype(np.float32)
    old = arrays.PARALLEL_THRESHOLD
    try:
        arrays.PARALLEL_THRESHOLD = 1 << 62
        a = fastact.mish(x)
        arrays.PARALLEL_THRESHOLD = 0
        b = fastact.mish(x)
    finally:
        arrays.PARALLEL_THRESHOLD = old
    np.testing.assert_array_equal(a, b)


def test_device_arrays_are_recognised_by_type_and_instance():
    """NumPy and host objects are not GPU arrays; an object with the interface on the instance is."""
    from fastact._arrays import is_device_array

    class OnInstance:
        pass

    o = OnInstance()
    assert not is_device_array(np.zeros(3)) and not is_device_array([1.0]) and not is_device_array(o)
    o.__cuda_array_interface__ = {"shape": (1,), "typestr": "<f4", "data": (0, False), "version": 3}
    assert is_device_array(o)


def test_a_torch_cpu_tensor_is_not_a_device_array():
    """torch.Tensor has __cuda_array_interface__ on its class (raising for CPU tensors): the tensor is asked."""
    from fastact._arrays import is_device_array

    torch = pytest.importorskip("torch")
    assert not is_device_array(torch.zeros(3))


def test_gpu_kernel_arguments_are_packed_as_numba_does():
    """A 1-D array argument is (meminfo, parent, size, itemsize, pointer, shape, stride); a wrong item size is a
    TypeError rather than a kernel reading the wrong bytes."""
    pytest.importorskip("numba.cuda")
    from numba import types

    from fastact import gpu

    pack, out = gpu._packer(types.float32[::1]), []
    pack(gpu.Flat(4096, 10, 4), out)
    assert out == [0, 0, 10, 4, 4096, 10, 4]
    with pytest.raises(TypeError, match="8-byte"):
        pack(gpu.Flat(4096, 10, 8), [])
    scalars = []
    gpu._packer(types.float32)(0.5, scalars)
    gpu._packer(types.int64)(7, scalars)
    gpu._packer(types.boolean)(1, scalars)
    import ctypes

    assert isinstance(scalars[0], ctypes.c_float) and scalars[0].value == 0.5
    assert isinstance(scalars[1], ctypes.c_int64) and scalars[1].value == 7
    assert scalars[2] is True
