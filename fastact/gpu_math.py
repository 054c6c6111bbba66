"""Binds the declarations' math names to CUDA's math (libdevice) so they compile as CUDA device functions."""
from __future__ import annotations

import math
import types

import numpy as np


def _cuda_namespace():
    from numba import cuda

    # in float64 whatever x's type: erfc's argument rounded in float32 would lose 2·(x/√2)² ULP
    @cuda.jit(device=True)
    def norm_cdf(x):
        return 0.5 * math.erfc(-np.float64(x) * 0.7071067811865476)

    @cuda.jit(device=True)
    def norm_pdf(x):
        v = np.float64(x)
        return math.exp(-0.5 * v * v) * 0.3989422804014327

    @cuda.jit(device=True)
    def fma(a, b, c):
        return a * b + c  # NVVM contracts it to one fused multiply-add

    @cuda.jit(device=True)
    def exp_neg_abs(x):
        return math.exp(-abs(x))

    return {"fma": fma, "exp": math.exp, "exp_neg_abs": exp_neg_abs, "expm1": math.expm1, "log1p": math.log1p,
            "log1p_unit": math.log1p, "tanh": math.tanh,
            "erf": math.erf, "erfc": math.erfc, "norm_cdf": norm_cdf, "norm_pdf": norm_pdf}


_NS = None
_DEVICE = {}


def device_function(fn):
    """The CUDA device function compiled from a declaration's plain-Python scalar code."""
    global _NS
    if fn not in _DEVICE:
        from numba import cuda

        if _NS is None:
            _NS = _cuda_namespace()
        from .declarations import bind_parts

        g = bind_parts(fn, {**fn.__globals__, **_NS}, device_function)
        rebound = types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)
        _DEVICE[fn] = cuda.jit(device=True)(rebound)
    return _DEVICE[fn]
