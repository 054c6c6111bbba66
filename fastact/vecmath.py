"""fastact's own branch-free scalar math, for float32 and float64.

Numba without SVML compiles ``math.exp`` & co. to one scalar libm call per element, which stops a loop from
vectorizing. These functions are polynomial/bit-manipulation code with selects instead of branches, so LLVM
vectorizes loops that call them. NaN propagates and ±inf give the mathematical limits.

Each name is a plain Python function (NumPy semantics, usable from Python) that Numba's CPU target replaces by
the float32 or float64 kernel for the argument's type. The CUDA backend binds the same names to CUDA's libdevice.

Methods: exp/expm1 reduce x = n·ln2 + r (|r| <= ln2/2, Cody-Waite), evaluate a polynomial of r (minimax fits
for float32, Taylor for float64) and scale by one power of two built from exponent bits; exp_neg_abs, the
exponential of every stable form, folds that scaling's second factor into the polynomial's coefficients.
log1p reduces 1+x = 2^k·m (m in [√½, √2)) and uses the atanh series; log1p_unit (x in [0, 1] only) is one
polynomial. tanh(x) = t/(t+2) with t = expm1(2x). norm_cdf/erfc use erfc(a) = exp(-a²)·erfcx(a) with erfcx a fitted
polynomial of z = (a-2)/(a+2) (float64: (a-4)/(a+4), carried in double-float) and a² split exactly with an FMA;
float64 erf/erfc/Φ take erf's Taylor series below a = ½.
"""
import functools
import math

import numpy as np
from numba.core import types
from numba.extending import overload

from ._bits import fma, pow2_shifted, scale_by_shifted, split_exponent, split_mantissa
from ._jit import JIT_OPTIONS, cpu_jit

_inline_jit = cpu_jit(inline="always")

@functools.cache
def _horner_source(n):
    """Horner's rule for a tuple of n coefficients (constant term first), written out: a loop over the tuple
    would index it at run time, which stops the caller's loop from vectorizing."""
    lines = ["def horner(c, x):", f"    p = c[{n - 1}]"]
    lines += [f"    p = p * x + c[{i}]" for i in range(n - 2, -1, -1)]
    scope = {}
    exec("\n".join(lines + ["    return p"]), scope)
    return scope["horner"]


def _horner(c, x):
    """c[0] + x·(c[1] + x·(...)) for a constant tuple c, by Horner's rule (in FMAs, once compiled)."""
    return _horner_source(len(c))(c, x)


@overload(_horner, target="cpu", jit_options=JIT_OPTIONS, inline="always")
def _horner_ov(c, x):
    if isinstance(c, types.BaseTuple) and len(c) > 0:
        return _horner_source(len(c))
    return None


f32 = np.float32
f64 = np.float64
_INF32, _INF64 = f32(np.inf), f64(np.inf)
_NAN32, _NAN64 = f32(np.nan), f64(np.nan)

# ---------------------------------------------------------------------------------------------------- exp
_LOG2E32, _SHIFT32 = f32(1.4426950408889634), f32(12582912.0)  # 1.5·2^23: adding it rounds to an integer
_LN2HI32, _LN2LO32 = f32(0.693359375), f32(-2.1219444005469057e-4)
_EXPM1P32 = tuple(f32(c) for c in (0.4999999701976776, 0.1666654348373413, 0.04166720062494278,
                                    0.008366547524929047, 0.0013882515486329794))
# e^r = 1 + r·(c1 + r·(c2 + ... + r·c6)) on |r| <= ln2/2: relative minimax of degree 6 (fit error 2e-9; 0.85 ULP
# with Horner's rule in FMAs, which costs fewer operations than Cephes' 1 + r + r²·P(r)).
_EXPP32 = tuple(f32(c) for c in (1.0, 1.0, 0.4999999403953552, 0.16666430234909058, 0.04166800528764725,
                                  0.008374196477234364, 0.0013843605993315578))
# The same scaled by 2^-24, for e^-a = (2^-24·e^r)·2^(n+24): one factor, exact while n + 24 is a normal exponent.
_EXPP32_LOW = tuple(f32(c * 2.0**-24) for c in _EXPP32)
_SHIFT32_LOW = f32(12582912.0 + 24.0)  # rounds to an integer as _SHIFT32 does; k's bits carry n + 24
_LOG2E64, _SHIFT64 = f64(1.4426950408889634), f64(6755399441055744.0)  # 1.5·2^52
_SHIFT32_HALF, _SHIFT64_HALF = _SHIFT32 - f32(1.0), _SHIFT64 - f64(1.0)  # k's bits carry n - 1: 2^(n-1)
_LN2HI64, _LN2LO64 = f64(6.93147180369123816490e-01), f64(1.90821492927058770002e-10)
_E64 = tuple(f64(1.0 / math.factorial(i)) for i in range(16))
_E64_EXPM1 = _E64[2:15]  # expm1(r) = r + r²·Σ r^(i-2)/i!


@_inline_jit
def _reduce32(x, shift=_SHIFT32):
    """x = n·ln2 + r; returns r and k = n + shift (with _SHIFT32, the form scale_by_shifted takes)."""
    k = x * _LOG2E32 + shift
    n = k - shift
    r = x - n * _LN2HI32
    r = r - n * _LN2LO32
    return r, k


@_inline_jit
def _reduce64(x, shift=_SHIFT64):
    k = x * _LOG2E64 + shift
    n = k - shift
    r = x - n * _LN2HI64
    r = r - n * _LN2LO64
    return r, k


@_inline_jit
def _expm1_poly32(r):
    """expm1(r) for |r| <= ln2/2 as r + r²·P(r), P a relative minimax of degree 4 (fit error 1.3e-8)."""
    return r + r * r * _horner(_EXPM1P32, r)


@_inline_jit
def _expm1_poly64(r):
    """expm1(r) for |r| <= ln2/2, Taylor to r^14."""
    return r + r * r * _horner(_E64_EXPM1, r)


@_inline_jit
def _estrin_exp32(r, c):
    """exp's polynomial (_EXPP32) by Estrin's scheme: a dependency chain of 4 FMAs instead of 6, one more
    operation, and 1.44 ULP against 1.06 for exp (its last addition rounds a sum of two rounded terms)."""
    r2 = r * r
    a = c[1] * r + c[0]
    b = c[3] * r + c[2]
    d = (c[5] * r + c[4]) + c[6] * r2
    return a + r2 * (b + r2 * d)


@_inline_jit
def _exp_poly32(r):
    return _horner(_EXPP32, r)


# In exp, `high = xc > 0` picks the form of the scaling; for an argument such as -|x| it is known false and the
# select folds away.
@_inline_jit
def _exp32(x):
    xc = f32(-104.0) if x < f32(-104.0) else x  # comparisons keep NaN
    xc = f32(89.0) if xc > f32(89.0) else xc
    r, k = _reduce32(xc)
    return scale_by_shifted(_exp_poly32(r), k, xc > f32(0.0))


@_inline_jit
def _exp64(x):
    xc = f64(-746.0) if x < f64(-746.0) else x
    xc = f64(710.0) if xc > f64(710.0) else xc
    r, k = _reduce64(xc)
    return scale_by_shifted(_expm1_poly64(r) + f64(1.0), k, xc > f64(0.0))


@_inline_jit
def _exp_neg_abs32(x):
    """e^(-|x|): the scaling's factor folded into the polynomial, the argument's sign folded into the constants."""
    return _exp_neg_sum32(abs(x), f32(0.0))


@_inline_jit
def _exp_neg_sum32(a, tail):
    """e^-(a + tail) for a >= 0 and |tail| <= ulp(a): the tail joins the reduced argument."""
    r, k = _reduce_nonpos32(-a, tail)
    return _horner(_EXPP32_LOW, r) * pow2_shifted(k)


@_inline_jit
def _exp_nonpos32(x):
    """e^x for x <= 0. Estrin's scheme: softmax's sums of e^(x - max) are bound by this dependency chain (measured
    0.50 -> 0.40 ns/element on one core, in cache)."""
    r, k = _reduce_nonpos32(x, f32(0.0))
    return _estrin_exp32(r, _EXPP32_LOW) * pow2_shifted(k)


@_inline_jit
def _reduce_nonpos32(x, tail):
    """x - tail = n·ln2 + r for x <= 0 and |tail| <= ulp(x); returns r and k = n + 24 + 1.5·2^23 (the form
    pow2_shifted takes), for a polynomial scaled by 2^-24 (_EXPP32_LOW)."""
    x = f32(-104.0) if x < f32(-104.0) else x  # e^-104 rounds to 0; keeps NaN
    k = x * _LOG2E32 + _SHIFT32_LOW
    n = k - _SHIFT32_LOW
    r = n * -_LN2HI32 + x
    r = r - n * _LN2LO32
    return r - tail, k


@_inline_jit
def _exp_neg_abs64(x):
    return _exp_nonpos64(-abs(x))


@_inline_jit
def _exp_nonpos64(x):
    return _exp_nonpos_sum64(x, f64(0.0))


@_inline_jit
def _exp_nonpos_sum64(x, tail):
    """e^(x - tail) for x <= 0 and |tail| <= ulp(x): the tail joins the reduced argument."""
    xc = f64(-746.0) if x < f64(-746.0) else x
    r, k = _reduce64(xc)
    return scale_by_shifted(_expm1_poly64(r - tail) + f64(1.0), k, False)


@_inline_jit
def _expm1_small32(x):
    """e^x - 1 for x in [-18, 88], no clamping, as 2^n·(e^r - 1) + (2^n - 1)."""
    r, k = _reduce32(x)
    s = pow2_shifted(k)
    return s * _expm1_poly32(r) + (s - f32(1.0))


# expm1 scales by h = 2^(n - 1) and doubles, ((e^r - 1)·h + (h - ½))·2: h stays finite up to n = 128, so one
# path covers the whole range (a second path for large x cost CELU, where LLVM cannot prove x/alpha <= 0, 25%).
@_inline_jit
def _expm1_32(x):
    xc = f32(-18.0) if x < f32(-18.0) else x  # expm1(-18) rounds to -1
    xc = f32(89.0) if xc > f32(89.0) else xc
    r, k = _reduce32(xc, _SHIFT32_HALF)
    h = pow2_shifted(k)
    y = (h * _expm1_poly32(r) + (h - f32(0.5))) * f32(2.0)
    return x if x == f32(0.0) else y  # keeps the sign of zero


@_inline_jit
def _expm1_small64(x):
    r, k = _reduce64(x)
    s = pow2_shifted(k)
    return s * _expm1_poly64(r) + (s - f64(1.0))


@_inline_jit
def _expm1_64(x):
    xc = f64(-38.0) if x < f64(-38.0) else x
    xc = f64(710.0) if xc > f64(710.0) else xc
    r, k = _reduce64(xc, _SHIFT64_HALF)
    h = pow2_shifted(k)
    y = (h * _expm1_poly64(r) + (h - f64(0.5))) * f64(2.0)
    return x if x == f64(0.0) else y


# ---------------------------------------------------------------------------------------------------- log1p
_L32 = tuple(f32(2.0 / (2 * j + 1)) for j in range(12))
_L64 = tuple(f64(2.0 / (2 * j + 1)) for j in range(12))


@_inline_jit
def _log1p32(x):
    u = x + f32(1.0)
    kf = split_exponent(u)
    m = split_mantissa(u)
    c = (x - (u - f32(1.0))) / u  # what the rounding of 1+x lost
    f = m - f32(1.0)
    s = f / (f32(2.0) + f)
    z = s * s
    L = _L32
    R = z * (L[1] + z * (L[2] + z * (L[3] + z * L[4])))
    hfsq = f32(0.5) * f * f
    y = kf * _LN2HI32 + ((f - (hfsq - s * (hfsq + R))) + (kf * _LN2LO32 + c))
    y = x if x == _INF32 else y
    y = -_INF32 if x == f32(-1.0) else y
    y = _NAN32 if x < f32(-1.0) else y
    return x if abs(x) < f32(2.0**-24) else y


@_inline_jit
def _log1p64(x):
    u = x + f64(1.0)
    kf = split_exponent(u)
    m = split_mantissa(u)
    c = (x - (u - f64(1.0))) / u
    f = m - f64(1.0)
    s = f / (f64(2.0) + f)
    z = s * s
    L = _L64
    R = z * (L[1] + z * (L[2] + z * (L[3] + z * (L[4] + z * (L[5] + z * (
        L[6] + z * (L[7] + z * (L[8] + z * (L[9] + z * L[10])))))))))
    hfsq = f64(0.5) * f * f
    y = kf * _LN2HI64 + ((f - (hfsq - s * (hfsq + R))) + (kf * _LN2LO64 + c))
    y = x if x == _INF64 else y
    y = -_INF64 if x == f64(-1.0) else y
    y = _NAN64 if x < f64(-1.0) else y
    return x if abs(x) < f64(2.0**-53) else y


# ln(1 + x) for x in [0, 1] (softplus's log(1 + e^-|x|)) as x + x²·P(x): no reduction and no division. P of
# degree 8 from a Chebyshev fit of ln(1 + x)/x on [0, 1] (fit error 5e-9 relative; 1.25 ULP in float32).
_LOG1P_UNIT32 = tuple(f32(c) for c in (
    -0.49999892648059774, 0.33329710498853826, -0.2495161626235586, 0.19663274254953592, -0.15269667068616236,
    0.10543623786591605, -0.05637361274985501, 0.01954252722124491, -0.003176057010151567))


@_inline_jit
def _log1p_unit32(x):
    return x + (x * x) * _horner(_LOG1P_UNIT32, x)


@_inline_jit
def _log1p_unit64(x):
    return _log1p64(x)


# ---------------------------------------------------------------------------------------------------- tanh
@_inline_jit
def _tanh32(x):
    a = abs(x)
    a = f32(9.0) if a > f32(9.0) else a  # tanh(9) rounds to 1
    t = _expm1_small32(a + a)
    y = t / (t + f32(2.0))  # on a >= 0 the quotient does not amplify the error of t
    y = -y if x < f32(0.0) else y
    return x if a < f32(2.0**-12) else y


@_inline_jit
def _tanh64(x):
    a = abs(x)
    a = f64(20.0) if a > f64(20.0) else a
    t = _expm1_small64(a + a)
    y = t / (t + f64(2.0))
    y = -y if x < f64(0.0) else y
    return x if a < f64(2.0**-27) else y


# ---------------------------------------------------------------------------------------------------- erf, erfc, Φ
# erfcx(a) = exp(a²)·erfc(a) = Q(z)/(a + 2) with z = (a - 2)/(a + 2) = 1 - 4/(a + 2) (Weideman's variable), Q of
# degree 10 fitted on a in [0, 10.5] (relative fit error 3.6e-9).
_ERFCXQ = (1.0215827089245781, -0.6871606941719849, 0.2794717512688072, -0.036441871637724346, -0.02150550609901955,
           0.006476635190396315, 0.0030620005566980996, -0.0008345326482933069, -0.000592698764813368,
           4.964817914038244e-05, 7.093630294512099e-05)
_ERFCXQ_HIGH32 = tuple(f32(c) for c in _ERFCXQ[2:])
_ERFCXQ0_64, _ERFCXQ1_64 = f64(_ERFCXQ[0]), f64(_ERFCXQ[1])
# erf(a) = a·Σ d_j a^(2j) for |a| < 0.84375 (Taylor, 2/√π·(-1)^j/(j!(2j+1))).
_ERF_T32 = tuple(f32(2 / math.sqrt(math.pi) * (-1) ** j / (math.factorial(j) * (2 * j + 1))) for j in range(10))
_ERF_T32_HIGH = _ERF_T32[1:]
_SQRT1_2_32, _SQRT1_2_64 = f32(math.sqrt(0.5)), f64(math.sqrt(0.5))
_INV_SQRT_2PI_64 = f64(1 / math.sqrt(2 * math.pi))


@_inline_jit
def _erfcx32(a):
    """erfcx(a) in float64 for float32 a in [0, 10.5]. Q's terms of degree >= 2 run in float32 (they carry
    under a third of Q); its last two steps and 1/(a + 2) run in float64: a float32 a + 2 would round, and erfcx
    moves by up to 2.3 times that relative error."""
    q = f32(1.0) / (a + f32(2.0))
    z = f32(1.0) - f32(4.0) * q
    p = _horner(_ERFCXQ_HIGH32, z)
    q64 = f64(1.0) / (f64(a) + f64(2.0))
    z64 = f64(1.0) - f64(4.0) * q64
    return (_ERFCXQ0_64 + z64 * (_ERFCXQ1_64 + z64 * f64(p))) * q64


@_inline_jit
def _exp_neg_sq32(a, half):
    """exp(-a²·half) for float32 a and half in {1, 0.5}; a² is split exactly (hi + lo) so that its rounding is
    not amplified by the exponential."""
    a = abs(a)
    a = f32(20.0) if a > f32(20.0) else a  # exp(-200) is 0 in float32; keeps hi and lo finite
    hi = a * a
    lo = fma(a, a, -hi)
    return _exp_neg_sum32(hi * half, lo * half)


@_inline_jit
def _erfc_pos32(a, e):
    """erfc(a) in float64 for float32 a >= 0 given e = exp(-a²)."""
    ac = f32(10.5) if a > f32(10.5) else a
    return f64(e) * _erfcx32(ac)


@_inline_jit
def _erf_small32(a):
    z = a * a
    return a * _ERF_T32[0] + a * z * _horner(_ERF_T32_HIGH, z)


@_inline_jit
def _erfc32(x):
    a = abs(x)
    c = f32(_erfc_pos32(a, _exp_neg_sq32(a, f32(1.0))))
    return f32(2.0) - c if x < f32(0.0) else c  # c <= 1: its rounding costs 2 - c under ¼ ULP


@_inline_jit
def _erf32(x):
    a = abs(x)
    c = _erfc_pos32(a, _exp_neg_sq32(a, f32(1.0)))
    big = f32(f64(1.0) - c)
    big = -big if x < f32(0.0) else big
    return _erf_small32(x) if a < f32(0.84375) else big


@_inline_jit
def _norm_cdf32(x):
    a = abs(x) * _SQRT1_2_32  # erfcx is insensitive to its rounding (a·|erfcx′/erfcx| < 1)
    c = f32(f64(0.5) * _erfc_pos32(a, _exp_neg_sq32(x, f32(0.5))))
    return c if x < f32(0.0) else f32(1.0) - c  # c <= ½: its rounding costs 1 - c under ¼ ULP


@_inline_jit
def _norm_pdf32(x):
    return f32(_INV_SQRT_2PI_64 * f64(_exp_neg_sq32(x, f32(0.5))))


# float64: erfc(a) = exp(-a²)·erfcx(a) for a >= ½, erfcx(a) = (1 - z)·F(z) with z = (a - 4)/(a + 4) in
# [-0.78, 0.78] (a up to 32), F of degree 26: the Chebyshev interpolant of erfcx(a)/(1 - z) on that interval
# (relative fit error 1e-20), in monomials (1.6 ε with Horner's rule in FMAs). Below ½, erf's Taylor series.
_ERFCX_F64 = tuple(f64(c) for c in (
    0.13699945762506138, -0.12206859113511025, 0.09665108778315465, -0.06760672891415455, 0.04135644848475072,
    -0.021751367154984356, 0.009547689363694874, -0.0032962566676906814, 0.0007640069564092324,
    -3.5119856563659466e-05, -5.68815801902584e-05, 2.2101591859305283e-05, -4.544273958185203e-07,
    -2.3575684862584377e-06, 5.869187210569169e-07, 1.7791356254384167e-07, -1.0606668715901356e-07,
    -9.2563839462607e-09, 1.599216258830423e-08, -7.821702761868423e-11, -2.4014746979000285e-09,
    1.1618394975974103e-10, 3.732205412763011e-10, -2.000554476653671e-11, -5.522496042190058e-11,
    1.7255122404672932e-12, 5.535208992569084e-12,))
_ERFCX_F64_0LO = f64(7.196575097465762e-18)  # F's constant term minus its float64 rounding
_ERF_T64 = tuple(f64(2 / math.sqrt(math.pi) * (-1) ** j / (math.factorial(j) * (2 * j + 1))) for j in range(13))
_ERFCX_F64_HIGH = _ERFCX_F64[3:]
_TWO_OVER_SQRT_PI_64 = f64(2 / math.sqrt(math.pi))
_HALF_SQRT1_2_64 = f64(0.5 * math.sqrt(0.5))


@_inline_jit
def _two_sum64(a, b):
    """s + t = a + b exactly, s = fl(a + b)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@_inline_jit
def _horner_step2(ph, pl, x, c):
    """One Horner step (ph + pl)·x + c in double-float: the rounding errors of the product and the sum are
    carried in the low part."""
    prod = ph * x
    perr = fma(ph, x, -prod)
    s, serr = _two_sum64(prod, c)
    return s, pl * x + (perr + serr)


@_inline_jit
def _erfcx64(a):
    """erfcx(a) = exp(a²)·erfc(a) for a in [½, 28], to about 1 ε.

    F's terms cancel (up to 4 times F near a = 28), so its last three Horner steps run in double-float. z is
    carried as zh + zl: erfcx moves by up to twice z's relative error, so zl is added through the derivative
    d erfcx/dz = (2a·erfcx - 2/√π)·(a + 4)²/8. One rounding at the end."""
    nh, nl = _two_sum64(a, f64(-4.0))
    dh, dl = _two_sum64(a, f64(4.0))
    zh = nh / dh
    zl = (fma(-zh, dh, nh) + (nl - zh * dl)) / dh  # the division's remainder is exact
    c = _ERFCX_F64
    ph, pl = _horner_step2(_horner(_ERFCX_F64_HIGH, zh), f64(0.0), zh, c[2])
    ph, pl = _horner_step2(ph, pl, zh, c[1])
    ph, pl = _horner_step2(ph, pl, zh, c[0])
    pl = pl + _ERFCX_F64_0LO
    oh = f64(1.0) - zh
    ol = (f64(1.0) - oh) - zh
    d = (f64(2.0) * a * (ph * oh) - _TWO_OVER_SQRT_PI_64) * (dh * dh) * f64(0.125)
    return fma(ph, oh, ph * ol + pl * oh + d * zl)


@_inline_jit
def _erfc_big64(a):
    """erfc(a) for a >= ½ (NaN kept); a² split exactly so that its rounding is not amplified by exp."""
    a = f64(0.5) if a < f64(0.5) else a
    a = f64(28.0) if a > f64(28.0) else a  # erfc(28) is 0 in float64
    hi = a * a
    lo = fma(a, a, -hi)
    return _exp_nonpos_sum64(-hi, lo) * _erfcx64(a)


@_inline_jit
def _erf_small64(x):
    return x * _horner(_ERF_T64, x * x)


@_inline_jit
def _erf64(x):
    big = f64(1.0) - _erfc_big64(abs(x))
    big = -big if x < f64(0.0) else big
    return _erf_small64(x) if abs(x) < f64(0.5) else big


@_inline_jit
def _erfc64(x):
    c = _erfc_big64(abs(x))
    c = f64(2.0) - c if x < f64(0.0) else c
    return f64(1.0) - _erf_small64(x) if abs(x) < f64(0.5) else c


@_inline_jit
def _norm_cdf64(x):
    u = abs(x) * _SQRT1_2_64  # erfcx is insensitive to its rounding
    uc = f64(0.5) if u < f64(0.5) else u
    uc = f64(28.0) if uc > f64(28.0) else uc
    xa = abs(x)
    xa = f64(40.0) if xa > f64(40.0) else xa  # e^-800 is 0; keeps hi and lo finite
    hi = xa * xa
    lo = fma(xa, xa, -hi)
    c = f64(0.5) * _exp_nonpos_sum64(f64(-0.5) * hi, f64(0.5) * lo) * _erfcx64(uc)
    big = c if x < f64(0.0) else f64(1.0) - c
    small = f64(0.5) + x * _HALF_SQRT1_2_64 * _horner(_ERF_T64, f64(0.5) * (x * x))
    return small if u < f64(0.5) else big


@_inline_jit
def _norm_pdf64(x):
    x = abs(x)
    x = f64(40.0) if x > f64(40.0) else x  # φ(40) is 0 in float64; keeps hi and lo finite
    hi = x * x
    lo = fma(x, x, -hi)
    return _INV_SQRT_2PI_64 * _exp_nonpos_sum64(f64(-0.5) * hi, f64(0.5) * lo)


# ---------------------------------------------------------------------------------------------------- public names
def _erfc_np(x):
    return np.vectorize(math.erfc, otypes=[np.float64])(x)


def _erf_np(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _typed(name, doc, impl32, impl64, python_impl, inline="never"):
    """A Python function `name` that Numba's CPU target compiles to impl32/impl64 by argument type.

    inline="always" inlines at Numba IR level: needed where the call tree is too deep for LLVM's inliner,
    which would leave a call in the loop and stop it from vectorizing.
    """

    def stub(x):
        return python_impl(x)

    stub.__name__ = stub.__qualname__ = name
    stub.__doc__ = doc

    @overload(stub, target="cpu", jit_options=JIT_OPTIONS, inline=inline)
    def _ov(x):
        if x == types.float32:
            return lambda x: impl32(x)
        if x == types.float64:
            return lambda x: impl64(x)
        return None

    return stub


exp = _typed("exp", "e^x.", _exp32, _exp64, np.exp)
exp_neg_abs = _typed("exp_neg_abs", "e^(-|x|), cheaper than exp(-abs(x)): the exponential of every stable form "
                     "(sigmoid, softplus, softmax).", _exp_neg_abs32, _exp_neg_abs64, lambda x: np.exp(-np.abs(x)))
exp_nonpos = _typed("exp_nonpos", "e^x for x <= 0 (or NaN): softmax's e^(x - max); other x are outside its "
                    "domain.", _exp_nonpos32, _exp_nonpos64, np.exp)
expm1 = _typed("expm1", "e^x - 1, accurate near 0.", _expm1_32, _expm1_64, np.expm1)
log1p = _typed("log1p", "ln(1 + x), accurate near 0.", _log1p32, _log1p64, np.log1p)
log1p_unit = _typed("log1p_unit", "ln(1 + x) for 0 <= x <= 1, as in softplus's ln(1 + e^-|x|); other x are "
                    "outside its domain.", _log1p_unit32, _log1p_unit64, np.log1p)
tanh = _typed("tanh", "Hyperbolic tangent.", _tanh32, _tanh64, np.tanh)
erf = _typed("erf", "Error function 2/√π ∫₀ˣ e^(-t²) dt.", _erf32, _erf64, _erf_np, inline="always")
erfc = _typed("erfc", "1 - erf(x), accurate for large x.", _erfc32, _erfc64, _erfc_np, inline="always")
norm_cdf = _typed("norm_cdf", "Φ(x) = ½·erfc(-x/√2), relative accuracy in both tails.", _norm_cdf32, _norm_cdf64,
                  lambda x: 0.5 * _erfc_np(-np.asarray(x, np.float64) / math.sqrt(2)), inline="always")
norm_pdf = _typed("norm_pdf", "φ(x) = e^(-x²/2)/√(2π).", _norm_pdf32, _norm_pdf64,
                  lambda x: np.exp(-0.5 * np.square(x)) / math.sqrt(2 * math.pi), inline="always")

MATH_FUNCTIONS = {"exp": exp, "exp_neg_abs": exp_neg_abs, "exp_nonpos": exp_nonpos, "expm1": expm1, "log1p": log1p, "log1p_unit": log1p_unit,
                  "tanh": tanh, "erf": erf, "erfc": erfc, "norm_cdf": norm_cdf, "norm_pdf": norm_pdf}
