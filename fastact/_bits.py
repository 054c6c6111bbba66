"""LLVM-level helpers that Numba does not expose: exponent-bit arithmetic and fused multiply-add.

The integer work is done in an integer of the float's own width (i32 for float32), so that it vectorizes with
as many lanes as the float code around it; Numba's own integers would be int64, and AVX2 has no vector
int64 -> float conversion.
"""
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

# float type -> (integer width, mantissa bits, exponent bias, bits of 1.5·2^mantissa, bits of √½)
_LAYOUT = {
    types.float32: (32, 23, 127, 0x4B400000, 0x3F3504F3),
    types.float64: (64, 52, 1023, 0x4338000000000000, 0x3FE6A09E667F3BCD),
}


def _int(width, v):
    return ir.Constant(ir.IntType(width), v)


@intrinsic
def scale_by_shifted(typingctx, p, k, high):
    """p·2^n where k = n + 1.5·2^mantissa_bits (the rounding trick of exp's range reduction), with one power of
    two built from k's bits.

    high selects the form, so that one factor covers the range: True: 2^(n - 1)·2, for -bias + 2 <= n <= bias + 1
    (up to one past the top exponent); False: 2^(n + m + 1)·2^-(m + 1) (m mantissa bits), for n <= bias - m - 2
    (103 for float32, 970 for float64) down through the subnormal range, rounding once at the end. Where high
    is a known constant after optimisation (e.g. the sign of -|x|), the selects fold away.
    """
    if p not in _LAYOUT or k != p or not isinstance(high, types.Boolean):
        return None
    width, mant, bias, _, _ = _LAYOUT[p]

    def codegen(context, builder, sig, args):
        pv, kv, hv = args
        n_bits = builder.shl(builder.bitcast(kv, ir.IntType(width)), _int(width, mant))  # n·2^m: k's top bits drop
        offset = builder.select(hv, _int(width, (bias - 1) << mant), _int(width, (bias + mant + 1) << mant))
        s = builder.bitcast(builder.add(n_bits, offset), pv.type)
        f = builder.select(hv, ir.Constant(pv.type, 2.0), ir.Constant(pv.type, 2.0 ** -(mant + 1)))
        return builder.fmul(builder.fmul(pv, s), f)

    return p(p, k, high), codegen


@intrinsic
def pow2_shifted(typingctx, k):
    """2^n where k = n + 1.5·2^mantissa_bits, for n in the normal exponent range (-bias < n <= bias)."""
    if k not in _LAYOUT:
        return None
    width, mant, bias, _, _ = _LAYOUT[k]

    def codegen(context, builder, sig, args):
        n_bits = builder.shl(builder.bitcast(args[0], ir.IntType(width)), _int(width, mant))
        e = builder.add(n_bits, _int(width, bias << mant))
        return builder.bitcast(e, args[0].type)

    return k(k), codegen


def _split_codegen(want_exponent, u):
    width, mant, _, _, sqrth_bits = _LAYOUT[u]

    def codegen(context, builder, sig, args):
        ity = ir.IntType(width)
        b = builder.sub(builder.bitcast(args[0], ity), _int(width, sqrth_bits))
        if want_exponent:
            k = builder.ashr(b, _int(width, mant))
            return builder.sitofp(builder.trunc(k, ir.IntType(32)) if width > 32 else k, args[0].type)
        m = builder.add(builder.and_(b, _int(width, (1 << mant) - 1)), _int(width, sqrth_bits))
        return builder.bitcast(m, args[0].type)

    return codegen


@intrinsic
def split_exponent(typingctx, u):
    """k (as a float) with u = 2^k·m and m in [√½, √2), for positive normal u."""
    if u not in _LAYOUT:
        return None
    return u(u), _split_codegen(True, u)


@intrinsic
def split_mantissa(typingctx, u):
    """m in [√½, √2) with u = 2^k·m, for positive normal u."""
    if u not in _LAYOUT:
        return None
    return u(u), _split_codegen(False, u)


@intrinsic
def fma(typingctx, a, b, c):
    """a*b + c with one rounding (llvm.fma; a single instruction on FMA hardware)."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        return builder.fma(*args)

    return a(a, a, a), codegen


@intrinsic
def ordered(typingctx, x):
    """A signed integer of x's width whose order is x's order (-0 just below +0; NaN with the sign bit clear
    above +inf, with it set below -inf). Integer max reductions vectorize where float ones need fast-math."""
    if x not in _LAYOUT:
        return None
    width = _LAYOUT[x][0]

    def codegen(context, builder, sig, args):
        b = builder.bitcast(args[0], ir.IntType(width))
        flip = builder.and_(builder.ashr(b, _int(width, width - 1)), _int(width, (1 << (width - 1)) - 1))
        return builder.xor(b, flip)

    return types.int32(x) if width == 32 else types.int64(x), codegen


@intrinsic
def unordered(typingctx, i):
    """The inverse of `ordered`: int32 -> float32, int64 -> float64."""
    if i not in (types.int32, types.int64):
        return None
    width = i.bitwidth
    fty = types.float32 if width == 32 else types.float64

    def codegen(context, builder, sig, args):
        b = args[0]
        flip = builder.and_(builder.ashr(b, _int(width, width - 1)), _int(width, (1 << (width - 1)) - 1))
        return builder.bitcast(builder.xor(b, flip), context.get_value_type(fty))

    return fty(i), codegen


