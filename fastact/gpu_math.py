"""Binds the declarations' math names to CUDA's math (libdevice) so they compile as CUDA device functions; float32
Φ and φ are fastact's own (float32 arithmetic only, built on vecmath's exp)."""
from __future__ import annotations

import math
import types

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types as nbtypes
from numba.extending import intrinsic, overload

from . import vecmath as V
from ._bits import fma
from ._jit import cpu_jit


_f32, _f64 = np.float32, np.float64


# Φ and φ in float32 for float32 x, in float32 only (float64 and its conversions run at a fraction of float32's
# rate on most GPUs): Φ(x) = ½·e^(-x²/2)·erfcx(|x|/√2) for x < 0 (1 minus that for x >= 0), φ(x) = e^(-x²/2)/√(2π).
# e^(-x²/2) is vecmath's, from x² split exactly (hi + lo), so x/√2's rounding reaches only erfcx, which is
# insensitive to it; both functions build it the same way, so a kernel needing both (GELU's derivative) computes
# it once. erfcx(a) = Q(z)·q with q = 1/(a + 2), z = 1 - 4q (vecmath's Q). A float32 q is off relatively by
# η = q·(a + 2) - 1 (a + 2 rounds, and the reciprocal is the hardware's approximation), which erfcx amplifies by
# K = -(a + 2)·erfcx'(a)/erfcx(a): from 2.26 at a = 0 to 1 as a grows. η is exact from an FMA and a + 2's rounding
# error (s - 2 and a - (s - 2) are exact for s = fl(a + 2), a in [0, 10.5]); it is taken off to first order, with K
# fitted in z (within 3%).
_ERFCXQ32 = tuple(_f32(c) for c in V._ERFCXQ)
_ERFCX_K32 = (_f32(1.68071808), _f32(-0.70948056), _f32(-0.10467649))


def _rcp_approx(s):
    """1/s; on a GPU the hardware's approximation (one MUFU.RCP, none of IEEE division's special cases), whose
    error _cdf32's η takes off."""
    return 1 / s


@overload(_rcp_approx, target="cpu")
def _rcp_approx_cpu(s):
    return lambda s: _f32(1.0) / s


@cpu_jit
def _cdf32(x):
    a = abs(x) * V._SQRT1_2_32
    a = _f32(10.5) if a > _f32(10.5) else a  # Φ(-10.5·√2) is 0 in float32; keeps NaN
    s = a + _f32(2.0)
    q = _rcp_approx(s)
    eta = fma(q, s, _f32(-1.0)) + q * (a - (s - _f32(2.0)))
    z = _f32(1.0) - _f32(4.0) * q
    t = z * V._horner(_ERFCXQ32[1:], z)  # Q(z) = Q0 + t
    u = fma(-V._horner(_ERFCX_K32, z) * eta, _ERFCXQ32[0] + t, t)  # Q(z)·(1 - K·η) - Q0
    eq = _f32(0.5) * V._exp_neg_sq32(x, _f32(0.5)) * q
    c = fma(eq, _ERFCXQ32[0], eq * u)  # ½·e^(-x²/2)·erfcx(a), Q0's term rounded once, with the rest
    return c if x < _f32(0.0) else _f32(1.0) - c  # c <= ½: its rounding costs 1 - c under ¼ ULP


@cpu_jit
def _pdf32(x):
    return V._exp_neg_sq32(x, _f32(0.5)) * _f32(0.3989422804014327)


def _cdf64(x):
    return 0.5 * math.erfc(-x * 0.7071067811865476)


def _pdf64(x):
    return math.exp(-0.5 * x * x) * 0.3989422804014327


def norm_cdf(x):
    """Φ(x) = ½·erfc(-x/√2) on the GPU (in the CUDA simulator, float32 runs the same code compiled for the CPU)."""
    return _cdf32(x) if isinstance(x, np.float32) else _cdf64(x)


def norm_pdf(x):
    """φ(x) = e^(-x²/2)/√(2π)."""
    return _pdf32(x) if isinstance(x, np.float32) else _pdf64(x)


@overload(norm_cdf, target="generic")
def _norm_cdf(x):
    return (lambda x: _cdf32(x)) if x == nbtypes.float32 else _cdf64


@overload(norm_pdf, target="generic")
def _norm_pdf(x):
    return (lambda x: _pdf32(x)) if x == nbtypes.float32 else _pdf64


def _register_cuda():
    """The CUDA target's versions of what _cdf32/_pdf32 call (numba-cuda is optional, so not at import)."""

    @intrinsic(target="cuda")
    def rcp_approx_ftz(typingctx, s):
        """NVVM's div.approx.ftz.f32 with a numerator of 1: one MUFU.RCP."""
        if s != nbtypes.float32:
            return None

        def codegen(context, builder, sig, args):
            f = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.FloatType(), [ir.FloatType()] * 2),
                                               "llvm.nvvm.div.approx.ftz.f")
            return builder.call(f, [ir.Constant(ir.FloatType(), 1.0), args[0]])

        return s(s), codegen

    overload(_rcp_approx, target="cuda")(lambda s: lambda s: rcp_approx_ftz(s))
    overload(V._horner, target="cuda")(V._horner_ov)  # vecmath's float32 exp, compiled for CUDA


def _cuda_namespace():
    from numba import cuda

    _register_cuda()

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
