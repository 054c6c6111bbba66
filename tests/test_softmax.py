import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastact
from fastact import reference

FUNCS = [(fastact.softmax, fastact.softmax_backward, reference.softmax, reference.softmax_backward),
         (fastact.log_softmax, fastact.log_softmax_backward, reference.log_softmax, reference.log_softmax_backward)]
IDS = ["softmax", "log_softmax"]


def _close(got, want, dtype, scale=1.0):
    """Relative 8 eps, absolute 8 eps times `scale` (the size of the terms a backward subtracts)."""
    rtol = 8 * np.finfo(dtype).eps
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", [((5, 7), -1), ((4, 3, 1000), -1), ((6, 5, 4), 0), ((6, 5, 4), 1),
                                        ((1, 1), -1), ((0, 5), -1), ((3, 1), -1), ((9,), 0),
                                        # few long rows (split in chunks); axis not last (blocks of columns)
                                        ((3, 40000), -1), ((2, 3, 70), 1), ((50, 130), 0), ((50, 40), -1),
                                        # axis not last, few columns after it (forward: slices transposed,
                                        # or rows folded into vectors: fastact._softmax_strided)
                                        ((3, 100, 8), 1), ((2, 3, 70, 5), 2), ((130, 16), 0), ((40, 32, 3), 1),
                                        # strided, whole slices per task
                                        ((5, 40, 100), 1),
                                        # past the parallel threshold: rows (one just past FIXED_ROW, one
                                        # long enough to prefetch a row ahead), fixed-length rows
                                        ((40, 1000), -1), ((700, 65), -1), ((33, 1030), -1), ((1000, 40), -1),
                                        ((5000, 8), -1)])
@pytest.mark.parametrize("fns", FUNCS, ids=IDS)
def test_against_reference(fns, shape, axis, dtype):
    f, b, rf, rb = fns
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    y = f(x, axis=axis)
    assert y.dtype == dtype and y.shape == shape
    _close(y, rf(x, axis=axis), dtype)
    dx = b(g, y, axis=axis)
    assert dx.dtype == dtype
    terms = 1.0 + (np.abs(np.sum(g.astype(np.float64), axis=axis)).max() if g.size else 0.0)
    _close(dx, rb(g, y.astype(np.float64), axis=axis), dtype, scale=terms)


@pytest.mark.parametrize("fns", FUNCS, ids=IDS)
def test_stable_for_huge_values_scale_and_mask(fns):
    f, _, rf, _ = fns
    x = np.array([[1e30, -1e30, 0.0], [-1e30, -1e30 + 1e24, -1e30], [1.0, 2.0, 3.0]], np.float64)
    _close(f(x), rf(x), np.float64)
    _close(f(x, scale=0.125), rf(x, scale=0.125), np.float64)
    mask = np.array([[True, False, True], [False, False, False], [True, True, False]])
    y = f(x, mask=mask)
    _close(y, rf(x, mask=mask), np.float64)
    fill = -np.inf if f is fastact.log_softmax else 0.0
    assert np.all(y[1] == fill)  # fully masked row
    col_mask = np.array([True, False, True])  # broadcast
    _close(f(x, mask=col_mask), rf(x, mask=col_mask), np.float64)


def test_special_rows_follow_torch():
    x = np.array([[-np.inf, -np.inf], [np.inf, 0.0], [np.nan, 0.0]])
    assert np.isnan(fastact.softmax(x)).all()
    assert np.isnan(fastact.log_softmax(x)).all()


@pytest.mark.parametrize("n", [8, 40, 64])  # fixed-length kernels: power of two or not, the longest
def test_special_rows_among_short_rows(n):
    x = np.random.default_rng(3).standard_normal((300, n)).astype(np.float32)
    x[5] = -np.inf
    x[7, 3] = np.nan
    x[9, 1] = np.inf
    x[11, 2] = -np.inf  # one -inf in a row: probability 0, the row stays finite
    x[13, 4] = np.copysign(np.nan, -1.0)  # a NaN with the sign bit set: below -inf in the max's order
    for f, rf in ((fastact.softmax, reference.softmax), (fastact.log_softmax, reference.log_softmax)):
        y = f(x)
        assert np.isnan(y[[5, 7, 9, 13]]).all()
        ok = np.setdiff1d(np.arange(300), [5, 7, 9, 13])
        with np.errstate(all="ignore"):
            _close(y[ok], rf(x[ok]), np.float32)
    assert fastact.softmax(x)[11, 2] == 0.0


@pytest.mark.parametrize("n", [300, 1030])  # prefetching two rows ahead, one row ahead
@pytest.mark.parametrize("in_place", [False, True])
def test_special_rows_among_rows(n, in_place):
    """Rows layout: special rows first, last, at the ends of each task's block (15 rows of 1,030, 54 of 300) and
    next to each other leave their neighbours right, in place too."""
    rows = 160
    x = np.random.default_rng(4).standard_normal((rows, n)).astype(np.float32) * 4
    special = {0: -np.inf, 15: np.nan, 16: np.inf, 53: np.nan, 54: -np.inf, 55: np.inf, rows - 1: np.nan}
    for r, v in special.items():
        x[r] = v if v == -np.inf else x[r]
        x[r, n // 2] = v
    ok = np.setdiff1d(np.arange(rows), list(special))
    for f, rf in ((fastact.softmax, reference.softmax), (fastact.log_softmax, reference.log_softmax)):
        xin = x.copy()
        y = f(xin, out=xin if in_place else None)
        assert np.isnan(y[list(special)]).all()
        _close(y[ok], rf(x[ok]), np.float32)


def test_special_rows_in_chunked_long_rows():
    """Rows long enough to be cut in chunks: -inf/NaN/+inf in one chunk only, and a whole chunk of -inf."""
    n = 3 * 16384 + 5
    x = np.random.default_rng(1).standard_normal((6, n))
    x[0] = -np.inf
    x[1, 20000] = np.nan
    x[2, 40000] = np.inf
    x[3, :16384] = -np.inf  # first chunk empty: contributes nothing
    x[4, 100] = 700.0  # dominates the row; other chunks underflow to 0
    x[5, 16384:32768] = np.copysign(np.nan, -1.0)  # a chunk of NaNs whose max is -inf in the max's order
    for f, rf in ((fastact.softmax, reference.softmax), (fastact.log_softmax, reference.log_softmax)):
        y = f(x)
        assert np.isnan(y[[0, 1, 2, 5]]).all()
        with np.errstate(all="ignore"):
            _close(y[3:5], rf(x[3:5]), np.float64)
    assert fastact.softmax(x)[4, 100] == 1.0


def test_chunked_long_rows_take_max_and_sum_online():
    """A chunk's max and sum are taken block by block (STATS_BLOCK): a max that grows from block to block
    rescales the sum so far, and blocks of -inf (or NaNs below -inf in the max's order) ahead of finite ones."""
    from fastact._softmax_kernels import SPLIT_CHUNK, STATS_BLOCK

    n = 2 * SPLIT_CHUNK + 3
    x = np.random.default_rng(4).standard_normal((3, n))
    x[0] = np.linspace(-300.0, 300.0, n)  # a new max in every block
    x[1, SPLIT_CHUNK:SPLIT_CHUNK + 2 * STATS_BLOCK] = -np.inf  # the second chunk starts with two empty blocks
    x[2, :STATS_BLOCK + 7] = -np.inf
    x[2, 5] = np.copysign(np.nan, -1.0)  # in a block whose max is -inf: the row is NaN all the same
    for f, rf in ((fastact.softmax, reference.softmax), (fastact.log_softmax, reference.log_softmax)):
        y = f(x)
        assert np.isnan(y[2]).all()
        with np.errstate(all="ignore"):
            _close(y[:2], rf(x[:2]), np.float64)
            _close(f(x[:2].astype(np.float32)), rf(x[:2].astype(np.float32)), np.float32)


def test_chunked_long_rows_in_groups_whatever_the_threads():
    """The split layout takes rows in groups of about SPLIT_GROUP elements (here 3 rows, then 1), each thread a
    fixed share of a group's chunks: the result is the reference's, bit-identical for any number of shares."""
    from fastact import _softmax_kernels as K

    n = K.SPLIT_GROUP // 3
    x = (np.random.default_rng(5).standard_normal((4, n)) * 4).astype(np.float32)
    x[3, 7] = 60.0
    for log, rf in ((False, reference.softmax), (True, reference.log_softmax)):
        y = np.empty_like(x)
        K.forward_split(x.reshape(-1), y.reshape(-1), n, np.float32(1.0), log, 2)
        _close(y, rf(x), np.float32)
        for threads in (1, 3):
            other = np.empty_like(x)
            K.forward_split(x.reshape(-1), other.reshape(-1), n, np.float32(1.0), log, threads)
            np.testing.assert_array_equal(other, y)


def test_forward_splits_rows_too_long_for_the_caches():
    """Many rows of SPLIT_ROW_BYTES or more take the split layout in the forward (the backward keeps rows)."""
    import numba

    from fastact import _softmax_kernels as K
    from fastact.softmax import _use_split, _use_split_forward

    rows = 4 * numba.get_num_threads()  # enough rows that their number alone does not ask for the split layout
    assert not _use_split(rows, K.SPLIT_ROW_BYTES // 4)
    assert _use_split_forward(rows, K.SPLIT_ROW_BYTES // 4, 4)
    assert _use_split_forward(rows, K.SPLIT_ROW_BYTES // 8, 8)
    assert not _use_split_forward(rows, K.SPLIT_ROW_BYTES // 8, 4)
    assert not _use_split_forward(rows, K.SPLIT_CHUNK, 256)  # too short to cut in chunks

def test_strided_blocks_cut_slices_only_for_enough_tasks():
    import numba

    from fastact.softmax import _block

    threads = numba.get_num_threads()
    assert _block(2 * threads, 1000) == 1024  # enough slices: each task takes a whole one (in multiples of 64)
    assert _block(2 * threads, 100000) == 8192  # up to 8,192 columns
    assert _block(1, 64 * 2 * threads) == 64  # one slice: cut in two blocks per thread

def test_transposed_slices_keep_special_columns():
    """A softmax over a non-last axis with few columns after it transposes each slice: -inf, NaN and +inf still
    act on their own column only."""
    from fastact import _softmax_kernels as K
    from fastact.softmax import _use_transposed

    assert _use_transposed(100, 8) and _use_transposed(2, K.TRANSPOSE_INNER)
    assert not _use_transposed(100, K.TRANSPOSE_INNER + 1)
    assert not _use_transposed(K.TRANSPOSE_SLICE // 8 + 1, 8)  # slices too big for the cache
    for n in (100, 12):  # through the rows kernel, through a fixed-length one
        x = np.random.default_rng(6).standard_normal((3, n, 4)).astype(np.float32)
        x[0, :, 1] = -np.inf
        x[1, 7, 2] = np.nan
        x[2, 9, 3] = np.inf
        x[2, 10, 0] = 80.0
        for f, rf in ((fastact.softmax, reference.softmax), (fastact.log_softmax, reference.log_softmax)):
            y = f(x, axis=1)
            assert np.isnan(y[0, :, 1]).all() and np.isnan(y[1, :, 2]).all() and np.isnan(y[2, :, 3]).all()
            ok = np.ones(x.shape, bool)
            ok[0, :, 1] = ok[1, :, 2] = ok[2, :, 3] = False
            _close(y[ok], rf(x, axis=1)[ok], np.float32)

@pytest.mark.parametrize("shape", [(64, 40, 20),  # units that stay in cache (forward in three passes)
                                   (64, 2000, 20),  # whole units, online statistics
                                   (1, 270000, 4),  # long columns cut into parts (merged statistics)
                                   (3, 9000, 130)])  # rows folded two to a vector, parts
def test_strided_lanes_keep_special_columns(shape):
    """fastact._softmax_strided: -inf, NaN and +inf act on their own column only, also where a column's parts
    (or lanes) hold -inf only and others hold finite values."""
    import numba

    from fastact import _softmax_strided as S
    from fastact.softmax import _use_lanes

    outer, n, inner = shape
    assert _use_lanes(outer, n, inner, True)
    w, k, rp = S.plan(outer, n, inner, numba.get_num_threads())
    assert (rp < n) == (n * w > S.PART)  # the whole-unit shapes take one part whatever the thread count
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    x[0, :, 1] = -np.inf
    x[0, n // 2, 2] = np.nan
    x[0, n - 1, 3] = np.inf
    x[-1, : n // 2 + 3, 0] = -np.inf  # -inf in the first lanes / parts, finite after
    x[-1, 5, 2] = np.copysign(np.nan, -1.0)
    x[-1, n // 3, 3] = 80.0
    bad = np.zeros(shape, bool)
    bad[0, :, 1:4] = True
    bad[-1, :, 2] = True
    g = np.random.default_rng(8).standard_normal(shape).astype(np.float32)
    for f, b, rf, rb in FUNCS:
        y = f(x, axis=1)
        assert np.isnan(y[bad]).all()
        _close(y[~bad], rf(x, axis=1)[~bad], np.float32)
        ok = ~bad.any(axis=1, keepdims=True) & np.ones(shape, bool)
        yf = np.where(ok, y, 0.0 if f is fastact.softmax else -1.0).astype(np.float32)
        dx = b(g, yf, axis=1)
        terms = 1.0 + np.abs(np.sum(g.astype(np.float64), axis=1)).max()
        _close(dx[ok], rb(g, yf.astype(np.float64), axis=1)[ok], np.float32, scale=terms)


@pytest.mark.parametrize("axis", [-1, 0])
def test_out_is_written_in_place(axis):
    x = np.random.default_rng(2).standard_normal((64, 40)).astype(np.float32)
    want = reference.softmax(x, axis=axis)
    out = np.empty_like(x)
    assert fastact.softmax(x, axis=axis, out=out) is out
    _close(out, want, np.float32)
    assert fastact.softmax(x, axis=axis, out=x) is x  # in place
    _close(x, want, np.float32)


def test_backward_matches_finite_difference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6))
    g = rng.standard_normal((3, 6))
    for f, b in [(fastact.softmax, fastact.softmax_backward), (fastact.log_softmax, fastact.log_softmax_backward)]:
        dx = b(g, f(x))
        fd = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[i] = 1e-6
            fd[i] = (np.sum(g * f(x + e)) - np.sum(g * f(x - e))) / 2e-6
        np.testing.assert_allclose(dx, fd, rtol=1e-6, atol=1e-8)


def test_out_float16_and_errors():
    x = np.random.default_rng(2).standard_normal((4, 8)).astype(np.float32)
    out = np.empty_like(x)
    assert fastact.softmax(x, out=out) is out
    _close(out, reference.softmax(x), np.float32)
    h = fastact.softmax(x.astype(np.float16))
    assert h.dtype == np.float16
    with pytest.raises(ValueError, match="axis"):
        fastact.softmax(x, axis=2)
    with pytest.raises(TypeError, match="mask"):
        fastact.softmax(x, mask=np.ones((4, 8)))
    with pytest.raises(ValueError, match="mask"):
        fastact.softmax(x, mask=np.ones((3, 8), bool))
    with pytest.raises(ValueError, match="out"):
        fastact.softmax(x, out=np.empty((8, 4), np.float32))
    with pytest.raises(ValueError, match="grad"):
        fastact.softmax_backward(np.ones((4, 7)), x)


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                    elements=st.floats(-50, 50)), data=st.data())
def test_random_shapes_and_axes(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    for f, _, rf, _ in FUNCS:
        _close(f(x, axis=axis), rf(x, axis=axis), np.float64)


def test_fixed_length_kernels_are_loaded_once():
    """Rows of up to FIXED_ROW elements get kernels generated for their length; a call must not rebuild them
    (it cost 200 µs a call)."""
    from fastact import _softmax_kernels as K

    assert K.fixed_row_kernels(8) is K.fixed_row_kernels(8)
