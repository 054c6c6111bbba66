"""PReLU: leaky ReLU with a learnable slope per channel (axis 1, as torch.nn.functional.prelu)."""
from __future__ import annotations

import numpy as np
from numba import prange

from . import _arrays as A
from ._jit import cpu_jit
from .declarations import REGISTRY

# PReLU is leaky ReLU with the slope read per channel: same declaration, no formula written twice.
_f = REGISTRY["leaky_relu"].forward
_d = REGISTRY["leaky_relu"].derivative


@cpu_jit(parallel=True)
def _forward(x, w, out):  # x, out: (outer, C, inner); w: (C,)
    n_outer, n_c, n_inner = x.shape
    for r in prange(n_outer * n_c):
        o = r // n_c
        c = r - o * n_c
        wc = w[c]
        for i in range(n_inner):
            out[o, c, i] = _f(x[o, c, i], wc)


@cpu_jit(parallel=True)
def _backward(g, x, w, dx, partial):  # partial: (outer, C) float64 sums of g·x where x <= 0
    n_outer, n_c, n_inner = x.shape
    for r in prange(n_outer * n_c):
        o = r // n_c
        c = r - o * n_c
        wc = w[c]
        acc = 0.0
        for i in range(n_inner):
            xi = x[o, c, i]
            gi = g[o, c, i]
            dx[o, c, i] = gi * _d(xi, wc)
            acc += np.float64(gi) * np.float64(xi) if not xi > 0 else 0.0
        partial[o, c] = acc


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
    inner = int(np.prod(xa.shape[2:])) if xa.ndim >= 2 else xa.size
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
    if xc.size:
        _forward(xc.reshape(shape3), w, dst.buffer.reshape(shape3))
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
    partial = np.zeros(shape3[:2], np.float64)
    if xc.size:
        _backward(gc.reshape(shape3), xc.reshape(shape3), w, dx.reshape(shape3), partial)
    dw = partial.sum(axis=0)
    dw = np.array([dw.sum()]) if wa.size == 1 else dw
    return dx.astype(final, copy=False), dw.reshape(wa.shape).astype(work)
