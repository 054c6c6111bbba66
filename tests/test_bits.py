"""fastact._bits: the row reductions of the short-row softmax and the prefetch hint, against NumPy."""
import numpy as np
import pytest
from numba import njit

from fastact._bits import prefetch, row_dot, row_fill, row_max_fill, row_sum


def _rows(n):
    @njit
    def run(x, y, scale):
        rows = x.size // n
        mx = np.empty_like(x)
        sums, dots = np.empty(rows), np.empty(rows)
        filled = np.empty_like(x)
        for r in range(rows):
            row_max_fill(x, mx, r * n, n, scale)
            sums[r] = row_sum(x, r * n, n)
            dots[r] = row_dot(x, y, r * n, n)
            row_fill(filled, r * n, n, x[r * n])
        return mx, sums, dots, filled

    return run


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 5, 8, 12, 16])  # powers of two take the butterfly, the others a reduction
def test_row_reductions_match_numpy(n, dtype):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(40 * n) * 100).astype(dtype)
    y = rng.standard_normal(40 * n).astype(dtype)
    x[3 * n] = -np.inf
    x[5 * n:6 * n] = -np.inf
    x[7 * n + n // 2] = np.inf
    x[9 * n] = -0.0
    scale = dtype(0.5)
    mx, sums, dots, filled = _rows(n)(x, y, scale)
    rows = x.reshape(-1, n)
    want_max = np.repeat((rows * scale).max(axis=1), n)
    np.testing.assert_array_equal(mx, want_max)
    with np.errstate(invalid="ignore"):
        want_sum = rows.astype(np.float64).sum(axis=1)
    np.testing.assert_allclose(sums, want_sum, rtol=1e-15, atol=1e-12)
    dot_rows = (x.astype(np.float64) * y).reshape(-1, n)
    with np.errstate(invalid="ignore"):
        want_dot = dot_rows.sum(axis=1)
    np.testing.assert_allclose(dots, want_dot, rtol=1e-13, atol=1e-10)
    np.testing.assert_array_equal(filled, np.repeat(rows[:, 0], n))


def test_row_max_orders_nan_by_its_sign_bit():
    """A NaN with the sign bit clear is above +inf (it wins the max), one with it set is below -inf (it loses):
    softmax relies on the NaN reaching the row's sum either way."""
    x = np.float32([1.0, np.nan, 3.0, -2.0, 1.0, np.copysign(np.nan, -1.0), 3.0, -2.0])
    mx, _, _, _ = _rows(4)(x, x, np.float32(1.0))
    assert np.isnan(mx[:4]).all()
    np.testing.assert_array_equal(mx[4:], np.float32([3.0] * 4))


def test_prefetch_is_only_a_hint():
    @njit
    def run(x):
        s = 0.0
        for i in range(x.size):
            prefetch(x, i + 4096, False)  # past the end: harmless
            prefetch(x, i, True)
            s += x[i]
        return s

    x = np.arange(1000, dtype=np.float32)
    assert run(x) == x.sum()
