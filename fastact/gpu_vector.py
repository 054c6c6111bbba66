"""Four adjacent elements of a 1-D array in one memory access on the GPU (a 16-byte LDG.128/STG.128 for float32),
as PyTorch's elementwise kernels load them: a quarter of the load and store instructions of element-wise access.

`load4(a, v)` gives a[4v], ..., a[4v + 3]; `store4(a, v, p, q, r, s)` writes them. The caller guarantees that a's
data is aligned to four items (at most 16 bytes) and that 4v + 3 < a.size. As plain Python (the CUDA
simulator runs kernels so) they index the array element by element.
"""
from __future__ import annotations


def load4(a, v):
    i = 4 * int(v)
    return a[i], a[i + 1], a[i + 2], a[i + 3]


def store4(a, v, p, q, r, s):
    i = 4 * int(v)
    a[i], a[i + 1], a[i + 2], a[i + 3] = p, q, r, s


def alignment(itemsize: int) -> int:
    """The alignment load4/store4 need (and tell the compiler): 4 items, at most 16 bytes (float64's 32-byte
    vector takes two 16-byte accesses)."""
    return min(4 * itemsize, 16)


_ALIGNMENT = {n: alignment(n) for n in (2, 4, 8)}  # looked up on every launch


def aligned(address: int, itemsize: int) -> bool:
    """Whether data at `address` may be accessed four items at a time."""
    return address % (_ALIGNMENT.get(itemsize) or alignment(itemsize)) == 0


def intrinsics(target: str):
    """load4 and store4 as Numba intrinsics for `target`: one vector load/store of <4 x item> (the same LLVM IR
    for every target, so the CPU's tests check what the GPU runs)."""
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic
    from numba.np.numpy_support import as_dtype

    def vector_pointer(context, builder, aryty, ary, v):
        data = context.make_array(aryty)(context, builder, ary).data
        first = builder.gep(data, [builder.mul(v, ir.Constant(v.type, 4))], inbounds=True)
        vty = ir.VectorType(context.get_data_type(aryty.dtype), 4)
        return builder.bitcast(first, vty.as_pointer()), alignment(as_dtype(aryty.dtype).itemsize)

    def usable(a, v):
        return isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C" and v == types.uint64

    @intrinsic(target=target)
    def load4_(typingctx, a, v):
        if not usable(a, v):
            return None

        def codegen(context, builder, sig, args):
            ptr, align = vector_pointer(context, builder, sig.args[0], args[0], args[1])
            vec = builder.load(ptr, align=align)
            items = [builder.extract_element(vec, ir.Constant(ir.IntType(32), k)) for k in range(4)]
            return context.make_tuple(builder, sig.return_type, items)

        return types.UniTuple(a.dtype, 4)(a, v), codegen

    @intrinsic(target=target)
    def store4_(typingctx, a, v, p, q, r, s):
        if not (usable(a, v) and p == q == r == s == a.dtype):
            return None

        def codegen(context, builder, sig, args):
            ptr, align = vector_pointer(context, builder, sig.args[0], args[0], args[1])
            vec = ir.Constant(ptr.type.pointee, ir.Undefined)
            for k, item in enumerate(args[2:]):
                vec = builder.insert_element(vec, item, ir.Constant(ir.IntType(32), k))
            builder.store(vec, ptr, align=align)
            return context.get_dummy_value()

        return types.void(a, v, p, q, r, s), codegen

    return load4_, store4_


_REGISTERED: list = []


def register_cuda() -> None:
    """The CUDA target's load4/store4 (numba-cuda is optional, so not at import)."""
    if _REGISTERED:
        return
    _REGISTERED.append(True)
    from numba.extending import overload

    load4_cuda, store4_cuda = intrinsics("cuda")
    overload(load4, target="cuda")(lambda a, v: lambda a, v: load4_cuda(a, v))
    overload(store4, target="cuda")(lambda a, v, p, q, r, s: lambda a, v, p, q, r, s: store4_cuda(a, v, p, q, r, s))
