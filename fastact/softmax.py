"""Row-wise, numerically stable softmax and log-softmax, forward and backward (CPU, multi-threaded over rows)."""
from __future__ import annotations

import math

import numba
import numpy as np

from . import _arrays as A
from . import _softmax_kernels as K
from . import _softmax_strided as S


def _axis(axis, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an integer, got {type(axis).__name__}")
    nd = max(ndim, 1)
    if not -nd <= axis < nd:
        raise ValueError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return int(axis) % nd


def _split(shape, ax) -> tuple[int, int, int]:
    """(outer, n, inner): the sizes before, along and after the softmax axis."""
    return math.prod(shape[:ax]), shape[ax], math.prod(shape[ax + 1:])


def _use_split(rows: int, n: int) -> bool:
    """Few long rows: cut each row in chunks so that every thread has work."""
    return n >= 2 * K.SPLIT_CHUNK and rows < 4 * numba.get_num_threads()


def _use_split_forward(rows: int, n: int, itemsize: int) -> bool:
    """The forward also splits rows of SPLIT_ROW_BYTES or more, however many: in the rows layout such a row
    leaves the caches between its passes."""
    return _use_split(rows, n) or (n >= 2 * K.SPLIT_CHUNK and n * itemsize >= K.SPLIT_ROW_BYTES)


def _use_transposed(n: int, inner: int) -> bool:
    """A forward over a non-last axis with few columns after it and slices that fit in cache: transpose each."""
    return inner <= K.TRANSPOSE_INNER and n >= 2 and n * inner <= K.TRANSPOSE_SLICE


def _use_lanes(outer: int, n: int, inner: int, forward: bool) -> bool:
    """A non-last axis through fastact._softmax_strided: the forward where rows fold into vectors (few columns)
    or columns are cut into parts (few slices, each long); the backward where columns are cut into parts and the
    column-block kernel would take rows of a few elements, or cut its rows (their strided pieces stream slowly).
    Elsewhere the column-block kernels measured as fast or faster (one exponential a term in the forward, less
    per-slice work in the backward). Measured through fastact.softmax, forward / backward, × copy bandwidth,
    before / after: 32,768 × 1,024 axis 0 0.15-0.17 / 0.33-0.34 against 0.23-0.27 / 0.44-0.58; 8 × 2^20 × 4
    axis 1 0.05 / 0.24-0.30 against 0.23-0.27 / 0.39-0.52; 64 × 32,768 × 16 axis 1, forward 0.19-0.20 against
    0.24-0.38; 2 × 2^20 × 16 axis 1, backward 0.57-0.58 against 0.39-0.49 (so it keeps the column blocks)."""
    w, k, rp = S.plan(outer, n, inner, numba.get_num_threads())
    if forward:
        return rp < n or k > 1
    return rp < n and (inner <= 8 or _block(outer, inner) < inner)


def _strided(a, b, buf, outer, n, inner, scale, log, backward):
    threads = numba.get_num_threads()
    geometry = (n, inner) + S.plan(outer, n, inner, threads)
    S.strided(a.reshape(-1), b.reshape(-1), buf.reshape(-1), outer, geometry, scale, log, backward, threads)


def _block(outer: int, inner: int) -> int:
    """Columns per task in the strided layout: all of a slice's (up to 8,192), cut only as far as at least two
    tasks per thread need. Measured, × copy bandwidth, blocks of 256 / all 1,024 columns: 8 × 4,096 × 1,024
    0.17 / 0.38; 32 × 1,024 × 1,024 0.37 / 0.47."""
    pieces = -(-2 * numba.get_num_threads() // max(outer, 1))
    per = -(-inner // pieces)
    return int(min(8192, max(64, -(-per // 64) * 64)))


def _broadcast_mask(mask, shape) -> np.ndarray:
    ma = np.asarray(mask)
    if ma.dtype != np.bool_:
        raise TypeError(f"mask must be a boolean array (True = keep), got dtype {ma.dtype}")
    try:
        mb = np.broadcast_to(ma, shape)
    except ValueError:
        raise ValueError(f"mask of shape {ma.shape} does not broadcast to x's shape {shape}") from None
    return mb


def _forward_api(x, axis, out, scale, mask, device, log):
    if A.check_device(device, x, out, mask) == "cuda":
        from .gpu_softmax import softmax_forward

        return softmax_forward(x, axis, out, scale, mask, log)
    xa = A.as_array(x, "x")
    ax = _axis(axis, xa.ndim)
    work = A.compute_dtype(xa.dtype, "x")
    final = A.result_dtype(xa.dtype)
    if out is not None:
        A.check_out(out, xa.shape, final)
    s = work.type(1.0 if scale is None else A.check_param("scale", scale))
    shape = xa.shape or (1,)
    outer, n, inner = _split(shape, ax)
    if mask is not None and inner > 1:  # masked, axis not last: through a transposed copy
        moved = np.moveaxis(xa, ax, -1)
        keep = np.moveaxis(_broadcast_mask(mask, shape), ax, -1)
        res = np.moveaxis(_forward_api(moved, -1, None, scale, keep, "cpu", log), -1, ax)
        if out is None:
            return np.ascontiguousarray(res)
        np.copyto(out, res, casting="unsafe")
        return out
    keep = None if mask is None else np.ascontiguousarray(_broadcast_mask(mask, shape)).reshape(-1)
    xw = np.ascontiguousarray(xa, dtype=work).reshape(shape)
    dst = A.Output(out, xw, final, work, inputs=(xw,))
    if xw.size:
        buf, big = dst.buffer.reshape(shape), A.parallel(xw.size)
        dims = (outer, n, inner)
        if keep is not None:
            K.forward_masked(xw.reshape(-1), keep, buf.reshape(-1), n, s, log)
        elif inner > 1 and _use_transposed(n, inner):
            K.transposed_kernels(n).forward_transposed(xw.reshape(dims), buf.reshape(dims), s, log)
        elif inner > 1 and _use_lanes(outer, n, inner, True):
            _strided(xw, xw, buf, outer, n, inner, s, log, False)
        elif inner > 1:
            K.forward_strided(xw.reshape(dims), buf.reshape(dims), s, log, _block(outer, inner))
        elif _use_split_forward(outer, n, xw.itemsize):
            K.forward_split(xw.reshape(-1), buf.reshape(-1), n, s, log, numba.get_num_threads())
        elif n <= K.FIXED_ROW:  # below the parallel threshold: the serial block kernel over the whole array
            ks = K.fixed_row_kernels(n)
            (ks.forward if big else ks._forward_block)(xw.reshape(-1), buf.reshape(-1), s, log)
        else:
            (K.forward_rows if big else K._rows_block)(xw.reshape(-1), buf.reshape(-1), n, s, log)
    res = dst.result()
    return res if out is not None or xa.shape else res.reshape(())


def _backward_api(grad, y, axis, out, device, log):
    if A.check_device(device, grad, y, out) == "cuda":
        from .gpu_softmax import softmax_backward as gpu_backward

        return gpu_backward(grad, y, axis, out, log)
    ya, ga, work, final = A.with_grad(grad, y, "y")
    ax = _axis(axis, ya.ndim)
    if out is not None:
        A.check_out(out, ya.shape, final)
    shape = ya.shape or (1,)
    yw = np.ascontiguousarray(ya, dtype=work).reshape(shape)
    gw = np.ascontiguousarray(ga, dtype=work).reshape(shape)
    dst = A.Output(out, yw, final, work, inputs=(yw, gw))
    outer, n, inner = _split(shape, ax)
    if yw.size:
        buf, big = dst.buffer.reshape(shape), A.parallel(yw.size)
        if inner > 1 and _use_lanes(outer, n, inner, False):
            _strided(gw, yw, buf, outer, n, inner, work.type(1.0), log, True)
        elif inner > 1:
            dims = (outer, n, inner)
            K.backward_strided(gw.reshape(dims), yw.reshape(dims), buf.reshape(dims), log, _block(outer, inner))
        elif _use_split(outer, n):
            K.backward_split(gw.reshape(-1), yw.reshape(-1), buf.reshape(-1), n, log)
        elif n <= K.FIXED_ROW:  # below the parallel threshold: the serial block kernel over the whole array
            ks = K.fixed_row_kernels(n)
            (ks.backward if big else ks._backward_block)(gw.reshape(-1), yw.reshape(-1), buf.reshape(-1), log)
        else:
            (K.backward_rows if big else K._backward_rows_block)(gw.reshape(-1), yw.reshape(-1), buf.reshape(-1), n,
                                                                 log)
    res = dst.result()
    return res if out is not None or ya.shape else res.reshape(())


def softmax(x, *, axis: int = -1, out: np.ndarray | None = None, scale: float | None = None, mask=None,
            device: str = "auto") -> np.ndarray:
    """Softmax along `axis`: y = e^(s·x - m) / Σ e^(s·x - m), m the row maximum (stable for any finite x).

    scale multiplies x first (attention's 1/√d) in the same pass. mask: boolean, broadcastable to x, True = keep;
    masked positions give 0 and a fully masked row gives all zeros. Without a mask, a row of all -inf, or with
    +inf or NaN, gives NaN (as PyTorch). Derivative: dx = y·(g - Σ g·y) (see softmax_backward).
    """
    return _forward_api(x, axis, out, scale, mask, device, log=False)


def log_softmax(x, *, axis: int = -1, out: np.ndarray | None = None, scale: float | None = None, mask=None,
                device: str = "auto") -> np.ndarray:
    """Log-softmax along `axis`: y = (s·x - m) - log Σ e^(s·x - m), never log(softmax).

    Masked positions give -inf; a fully masked row gives all -inf. Other conventions as `softmax`.
    Derivative: dx = g - e^y·Σ g (see log_softmax_backward).
    """
    return _forward_api(x, axis, out, scale, mask, device, log=True)


def softmax_backward(grad, y, *, axis: int = -1, out: np.ndarray | None = None, device: str = "auto") -> np.ndarray:
    """Gradient of softmax given grad w.r.t. its output and its output y: dx = y·(g - Σ g·y)."""
    return _backward_api(grad, y, axis, out, device, log=False)


def log_softmax_backward(grad, y, *, axis: int = -1, out: np.ndarray | None = None,
                         device: str = "auto") -> np.ndarray:
    """Gradient of log-softmax given grad w.r.t. its output and its output y: dx = g - e^y·Σ g."""
    return _backward_api(grad, y, axis, out, device, log=True)
