"""LLVM-level helpers that Numba does not expose: exponent-bit arithmetic and fused multiply-add.

The integer work is done in an integer of the float's own width (i32 for float32), so that it vectorizes with
as many lanes as the float code around it; Numba's own integers would be int64, and AVX2 has no vector
int64 -> float conversion.
"""
from llvmlite import ir
from numba.core import cgutils, types
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
        return _order_flip(builder, builder.bitcast(args[0], ir.IntType(width)), width)

    return types.int32(x) if width == 32 else types.int64(x), codegen


def _order_flip(builder, b, width):
    """The map between a float's bits and `ordered` (its own inverse), for an integer or a vector of them."""
    def const(v):
        return ir.Constant(b.type, [v] * b.type.count if isinstance(b.type, ir.VectorType) else v)

    return builder.xor(b, builder.and_(builder.ashr(b, const(width - 1)), const((1 << (width - 1)) - 1)))


@intrinsic
def unordered(typingctx, i):
    """The inverse of `ordered`: int32 -> float32, int64 -> float64."""
    if i not in (types.int32, types.int64):
        return None
    width = i.bitwidth
    fty = types.float32 if width == 32 else types.float64

    def codegen(context, builder, sig, args):
        return builder.bitcast(_order_flip(builder, args[0], width), context.get_value_type(fty))

    return fty(i), codegen




@intrinsic
def prefetch(typingctx, arr, i, write):
    """Hint that arr.flat[i] (C-contiguous arr) will be read, or written if `write` (a literal bool), soon.
    A hint only: an index outside the array is harmless (no address is dereferenced)."""
    if not isinstance(arr, types.Array) or not isinstance(i, types.Integer):
        return None
    if not isinstance(write, types.BooleanLiteral):
        return None
    rw = int(write.literal_value)

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        idx = context.cast(builder, args[1], sig.args[1], types.intp)
        ptr = builder.gep(ary.data, [idx])  # not inbounds: the index may pass the end
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [ptr.type], fnty)
        builder.call(fn, [ptr, _int(32, rw), _int(32, 3), _int(32, 1)])
        return context.get_dummy_value()

    return types.none(arr, i, write), codegen


# Row reductions over a short row held in one vector value (n a literal): LLVM's vector reductions, which the
# loop vectorizer does not produce for rows this short (it vectorizes across rows, with costly shuffles).
def _row_vector(context, builder, aryty, ary_value, lo, n):
    """The vector <n x T> at ary.flat[lo:lo + n]."""
    ary = context.make_array(aryty)(context, builder, ary_value)
    ptr = builder.gep(ary.data, [lo], inbounds=True)
    vty = ir.VectorType(context.get_value_type(aryty.dtype), n)
    return builder.load(builder.bitcast(ptr, vty.as_pointer()), align=aryty.dtype.bitwidth // 8)


def _splat(builder, value, n):
    v = builder.insert_element(ir.Constant(ir.VectorType(value.type, n), ir.Undefined), value, _int(32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(ir.IntType(32), n), [0] * n))


def _row_args(x, lo, n):
    return (isinstance(x, types.Array) and x.dtype in _LAYOUT and isinstance(lo, types.Integer)
            and isinstance(n, types.IntegerLiteral) and n.literal_value >= 1)


@intrinsic
def row_max_fill(typingctx, x, out, lo, n, scale):
    """out.flat[lo:lo + n] = max of x.flat[lo:lo + n]·scale in the order of `ordered` (a NaN with the sign bit
    clear wins, one with it set loses); n a literal. For n a power of two the max is taken by a butterfly of
    shuffles, which leaves it in every lane: no scalar round trip."""
    if not _row_args(x, lo, n) or scale != x.dtype or not isinstance(out, types.Array) or out.dtype != x.dtype:
        return None
    width, count = _LAYOUT[x.dtype][0], n.literal_value

    def codegen(context, builder, sig, args):
        i = context.cast(builder, args[2], sig.args[2], types.intp)
        v = builder.fmul(_row_vector(context, builder, sig.args[0], args[0], i, count),
                         _splat(builder, args[4], count))
        ivty = ir.VectorType(ir.IntType(width), count)
        b = _order_flip(builder, builder.bitcast(v, ivty), width)
        if count & (count - 1) == 0:
            step = count // 2
            while step:
                perm = ir.Constant(ir.VectorType(ir.IntType(32), count), [j ^ step for j in range(count)])
                other = builder.shuffle_vector(b, b, perm)
                b = builder.select(builder.icmp_signed(">", b, other), b, other)
                step //= 2
        else:
            fnty = ir.FunctionType(ir.IntType(width), [ivty])
            fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.vector.reduce.smax.v{count}i{width}")
            b = _splat(builder, builder.call(fn, [b]), count)
        m = builder.bitcast(_order_flip(builder, b, width), v.type)
        _row_store(context, builder, sig.args[1], args[1], i, m)
        return context.get_dummy_value()

    return types.none(x, out, lo, n, scale), codegen


def _row_store(context, builder, aryty, ary_value, lo, v):
    ary = context.make_array(aryty)(context, builder, ary_value)
    ptr = builder.gep(ary.data, [lo], inbounds=True)
    builder.store(v, builder.bitcast(ptr, v.type.as_pointer()), align=aryty.dtype.bitwidth // 8)


@intrinsic
def row_sum(typingctx, x, lo, n):
    """Σ x.flat[lo:lo + n] in float64 (summed in a tree, not in order); n a literal."""
    if not _row_args(x, lo, n):
        return None
    count = n.literal_value

    def codegen(context, builder, sig, args):
        v = _row_vector(context, builder, sig.args[0], args[0], context.cast(builder, args[1], sig.args[1],
                                                                               types.intp), count)
        return _reduce_add64(builder, v, count)

    return types.float64(x, lo, n), codegen


@intrinsic
def row_dot(typingctx, x, y, lo, n):
    """Σ x·y over .flat[lo:lo + n], products and sum in float64 (a tree); n a literal."""
    if not _row_args(x, lo, n) or not isinstance(y, types.Array) or y.dtype != x.dtype:
        return None
    count = n.literal_value

    def codegen(context, builder, sig, args):
        i = context.cast(builder, args[2], sig.args[2], types.intp)
        a = _row_vector(context, builder, sig.args[0], args[0], i, count)
        b = _row_vector(context, builder, sig.args[1], args[1], i, count)
        d64 = ir.VectorType(ir.DoubleType(), count)
        if a.type != d64:
            a, b = builder.fpext(a, d64), builder.fpext(b, d64)
        return _reduce_add64(builder, builder.fmul(a, b), count)

    return types.float64(x, y, lo, n), codegen


def _reduce_add64(builder, v, count):
    d64 = ir.VectorType(ir.DoubleType(), count)
    if v.type != d64:
        v = builder.fpext(v, d64)
    fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType(), d64])
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.vector.reduce.fadd.v{count}f64")
    return builder.call(fn, [ir.Constant(ir.DoubleType(), -0.0), v], fastmath=("reassoc",))


@intrinsic
def row_fill(typingctx, x, lo, n, value):
    """x.flat[lo:lo + n] = value, one vector store; n a literal."""
    if not _row_args(x, lo, n) or value != x.dtype:
        return None
    count = n.literal_value

    def codegen(context, builder, sig, args):
        i = context.cast(builder, args[1], sig.args[1], types.intp)
        _row_store(context, builder, sig.args[0], args[0], i, _splat(builder, args[3], count))
        return context.get_dummy_value()

    return types.none(x, lo, n, value), codegen
