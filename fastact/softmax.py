"""Row-wise, numerically stable softmax and log-softmax, forward and backward (CPU, multi-threaded over rows)."""
from __future__ import annotations

import numpy as np
from numba import prange

from . import _arrays as A
from ._jit import cpu_jit
from .vecmath import exp, log1p


@cpu_jit(parallel=True)
def _forward(x, keep, use_mask, out, scale, log):
    """x, keep, out: (rows, n). Max pass, sum pass (float64), write pass; rows in parallel."""
    rows, n = x.shape
    for r in prange(rows):
        m = -np.inf
        for j in range(n):
            v = x[r, j] * scale
            ok = keep[r, j] if use_mask else True
            m = v if (ok and v > m) or (ok and v != v) else m  # NaN wins, so it propagates
        s = 0.0
        for j in range(n):
            ok = keep[r, j] if use_mask else True
            e = exp(x[r, j] * scale - m)
            s += np.float64(e) if ok else 0.0
        inv = 1.0 / s
        logs = log1p(s - 1.0)
        empty = use_mask and s == 0.0 and m == -np.inf  # fully masked row: zeros (log-softmax: -inf)
        for j in range(n):
            ok = keep[r, j] if use_mask else True
            z = x[r, j] * scale - m
            if log:
                y = z - logs
                out[r, j] = y if ok and not empty else -np.inf
            else:
                y = exp(z) * inv
                out[r, j] = y if ok and not empty else 0.0


@cpu_jit(parallel=True)
def _backward(g, y, out, log):
    rows, n = y.shape
    for r in prange(rows):
        s = 0.0
        for j in range(n):
            s += np.float64(g[r, j]) * (1.0 if log else np.float64(y[r, j]))
        for j in range(n):
            if log:
                out[r, j] = g[r, j] - exp(y[r, j]) * s
            else:
                out[r, j] = y[r, j] * (g[r, j] - s)


def _rows(arr: np.ndarray, axis: int) -> np.ndarray:
    """arr with `axis` moved last, as a C-contiguous (rows, n) array (a view when already laid out so)."""
    moved = np.moveaxis(arr, axis, -1)
    moved = np.ascontiguousarray(moved)
    n = moved.shape[-1] if moved.ndim else 1
    return moved.reshape(-1, n)


def _axis(axis, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an integer, got {type(axis).__name__}")
    nd = max(ndim, 1)
    if not -nd <= axis < nd:
        raise ValueError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return int(axis) % nd


def _finish(result_rows, shape, axis, out, final):
    moved_shape = tuple(np.delete(np.array(shape, dtype=np.int64), axis)) + (shape[axis],) if shape else ()
    res = np.moveaxis(result_rows.reshape(moved_shape), -1, axis) if shape else result_rows.reshape(())
    if out is not None:
        np.copyto(out, res, casting="unsafe")
        return out
    return np.ascontiguousarray(res).astype(final, copy=False)


def _forward_api(x, axis, out, scale, mask, device, log):
    if A.check_device(device, x, out, mask) == "cuda":
        from .gpu import softmax_forward

        return softmax_forward(x, axis, out, scale, mask, log)
    xa = A.as_array(x, "x")
    ax = _axis(axis, xa.ndim)
    work = A.compute_dtype(xa.dtype, "x")
    final = A.result_dtype(xa.dtype)
    if out is not None:
        A.check_out(out, xa.shape, final)
    s = 1.0 if scale is None else A.check_param("scale", scale)
    xw = xa.astype(work, copy=False).reshape(xa.shape or (1,))
    xr = _rows(xw, ax)
    if mask is not None:
        ma = np.asarray(mask)
        if ma.dtype != np.bool_:
            raise TypeError(f"mask must be a boolean array (True = keep), got dtype {ma.dtype}")
        try:
            mb = np.broadcast_to(ma, xw.shape)
        except ValueError:
            raise ValueError(f"mask of shape {ma.shape} does not broadcast to x's shape {xa.shape}") from None
        keep = _rows(mb, ax)
    else:
        keep = np.ones((1, 1), np.bool_)
    res = np.empty_like(xr)
    if xr.size:
        _forward(xr, keep, mask is not None, res, work.type(s), log)
    return _finish(res, xa.shape or (1,), ax, out, final) if xa.shape else _finish(res, (), 0, out, final)


def _backward_api(grad, y, axis, out, log):
    ya = A.as_array(y, "y")
    ga = A.as_array(grad, "grad")
    if ga.shape != ya.shape:
        raise ValueError(f"grad has shape {ga.shape} but y has shape {ya.shape}; they must match")
    ax = _axis(axis, ya.ndim)
    work = np.promote_types(A.compute_dtype(ya.dtype, "y"), A.compute_dtype(ga.dtype, "grad"))
    final = np.dtype(np.float16) if ya.dtype == ga.dtype == np.float16 else work
    if out is not None:
        A.check_out(out, ya.shape, final)
    shape = ya.shape or (1,)
    yr = _rows(ya.astype(work, copy=False).reshape(shape), ax)
    gr = _rows(ga.astype(work, copy=False).reshape(shape), ax)
    res = np.empty_like(yr)
    if yr.size:
        _backward(gr, yr, res, log)
    return _finish(res, shape, ax, out, final) if ya.shape else _finish(res, (), 0, out, final)


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


def softmax_backward(grad, y, *, axis: int = -1, out: np.ndarray | None = None) -> np.ndarray:
    """Gradient of softmax given grad w.r.t. its output and its output y: dx = y·(g - Σ g·y)."""
    return _backward_api(grad, y, axis, out, log=False)


def log_softmax_backward(grad, y, *, axis: int = -1, out: np.ndarray | None = None) -> np.ndarray:
    """Gradient of log-softmax given grad w.r.t. its output and its output y: dx = g - e^y·Σ g."""
    return _backward_api(grad, y, axis, out, log=True)
