"""PReLU: leaky ReLU with a learnable slope per channel (axis 1, as torch.nn.functional.prelu)."""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from . import _arrays as A
from ._jit import FASTMATH_REDUCE, cpu_jit
from ._parallel import CHUNK, COLUMN_TILE, call_noinline, chunk, chunks, fixed_tasks
from .declarations import REGISTRY

# PReLU is leaky ReLU with the slope read per channel: same declaration, no formula written twice.
_f = REGISTRY["leaky_relu"].forward
_d = REGISTRY["leaky_relu"].derivative


# Two layouts of x viewed as (outer, C, inner):
# - rows (inner != 1): the (outer·C, inner) rows, one slope per row (row r has channel r % C);
# - columns (inner == 1, x of (outer, C)): each row runs across the channels, the slopes a vector.
# Each loop runs over one contiguous row, so it vectorizes; the parallel kernels run them on chunks of rows.
@cpu_jit
def _rows_forward(x, w, out, lo, hi):
    for r in range(lo, hi):
        xr, yr, wc = x[r], out[r], w[r % w.size]
        for i in range(xr.size):
            yr[i] = _f(xr[i], wc)


@cpu_jit
def _columns_forward(x, w, out, lo, hi):
    for o in range(lo, hi):
        xr, yr = x[o], out[o]
        for c in range(xr.size):
            yr[c] = _f(xr[c], w[c])


@cpu_jit(parallel=True)
def _forward_parallel(x, w, out, rows_layout):
    rows, per = x.shape[0], max(1, CHUNK // x.shape[1])
    for k in prange(chunks(rows, per)):
        lo, hi = chunk(k, rows, per)
        if rows_layout:
            call_noinline(_rows_forward, (x, w, out, lo, hi))
        else:
            call_noinline(_columns_forward, (x, w, out, lo, hi))


@cpu_jit(fastmath=FASTMATH_REDUCE)
def _slope_sum(g, x):
    """Σ g·x over x <= 0 (not x > 0: a NaN x counts), in float64."""
    s = 0.0
    for i in range(x.size):
        s += np.float64(g[i]) * np.float64(x[i]) if not x[i] > 0 else 0.0
    return s


@cpu_jit
def _rows_backward(g, x, w, dx, partial, lo, hi):
    """partial[r]: row r's Σ g·x over x <= 0."""
    for r in range(lo, hi):
        gr, xr, dr, wc = g[r], x[r], dx[r], w[r % w.size]
        for i in range(xr.size):
            dr[i] = gr[i] * _d(xr[i], wc)
        partial[r] = _slope_sum(gr, xr)


@cpu_jit
def _columns_backward(g, x, w, dx, acc, lo, hi):
    """acc[c] += Σ g·x over x <= 0 in channel c of rows lo..hi, a tile of columns at a time."""
    n = x.shape[1]
    for c0 in range(0, n, COLUMN_TILE):
        e0 = min(n, c0 + COLUMN_TILE)
        wt, at = w[c0:e0], acc[c0:e0]
        for o in range(lo, hi):
            gr, xr, dr = g[o, c0:e0], x[o, c0:e0], dx[o, c0:e0]
            for c in range(xr.size):
                dr[c] = gr[c] * _d(xr[c], wt[c])
            for c in range(xr.size):  # a loop of its own: with five arrays in one loop it would not vectorize
                xv = xr[c]
                at[c] += np.float64(gr[c]) * np.float64(xv) if not xv > 0 else 0.0


@cpu_jit(parallel=True)
def _rows_backward_parallel(g, x, w, dx, partial):
    rows, per = x.shape[0], max(1, CHUNK // x.shape[1])
    for k in prange(chunks(rows, per)):
        lo, hi = chunk(k, rows, per)
        call_noinline(_rows_backward, (g, x, w, dx, partial, lo, hi))


@cpu_jit
def _columns_backward_serial(g, x, w, dx, partial):
    """partial: (tasks, C); task t sums its fixed share of the rows (the share depends on the shape only)."""
    rows, tasks = x.shape[0], partial.shape[0]
    per = (rows + tasks - 1) // tasks
    for t in range(tasks):
        _columns_backward(g, x, w, dx, partial[t], t * per, min(rows, t * per + per))


@cpu_jit(parallel=True)
def _columns_backward_parallel(g, x, w, dx, partial):
    rows, tasks = x.shape[0], partial.shape[0]
    per = (rows + tasks - 1) // tasks
    for t in prange(tasks):
        call_noinline(_columns_backward, (g, x, w, dx, partial[t], t * per, min(rows, t * per + per)))


_ROW = 1024  # the columns layout's rows are at least this long: k short rows are viewed as one


def _pieces(shape3, w) -> list:
    """[(rows layout?, 2-D shape, slopes, first element, end)]: the views of the flat array the kernels run on.
    In the columns layout k rows of C < _ROW elements are viewed as one row of k·C with the slopes tiled k times;
    the rows left over (fewer than k) are a second piece."""
    outer, c, inner = shape3
    if c == 1:  # one slope: any split of the elements will do
        outer, inner = outer * inner, 1
    if inner != 1:
        return [(True, (outer * c, inner), w, 0, outer * c * inner)]
    k = max(1, _ROW // c)
    main = outer // k * k
    pieces = [(False, (main // k, k * c), np.tile(w, k), 0, main * c)] if main else []
    if main < outer:
        pieces.append((False, (outer - main, c), w, main * c, outer * c))
    return pieces


def _part(a: np.ndarray, piece) -> np.ndarray:
    _, shape, _, lo, hi = piece
    return a.reshape(-1)[lo:hi].reshape(shape)


def _prepare(x, weight, name_x="x"):
    xa = A.as_array(x, name_x)
    wa = A.as_array(weight, "weight")
    channels = xa.shape[1] if xa.ndim >= 2 else 1
    if wa.size not in (1, channels):
        raise ValueError(f"weight must have 1 or x.shape[1] = {channels} elements, got {wa.size}")
    A.compute_dtype(wa.dtype, "weight")
    work = A.compute_dtype(xa.dtype, "x")  # weight is a parameter: it takes x's type
    xc = np.ascontiguousarray(xa, dtype=work)
    outer = xa.shape[0] if xa.ndim >= 2 else 1
    c = channels if xa.ndim >= 2 else 1
    inner = math.prod(xa.shape[2:]) if xa.ndim >= 2 else xa.size
    w = np.broadcast_to(np.ascontiguousarray(wa, dtype=work).reshape(-1), (c,)).copy()
    return xa, wa, xc, w, work, (outer, c, inner)


def prelu(x, weight, *, out: np.ndarray | None = None, device: str = "auto") -> np.ndarray:
    """PReLU: y = x if x > 0 else weight[c]·x, with c the channel (axis 1; no channel axis below 2-D).

    weight has 1 element (shared) or x.shape[1] elements. Derivative: 1 if x > 0 else weight[c]
    (weight at x = 0, as PyTorch). Dtype rules and `out` as for every fastact activation.
    """
    if A.check_device(device, x, weight) == "cuda":
        from .gpu import prelu_forward

        return prelu_forward(x, weight, out)
    xa, _, xc, w, work, shape3 = _prepare(x, weight)
    final = A.result_dtype(xa.dtype) if xa.dtype == np.float16 else work
    if out is not None:
        A.check_out(out, xa.shape, final)
    dst = A.Output(out, xc, final, work, inputs=(xc,))
    for piece in _pieces(shape3, w) if xc.size else []:
        rows_layout, shape, slopes = piece[:3]
        xv, yv = _part(xc, piece), _part(dst.buffer, piece)
        if A.parallel(xv.size):
            _forward_parallel(xv, slopes, yv, rows_layout)
        else:
            (_rows_forward if rows_layout else _columns_forward)(xv, slopes, yv, 0, shape[0])
    return dst.result()


def prelu_backward(grad, x, weight, *, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Gradients of PReLU: (dx, dweight).

    dx = grad if x > 0 else weight[c]·grad; dweight[c] = Σ grad·x over x <= 0 in channel c (summed in float64,
    in a fixed order, so the result does not depend on the thread count). dweight has weight's shape.
    """
    if A.check_device(device, grad, x, weight) == "cuda":
        from .gpu import prelu_backward as gpu_prelu_backward

        return gpu_prelu_backward(grad, x, weight)
    xa, wa, xc, w, work, shape3 = _prepare(x, weight)
    _, ga, work, final = A.with_grad(grad, x)
    xc = xc.astype(work, copy=False)
    w = w.astype(work, copy=False)
    gc = np.ascontiguousarray(ga, dtype=work)
    dx = np.empty(xa.shape, work)
    channels = w.size
    dw = np.zeros(channels, np.float64)
    for piece in _pieces(shape3, w) if xc.size else []:
        rows_layout, shape, slopes = piece[:3]
        views = _part(gc, piece), _part(xc, piece), slopes, _part(dx, piece)
        big = A.parallel(views[1].size)
        if rows_layout:  # one partial sum per row
            partial = np.zeros(shape[0], np.float64)
            if big:
                _rows_backward_parallel(*views, partial)
            else:
                _rows_backward(*views, partial, 0, shape[0])
        else:  # one row of partial sums per task
            partial = np.zeros((fixed_tasks(shape[0], shape[1]), shape[1]), np.float64)
            (_columns_backward_parallel if big else _columns_backward_serial)(*views, partial)
        dw += np.add.reduce(partial.reshape(-1, channels), axis=0)  # added in order: a function of the shape
    dw = np.array([dw.sum()]) if wa.size == 1 else dw
    return dx.astype(final, copy=False), dw.reshape(wa.shape).astype(work)
