"""Gated linear units on the last axis: x = [a, b] split in halves, y = act_a(a)·act_b(b), one pass each way.

Each unit is a pair of activation declarations, so its kernels (and derivatives) come from the same one place
as the activations: glu = identity(a)·sigmoid(b), swiglu = silu(a)·b, geglu = gelu(a)·b.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import _arrays as A
from ._codegen import gated_kernels
from .declarations import REGISTRY

# name -> ({variant: (declaration of a's activation, declaration of b's)}, formula)
GATED = {
    "glu": ({None: ("identity", "sigmoid")}, "a·σ(b) (as torch.nn.functional.glu)"),
    "swiglu": ({None: ("silu", "identity")}, "silu(a)·b = a·σ(a)·b"),
    "geglu": ({"none": ("gelu", "identity"), "tanh": ("gelu_tanh", "identity")},
              "gelu(a)·b, gelu exact (approximate='none') or tanh form (approximate='tanh')"),
}


def _pair(name: str, approximate) -> tuple[str, str]:
    variants = GATED[name][0]
    if None in variants:
        return variants[None]
    if approximate not in variants:
        raise ValueError(f"{name}: approximate must be one of {', '.join(map(repr, variants))}, got {approximate!r}")
    return variants[approximate]


def _params(a: str, b: str, dtype) -> list:
    return [dtype.type(v) for key in (a, b) for _, v in REGISTRY[key].params]


def _halves(xa: np.ndarray, name: str) -> int:
    if xa.ndim == 0 or xa.shape[-1] % 2:
        raise ValueError(f"{name}: the last axis of x must have even length, got shape {xa.shape}")
    return xa.shape[-1] // 2


def _rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(1, -1)


def gated_forward(name: str, x, out=None, device="auto", approximate=None) -> np.ndarray:
    a, b = _pair(name, approximate)
    if A.check_device(device, x, out) == "cuda":
        from .gpu import gated_forward as gpu_forward

        return gpu_forward(a, b, x, out)
    xa = A.as_array(x, "x")
    h = _halves(xa, name)
    work = A.compute_dtype(xa.dtype, "x")
    final = A.result_dtype(xa.dtype)
    shape = xa.shape[:-1] + (h,)
    if out is not None:
        A.check_out(out, shape, final)
    xc = np.ascontiguousarray(xa, dtype=work)
    dst = A.Output(out, np.empty(shape, work), final, work, inputs=(xc,))
    if xc.size:
        ks = gated_kernels(a, b)
        kern = ks.forward_parallel if A.parallel(xc.size) else ks.forward_serial
        kern(_rows(xc), _rows(dst.buffer), *_params(a, b, work))
    return dst.result()


def gated_backward(name: str, grad, x, out=None, device="auto", approximate=None) -> np.ndarray:
    a, b = _pair(name, approximate)
    if A.check_device(device, grad, x, out) == "cuda":
        from .gpu import gated_backward as gpu_backward

        return gpu_backward(a, b, grad, x, out)
    _halves(A.as_array(x, "x"), name)
    xa, ga, work, final = A.with_grad(grad, x, grad_shape=lambda shape: shape[:-1] + (shape[-1] // 2,))
    if out is not None:
        A.check_out(out, xa.shape, final)
    xc = np.ascontiguousarray(xa, dtype=work)
    gc = np.ascontiguousarray(ga, dtype=work)
    # the two halves of dx are written in turn, each from both halves of x: never in place over x
    shared = out is not None and np.may_share_memory(out, xc)
    dst = A.Output(None if shared else out, xc, final, work, inputs=(xc, gc))
    if xc.size:
        ks = gated_kernels(a, b)
        kern = ks.backward_parallel if A.parallel(xc.size) else ks.backward_serial
        kern(_rows(gc), _rows(xc), _rows(dst.buffer), *_params(a, b, work))
    if shared:
        np.copyto(out, dst.result(), casting="unsafe")
        return out
    return dst.result()


def _make(name: str) -> tuple[Callable, Callable]:
    formula = GATED[name][1]
    variant = None not in GATED[name][0]
    conventions = ("Halves a, b = x[..., :h], x[..., h:] of the last axis (even length). float32/float64 keep "
                   "their type, float16 computes in float32; `out` must have the result's shape and dtype.")
    if variant:
        def forward(x, *, out: np.ndarray | None = None, device: str = "auto",
                    approximate: str = "none") -> np.ndarray:
            return gated_forward(name, x, out, device, approximate)

        def backward(grad, x, *, out: np.ndarray | None = None, device: str = "auto",
                     approximate: str = "none") -> np.ndarray:
            return gated_backward(name, grad, x, out, device, approximate)
    else:
        def forward(x, *, out: np.ndarray | None = None, device: str = "auto") -> np.ndarray:
            return gated_forward(name, x, out, device)

        def backward(grad, x, *, out: np.ndarray | None = None, device: str = "auto") -> np.ndarray:
            return gated_backward(name, grad, x, out, device)

    forward.__name__ = forward.__qualname__ = name
    forward.__doc__ = f"{name}(x) = {formula}, on the last axis. Result: the last axis halved.\n\n{conventions}"
    backward.__name__ = backward.__qualname__ = f"{name}_backward"
    backward.__doc__ = (f"Gradient of {name} w.r.t. x (full width) given grad of shape x.shape[:-1] + (h,): "
                        f"da = g·act_a'(a)·act_b(b), db = g·act_a(a)·act_b'(b).\n\n{conventions}")
    forward.__module__ = backward.__module__ = "fastact"
    return forward, backward


glu, glu_backward = _make("glu")
swiglu, swiglu_backward = _make("swiglu")
geglu, geglu_backward = _make("geglu")
