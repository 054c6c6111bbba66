"""Public elementwise activations, generated from fastact.declarations."""
from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from . import _arrays as A
from ._codegen import kernels
from .declarations import REGISTRY, Declaration


_BY_PUBLIC: dict[str, list[Declaration]] = {}
for _d in REGISTRY.values():
    _BY_PUBLIC.setdefault(_d.public, []).append(_d)


def resolve(public: str, params: dict) -> tuple[Declaration, tuple]:
    """The declaration selected by `params` (e.g. gelu's approximate=...) and its numeric parameter values."""
    candidates = _BY_PUBLIC.get(public)
    if not candidates:
        raise ValueError(f"unknown activation {public!r}; choose from {', '.join(ACTIVATIONS)}")
    decl = candidates[0]
    if decl.variant is not None:
        arg, default = decl.variant
        choice = params.pop(arg, default)
        matches = [d for d in candidates if d.variant[1] == choice]
        if not matches:
            options = ", ".join(repr(d.variant[1]) for d in candidates)
            raise ValueError(f"{public}: {arg} must be one of {options}, got {choice!r}")
        decl = matches[0]
    values = []
    for name, default in decl.params:
        v = A.check_param(name, params.pop(name, default))
        if name in decl.checks:
            ok, message = decl.checks[name]
            if not ok(v):
                raise ValueError(f"{public}: {message}, got {v}")
        values.append(v)
    if params:
        raise TypeError(f"{public}() got unexpected keyword argument(s): {', '.join(map(repr, params))}")
    return decl, tuple(values)


def run_forward(public: str, x, out=None, device="auto", **params):
    decl, values = resolve(public, dict(params))
    if A.check_device(device, x, out) == "cuda":
        from .gpu import elementwise_forward

        return elementwise_forward(decl, x, out, values)
    xa = A.as_array(x, "x")
    work = A.compute_dtype(xa.dtype, "x")
    final = A.result_dtype(xa.dtype)
    if out is not None:
        A.check_out(out, xa.shape, final)
    xc = A.contiguous(xa, work)
    dst = A.Output(out, xc, final, work, inputs=(xc,))
    xf = A.flat(xc)
    if xf.size:
        ks = kernels(decl.key)
        kern = ks.forward_parallel if A.parallel(xf.size) else ks.forward_serial
        kern(xf, dst.flat, *(work.type(v) for v in values))
    return dst.result()


def run_backward(public: str, grad, x, out=None, device="auto", **params):
    decl, values = resolve(public, dict(params))
    if A.check_device(device, grad, x, out) == "cuda":
        from .gpu import elementwise_backward

        return elementwise_backward(decl, grad, x, out, values)
    xa, ga, work, final = A.with_grad(grad, x)
    if out is not None:
        A.check_out(out, xa.shape, final)
    xc = A.contiguous(xa, work)
    gc = A.contiguous(ga, work, like=xc)
    dst = A.Output(out, xc, final, work, inputs=(xc, gc))
    if xc.size:
        ks = kernels(decl.key)
        kern = ks.backward_parallel if A.parallel(xc.size) else ks.backward_serial
        kern(A.flat(gc), A.flat(xc), dst.flat, *(work.type(v) for v in values))
    return dst.result()


def _doc(public: str, backward: bool) -> str:
    decls = [d for d in REGISTRY.values() if d.public == public]
    lines = []
    for d in decls:
        head = f"[{d.variant[0]}={d.variant[1]!r}] " if d.variant else ""
        lines.append(f"    {head}{d.formula}\n        derivative: {d.derivative_formula}")
    params = [f"{n}={v:g}" for n, v in decls[0].params]
    if decls[0].variant:
        params.insert(0, f"{decls[0].variant[0]}={decls[0].variant[1]!r}")
    what = (f"Gradient of {public}: dx = grad · d{public}/dx, given the forward input x." if backward
            else f"{public} activation, elementwise.")
    notes = "".join(f"\n{d.notes}" for d in decls if d.notes)
    return (f"{what}\n\n{chr(10).join(lines)}\n\nParameters: {', '.join(params) or 'none'}.{notes}\n"
            "float32 and float64 compute in their own type, float16 in float32 (returned as float16), integers "
            "and bool are promoted to float64. `out` must have the result's shape and dtype and may be x itself. "
            "device: 'auto' (where the data is), 'cpu' or 'cuda'. NaN propagates; ±inf give the limits.")


def _signature(public: str, backward: bool) -> inspect.Signature:
    decl = next(d for d in REGISTRY.values() if d.public == public)
    P = inspect.Parameter
    ps = [P("grad", P.POSITIONAL_OR_KEYWORD, annotation="ArrayLike")] if backward else []
    ps += [P("x", P.POSITIONAL_OR_KEYWORD, annotation="ArrayLike"),
           P("out", P.KEYWORD_ONLY, default=None, annotation="np.ndarray | None"),
           P("device", P.KEYWORD_ONLY, default="auto", annotation="str")]
    if decl.variant:
        ps.append(P(decl.variant[0], P.KEYWORD_ONLY, default=decl.variant[1], annotation="str"))
    ps += [P(n, P.KEYWORD_ONLY, default=v, annotation="float") for n, v in decl.params]
    return inspect.Signature(ps, return_annotation="np.ndarray")


def make_forward(public: str) -> Callable:
    def fn(x, *, out=None, device="auto", **params):
        return run_forward(public, x, out, device, **params)

    fn.__name__ = fn.__qualname__ = public
    fn.__doc__ = _doc(public, backward=False)
    fn.__signature__ = _signature(public, backward=False)
    fn.__module__ = "fastact"
    return fn


def make_backward(public: str) -> Callable:
    def fn(grad, x, *, out=None, device="auto", **params):
        return run_backward(public, grad, x, out, device, **params)

    fn.__name__ = fn.__qualname__ = f"{public}_backward"
    fn.__doc__ = _doc(public, backward=True)
    fn.__signature__ = _signature(public, backward=True)
    fn.__module__ = "fastact"
    return fn


ELEMENTWISE = tuple(dict.fromkeys(d.public for d in REGISTRY.values()))
ACTIVATIONS = ELEMENTWISE + ("prelu",)
FORWARD = {name: make_forward(name) for name in ELEMENTWISE}
BACKWARD = {name: make_backward(name) for name in ELEMENTWISE}
