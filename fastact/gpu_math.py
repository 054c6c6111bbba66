"""Binds the declarations' math names to CUDA's math (libdevice) so they compile as CUDA device functions."""
from __future__ import annotations

import math
import types

import numpy as np
from numba.core import types as nbtypes
from numba.extending import overload


_f32, _f64 = np.float32, np.float64


# Φ and φ in float32 for float32 x: CUDA's float64 erfc is several times the cost of the memory traffic. Rounding
# erfc's argument t = -x/√2 to float32 would cost 2t² ULP (erfc'/erfc ~ -2t), so its rounding error e is carried
# (t formed in float64, where x·(1/√2) is exact enough) and applied to first order:
# erfc(t + e) ≈ erfc(t) - e·2/√π·e^(-t²). Likewise φ's x² = s + es: e^(-(s + es)/2) ≈ e^(-s/2)·(1 - es/2).
# e is NaN only where x is ±inf or NaN.
def _cdf32(x):
    t64 = -_f64(x) * 0.7071067811865476
    t = _f32(t64)
    e = _f32(t64 - _f64(t))
    e = e if e == e else _f32(0.0)
    return _f32(0.5) * (math.erfc(t) - _f32(1.1283791670955126) * e * math.exp(-t * t))


def _pdf32(x):
    s64 = _f64(x) * _f64(x)
    s = _f32(s64)
    es = _f32(s64 - _f64(s))
    es = es if es == es else _f32(0.0)
    return math.exp(_f32(-0.5) * s) * (_f32(1.0) - _f32(0.5) * es) * _f32(0.3989422804014327)


def _cdf64(x):
    return 0.5 * math.erfc(-x * 0.7071067811865476)


def _pdf64(x):
    return math.exp(-0.5 * x * x) * 0.3989422804014327


def norm_cdf(x):
    """Φ(x) = ½·erfc(-x/√2) on the GPU (and, as plain Python, in the CUDA simulator)."""
    return _cdf32(x) if isinstance(x, np.float32) else _cdf64(x)


def norm_pdf(x):
    """φ(x) = e^(-x²/2)/√(2π)."""
    return _pdf32(x) if isinstance(x, np.float32) else _pdf64(x)


@overload(norm_cdf, target="generic")
def _norm_cdf(x):
    return _cdf32 if x == nbtypes.float32 else _cdf64


@overload(norm_pdf, target="generic")
def _norm_pdf(x):
    return _pdf32 if x == nbtypes.float32 else _pdf64


def _cuda_namespace():
    from numba import cuda

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
