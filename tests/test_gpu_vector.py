"""The GPU kernels' 4-element vector access (fastact.gpu_vector), compiled for the CPU: the same LLVM IR (a
<4 x item> load or store) as on the GPU, so element order and offsets are checked without one."""
import numpy as np
import pytest
from numba import njit, uint64

from fastact import gpu_vector

load4, store4 = gpu_vector.intrinsics("cpu")


@njit
def _reverse_quads(x, y):
    """y's 4-element vector v holds x's vector nv - 1 - v, its items in reverse."""
    nv = uint64(x.size // 4)
    for v in range(x.size // 4):
        a, b, c, d = load4(x, uint64(v))
        store4(y, nv - uint64(1) - uint64(v), d, c, b, a)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.float64])  # uint16: float16's items (the CPU has no float16)
def test_load4_store4_compiled(dtype):
    x = np.arange(4 * 37, dtype=dtype)
    y = np.zeros(4 * 37 + 1, dtype)  # one more: nothing past the last vector is written
    _reverse_quads(x, y[:-1])
    assert np.array_equal(y[:-1], x[::-1]) and y[-1] == 0


@pytest.mark.parametrize("itemsize,address,ok", [(4, 4096, True), (4, 4100, False), (2, 8, True), (2, 4, False),
                                                 (8, 16, True), (8, 24, False)])
def test_alignment(itemsize, address, ok):
    assert gpu_vector.aligned(address, itemsize) is ok


def test_plain_python_versions():
    a = np.arange(8.0)
    assert gpu_vector.load4(a, np.uint64(1)) == (4.0, 5.0, 6.0, 7.0)
    gpu_vector.store4(a, 0, 9.0, 8.0, 7.0, 6.0)
    assert a[:4].tolist() == [9.0, 8.0, 7.0, 6.0]
