"""Fused bias + activation: act(x + bias) in one pass, and its backward with dbias in the same pass."""
from __future__ import annotations

import numpy as np

from . import _arrays as A
from ._codegen import kernels
from ._parallel import fixed_tasks
from .elementwise import resolve


def _prepare(x, bias, name_x="x"):
    xa = A.as_array(x, name_x)
    if xa.ndim == 0:
        raise ValueError(f"{name_x} must have at least one dimension (bias runs along its last axis)")
    ba = A.as_array(bias, "bias")
    if ba.shape != (xa.shape[-1],):
        raise ValueError(f"bias must have shape ({xa.shape[-1]},) (x.shape[-1]), got {ba.shape}")
    A.compute_dtype(ba.dtype, "bias")
    work = A.compute_dtype(xa.dtype, "x")  # bias is cast to x's compute type
    return xa, np.ascontiguousarray(ba, dtype=work), work


def _rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, a.shape[-1]) if a.size else a.reshape(0, a.shape[-1] if a.ndim else 0)


def bias_act(x, bias, act: str = "relu", *, out: np.ndarray | None = None, device: str = "auto",
             **params) -> np.ndarray:
    """y = act(x + bias), bias of shape (x.shape[-1],) broadcast along the last axis, in one pass (no x + bias
    temporary). act is any fastact activation name, with its parameters as keywords
    (e.g. ``bias_act(x, b, "gelu", approximate="tanh")``; prelu takes ``weight=`` and is the one done in two
    passes, through x + bias). Dtypes and `out` as for the activations; bias is cast to x's compute type.
    """
    if act == "prelu":
        return _prelu_forward(x, bias, out, device, **params)
    decl, values = resolve(act, dict(params))
    if A.check_device(device, x, bias, out) == "cuda":
        from .gpu import bias_act_forward

        return bias_act_forward(decl, x, bias, out, values)
    xa, b, work = _prepare(x, bias)
    final = A.result_dtype(xa.dtype)
    if out is not None:
        A.check_out(out, xa.shape, final)
    xc = np.ascontiguousarray(xa, dtype=work)
    dst = A.Output(out, xc, final, work, inputs=(xc,))
    if xc.size:
        ks = kernels(decl.key)
        kern = ks.bias_forward_parallel if A.parallel(xc.size) else ks.bias_forward_serial
        kern(_rows(xc), b, _rows(dst.buffer), *(work.type(v) for v in values))
    return dst.result()


def bias_act_backward(grad, x, bias, act: str = "relu", *, out: np.ndarray | None = None, device: str = "auto",
                      **params) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of bias_act: (dx, dbias) with dx = grad·act'(x + bias) and dbias = Σ dx over all leading axes.

    One pass reads grad and x, writes dx and accumulates dbias in float64 over a fixed partition of the rows,
    reduced in a fixed order: dbias is bit-identical whatever the number of threads. `out` receives dx.
    For act="prelu" (``weight=``) the result is (dx, dbias, dweight).
    """
    if act == "prelu":
        return _prelu_backward(grad, x, bias, out, device, **params)
    decl, values = resolve(act, dict(params))
    if A.check_device(device, grad, x, bias, out) == "cuda":
        from .gpu import bias_act_backward as gpu_backward

        return gpu_backward(decl, grad, x, bias, out, values)
    _, b, _ = _prepare(x, bias)
    xa, ga, work, final = A.with_grad(grad, x)
    b = b.astype(work, copy=False)
    if out is not None:
        A.check_out(out, xa.shape, final)
    xc = np.ascontiguousarray(xa, dtype=work)
    gc = np.ascontiguousarray(ga, dtype=work)
    dst = A.Output(out, xc, final, work, inputs=(xc, gc))
    rows, n = _rows(xc).shape
    partial = np.zeros((fixed_tasks(rows, n), n), np.float64)
    if xc.size:
        ks = kernels(decl.key)
        kern = ks.bias_backward_parallel if A.parallel(xc.size) else ks.bias_backward_serial
        kern(_rows(gc), _rows(xc), b, _rows(dst.buffer), partial, *(work.type(v) for v in values))
    dbias = np.add.reduce(partial, axis=0)  # rows of partial added in order
    return dst.result(), dbias.astype(final)


def _prelu_forward(x, bias, out, device, weight=None, **extra):
    from .prelu import prelu

    if weight is None or extra:
        raise TypeError("bias_act(act='prelu') takes exactly one parameter, weight=")
    xa, b, _ = _prepare(x, bias)
    return prelu(xa + b, weight, out=out, device=device)


def _prelu_backward(grad, x, bias, out, device, weight=None, **extra):
    from .prelu import prelu_backward

    if weight is None or extra:
        raise TypeError("bias_act_backward(act='prelu') takes exactly one parameter, weight=")
    xa, b, _ = _prepare(x, bias)
    dx, dweight = prelu_backward(grad, xa + b, weight, device=device)
    dbias = np.add.reduce(_rows(dx).astype(np.float64), axis=0).astype(dx.dtype)
    if out is not None:
        A.check_out(out, dx.shape, dx.dtype)
        np.copyto(out, dx)
        dx = out
    return dx, dbias, dweight
