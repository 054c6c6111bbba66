import numpy as np
import pytest

import fastact
from fastact import reference


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,wsize", [((10,), 1), ((4, 3), 3), ((2, 5, 7, 3), 5), ((2, 5, 7), 1), ((3, 0, 2), 1),
                                         ((2, 3, 0), 3),
                                         # past the parallel threshold: channels along rows, and across each row
                                         ((4, 6, 2000), 6), ((300, 200), 200), ((3000, 20), 1),
                                         # few channels: rows viewed k at a time, with rows left over
                                         ((40001, 3), 3), ((50000,), 1), ((33000, 1), 1), ((7, 5), 5),
                                         ((3, 20000), 20000)])  # wider than a column tile
def test_prelu_against_reference(shape, wsize, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[7::101] = np.nan  # NaN propagates to y, dx and its channel's dweight
    w = rng.uniform(0.01, 0.5, wsize).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    y = fastact.prelu(x, w)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, reference.prelu(x, w), rtol=np.finfo(dtype).eps)
    dx, dw = fastact.prelu_backward(g, x, w)
    rdx, rdw = reference.prelu_backward(g, x, w)
    assert dx.dtype == dtype and dw.shape == w.shape
    np.testing.assert_allclose(dx, rdx, rtol=np.finfo(dtype).eps)
    np.testing.assert_allclose(dw, rdw, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-12)


def test_prelu_dweight_finite_difference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 4, 5))
    w = rng.uniform(0.1, 0.3, 4)
    g = rng.standard_normal(x.shape)
    _, dw = fastact.prelu_backward(g, x, w)
    for c in range(4):
        e = np.zeros(4)
        e[c] = 1e-6
        fd = (np.sum(g * fastact.prelu(x, w + e)) - np.sum(g * fastact.prelu(x, w - e))) / 2e-6
        assert abs(fd - dw[c]) < 1e-6 * max(1, abs(fd))


def test_prelu_dweight_is_thread_count_independent():
    import numba

    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 8, 999)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w = np.full(8, 0.25, np.float32)
    numba.set_num_threads(1)
    a = fastact.prelu_backward(g, x, w)[1]
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    b = fastact.prelu_backward(g, x, w)[1]
    np.testing.assert_array_equal(a, b)


def test_prelu_errors():
    with pytest.raises(ValueError, match="weight"):
        fastact.prelu(np.ones((2, 3)), np.ones(2))
    with pytest.raises(TypeError, match="weight"):
        fastact.prelu(np.ones((2, 3)), np.array(["a"]))
    with pytest.raises(ValueError, match="out"):
        fastact.prelu(np.ones((2, 3)), [0.1], out=np.empty(3))


@pytest.mark.parametrize("shape,wsize", [((4, 6, 2000), 6), ((300, 200), 200), ((40001, 3), 3)])
def test_prelu_serial_and_parallel_agree_bit_for_bit(shape, wsize, monkeypatch):
    """Below the parallel threshold the serial kernels run; they sum dweight over the same fixed partition."""
    from fastact import _arrays

    rng = np.random.default_rng(3)
    x, g = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)
    w = np.full(wsize, 0.25, np.float32)
    monkeypatch.setattr(_arrays, "PARALLEL_THRESHOLD", 0)
    par = fastact.prelu(x, w), *fastact.prelu_backward(g, x, w)
    monkeypatch.setattr(_arrays, "PARALLEL_THRESHOLD", 1 << 62)
    ser = fastact.prelu(x, w), *fastact.prelu_backward(g, x, w)
    for a, b in zip(par, ser):
        np.testing.assert_array_equal(a, b)
