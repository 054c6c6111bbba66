"""Multi-threaded kernels that run their serial twins on chunks.

A parallel kernel here is a prange over chunks whose body calls the serial kernel through `call_noinline`.
Left to itself, LLVM inlines the serial loop into Numba's parallel wrapper and compiles it there to markedly
slower code (constants reloaded on every iteration; measured: sigmoid forward 1.06 vs 0.72 ns/element on one
core, in cache); a call it may not inline keeps the serial kernel's code, at the cost of one call per chunk.
"""
from numba import types
from numba.extending import intrinsic

from ._jit import cpu_jit

CHUNK = 16384  # elements per call of the serial kernel
# The fixed partition of rows that a backward sums a parameter's gradient over (dbias, PReLU's dweight): a
# function of the shape only, so the sum is bit-identical whatever the thread count. At most 256 tasks, and at
# most 2^22 partial sums in all.
_MAX_TASKS = 256
_MAX_PARTIALS = 1 << 22
# A task sums its rows into its partials a tile of this many columns at a time, so that the tile of float64
# partials stays in cache however wide the rows (measured at 32 × 2^20: bias_act relu backward 27 -> 20-24 ms,
# PReLU backward 41 -> 32-33 ms).
COLUMN_TILE = 8192


def fixed_tasks(rows: int, n: int) -> int:
    """Number of tasks (rows of partial sums, each of n) that `rows` rows are cut into."""
    return max(1, min(rows, _MAX_TASKS, _MAX_PARTIALS // max(n, 1)))


@intrinsic
def call_noinline(typingctx, kernel, args):
    """kernel(*args) for a jitted function returning None, through a call that LLVM may not inline."""
    if not isinstance(kernel, types.Dispatcher) or not isinstance(args, types.BaseTuple):
        return None
    argtys = tuple(args)
    target = kernel.get_call_type(typingctx, argtys, {})  # compiles the kernel for these types
    if target is None:
        return None

    def codegen(context, builder, sig, llargs):
        cres = kernel.dispatcher.overloads[tuple(target.args)]
        context.add_linking_libs([cres.library])
        fn = context.declare_function(builder.module, cres.fndesc)
        values = [builder.extract_value(llargs[1], i) for i in range(len(argtys))]
        context.call_conv.call_function(builder, fn, cres.signature.return_type, cres.signature.args, values,
                                        attrs=("noinline",))
        return context.get_dummy_value()

    return types.none(kernel, args), codegen


@cpu_jit
def chunks(n, per):
    """Number of chunks of `per` items covering n."""
    return (n + per - 1) // per


@cpu_jit
def chunk(c, n, per):
    """Bounds (lo, hi) of chunk c."""
    lo = c * per
    return lo, min(n, lo + per)
