"""CPU kernels of softmax and log-softmax, forward and backward.

Five layouts, chosen by `fastact.softmax` per shape:
- rows: (rows, n) with n contiguous, blocks of rows per task (a row stays in cache between its passes; the next
  row, or the next two for rows under 1,024, is prefetched during the exponentials);
- split: few long rows, each cut in chunks so that every core has work (per-chunk max and sum, combined);
- short: rows of up to FIXED_ROW, taken in blocks by kernels compiled for their exact length: each row's max
  and sum one vector (fastact._bits.row_*), the exponentials of the whole block one flat vectorized loop;
- strided: the softmax axis is not the last, (outer, n, inner) with blocks of `inner` (no transposed copy);
  long blocks measured faster than L2-sized ones (the per-row loop overhead outweighs the cache misses); the
  forward's sum pass walks the rows backwards, from those its max pass read last (1,024 × 32,768, axis 0: 0.35-0.40
  -> 0.40-0.41 of copy bandwidth, paired; the backward measured no gain from the same);
- transposed (forward only): the axis is not the last, but few columns follow it and each slice is small: each
  slice transposed into rows, the rows kernel, and back.
(A non-last axis with few columns after it, or with long columns and few slices, goes through
fastact._softmax_strided instead: see fastact.softmax._use_lanes.)

The row maximum is taken on order-preserving integer images of the floats (`ordered`), which vectorizes without
fast-math flags; NaN still propagates (through the sum of exponentials). Sums: partial sums of PARTIAL
terms in the input's precision (so the loop runs at the float width), accumulated in float64.
"""
import functools

import numpy as np
from numba import prange

from ._bits import ordered, prefetch, unordered
from ._jit import FASTMATH_REDUCE, cpu_jit
from ._parallel import CHUNK, call_noinline, chunk, chunks
from ._scalar import K
from .vecmath import exp, exp_nonpos, log1p

# Only for functions that do nothing but a sum or a max: reassociation elsewhere changes results (it turns
# (x - m) - c into x - (m + c)).
_reduce_jit = cpu_jit(fastmath=FASTMATH_REDUCE)
# Helpers called once per row of a block (a few dozen elements): a call would cost more than their work.
_inline_jit = cpu_jit(inline="always")

# Terms summed in the input's precision (4 accumulators × 8 lanes, 8 terms each) before a float64 accumulation.
# 64 cost the forward 20% in per-block overhead and measured no more accurate.
PARTIAL = 256
SHORT_BLOCK = 4096  # elements per block of short rows
SPLIT_CHUNK = 16384  # elements of a row handled by one task in the split layout (fits in L2)
STATS_BLOCK = 512  # elements per step of a split chunk's online max and sum
SPLIT_GROUP = 1 << 22  # elements of the rows that the split layout reads and writes before the next rows
# The forward splits rows from this size up whatever their number. Measured at 2 threads, float32, × copy
# bandwidth, rows layout against split: 64 × 2^19 0.60 / 0.54, 32 × 2^20 0.53 / 0.56, 16 × 2^21 0.46 / 0.55,
# 8 × 2^22 0.43 / 0.52. (The backward's rows layout stays ahead: 8 × 2^22 0.71 / 0.66.)
SPLIT_ROW_BYTES = 4 << 20
# The forward over a non-last axis with at most TRANSPOSE_INNER columns after it, in slices (n × inner) of at most
# TRANSPOSE_SLICE elements (they stay in cache), takes the transposed layout (see _TRANSPOSED_TEMPLATE).
TRANSPOSE_INNER = 16
TRANSPOSE_SLICE = 2048  # larger slices go through fastact._softmax_strided (measured faster from 2,048-4,096)


@_inline_jit
def _exp_shifted(v):
    """e^v for v = x·scale - (row max) <= 0, or NaN."""
    return exp_nonpos(v)


@_reduce_jit
def _max_scaled(x, scale):
    """max of x·scale (a positive NaN wins; -inf for an empty x)."""
    m = ordered(K(scale, -np.inf))
    for j in range(x.size):
        v = ordered(x[j] * scale)
        m = v if v > m else m
    return unordered(m)


@_inline_jit
def _prefetch(x, lo, hi):
    """Prefetch x[lo:hi] (an index past the end is harmless)."""
    for k in range(lo, hi, 64 // x.itemsize):
        prefetch(x, k, False)


@_inline_jit
def _prefetch_write(x, lo, hi):
    for k in range(lo, hi, 64 // x.itemsize):
        prefetch(x, k, True)


# The sums of exponentials prefetch `ahead` elements ahead while they work: they are compute-bound, a row's max
# pass is memory-bound, and the hardware prefetcher does not run that far ahead of a loop that is busy in cache.
# Measured at 32,768 × 1,024 with two rows ahead: forward 0.58 -> 0.72 of copy bandwidth (also prefetching out
# for writing: no gain). Since the exponentials got cheaper, rows of 1,024 or more measure better one row ahead:
# 0.77-0.90 against 0.74-0.87 with two, paired in the same runs (4,096 and 16,384: even); rows of 256 do not.
# Log-softmax's sum stores nothing and its write pass is short, so there the lines of out are prefetched for
# writing too, in rows of 1,024 or more (log-softmax of 2^25 float32 in rows of 1,024: 0.68 -> 0.77-0.84, of
# 8,192: 0.75 -> 0.83; rows of 256 measured no gain; softmax, whose stores are spread over its sum, lost:
# 0.82-0.88 -> 0.80-0.81).
@_reduce_jit
def _sum_exp(x, lo, hi, scale, m, ahead, out, out_ahead):
    """Σ e^(x·scale - m) over x[lo:hi]; prefetches out `out_ahead` elements ahead for writing unless that is
    negative."""
    s = 0.0
    for a in range(lo, hi, PARTIAL):
        b = min(a + PARTIAL, hi)
        _prefetch(x, a + ahead, b + ahead)
        if out_ahead >= 0:
            _prefetch_write(out, a + out_ahead, b + out_ahead)
        xs = x[a:b]
        p = K(scale, 0.0)
        for j in range(xs.size):
            p += _exp_shifted(xs[j] * scale - m)
        s += np.float64(p)
    return s


@_reduce_jit
def _sum_exp_store(x, out, lo, hi, scale, m, ahead):
    """_sum_exp, storing each term in out[lo:hi]."""
    s = 0.0
    for a in range(lo, hi, PARTIAL):
        b = min(a + PARTIAL, hi)
        _prefetch(x, a + ahead, b + ahead)
        xs, os = x[a:b], out[a:b]
        p = K(scale, 0.0)
        for j in range(xs.size):
            e = _exp_shifted(xs[j] * scale - m)
            os[j] = e
            p += e
        s += np.float64(p)
    return s


@cpu_jit
def _scale_by(out, f):
    for j in range(out.size):
        out[j] = out[j] * f


@cpu_jit
def _write_exp(x, out, scale, m, f):
    for j in range(x.size):
        out[j] = _exp_shifted(x[j] * scale - m) * f


@cpu_jit
def _write_shifted(x, out, scale, m, c):
    """out = (x·scale - m) - c: two subtractions, so that c is not lost against a huge m."""
    for j in range(x.size):
        out[j] = (x[j] * scale - m) - c


@cpu_jit
def _log(s):
    return log1p(s - 1.0)


@cpu_jit
def _rows_block(x, out, n, scale, log):
    ahead = n if n >= 1024 else 2 * n
    out_ahead = ahead if n >= 1024 else -1
    for lo in range(0, x.size, n):
        hi = lo + n
        m = _max_scaled(x[lo:hi], scale)
        if log:
            s = _sum_exp(x, lo, hi, scale, m, ahead, out, out_ahead)
            _write_shifted(x[lo:hi], out[lo:hi], scale, m, K(scale, _log(s)))
        else:
            s = _sum_exp_store(x, out, lo, hi, scale, m, ahead)
            _scale_by(out[lo:hi], K(scale, 1.0 / s))


# Parallel kernels call their serial work through call_noinline (see fastact._parallel).
@cpu_jit(parallel=True)
def forward_rows(x, out, n, scale, log):
    """x, out: flat C-contiguous arrays holding rows of length n; blocks of rows per task."""
    rows, per = x.size // n, max(1, CHUNK // n)
    for c in prange(chunks(rows, per)):
        lo, hi = chunk(c, rows, per)
        call_noinline(_rows_block, (x[lo * n:hi * n], out[lo * n:hi * n], n, scale, log))


@_inline_jit
def _short_passes(x, out, n, scale, log, row_max, row_total):
    """The short-row forward of a block of rows of n, given the row passes (one vector per row, see
    fixed_row_kernels); each pass a flat loop over the block, which vectorizes."""
    rep = np.empty(x.size, x.dtype)  # each element's row max, then its row's 1/Σ
    e = out if not log else np.empty(x.size, x.dtype)
    row_max(x, rep, n, scale)
    _exp_rep(x, rep, e, scale)
    if log:
        row_total(e, e, n, True)  # e becomes each element's log Σ
        _write_shifted_vec(x, out, scale, rep, e)
    else:
        row_total(out, rep, n, False)
        _scale_vec(out, rep)


@cpu_jit
def _exp_rep(x, rep, e, scale):
    for k in range(x.size):
        e[k] = _exp_shifted(x[k] * scale - rep[k])


@cpu_jit
def _chunk(c, chunks, n):
    """(row, start, stop) of chunk c when each row of n elements is cut in `chunks` chunks of SPLIT_CHUNK."""
    r = c // chunks
    lo = r * n + (c - r * chunks) * SPLIT_CHUNK
    return r, lo, min(lo + SPLIT_CHUNK, r * n + n)


@cpu_jit(parallel=True)
def forward_split(x, out, n, scale, log, threads):
    """Like forward_rows, for few long rows: each row in chunks of SPLIT_CHUNK spread over the threads, a pass
    for each chunk's max and Σ, then one that writes. Rows are taken in groups of about SPLIT_GROUP elements, and
    each thread writes its chunks of a group in the reverse of the order it read them, so that the write pass
    starts on the chunks most likely still in the last-level cache (measured at 8 × 4,194,304, paired with
    copies: 0.46-0.48 -> 0.48-0.51 of copy bandwidth). `threads`: the number of threads (each takes a fixed share).

    The write pass recomputes softmax's terms: storing them in the first pass and scaling them in the second
    moves out through memory twice (measured at 8 × 4,194,304: 0.40 of copy bandwidth, against 0.45)."""
    rows = x.size // n
    chunks = (n + SPLIT_CHUNK - 1) // SPLIT_CHUNK
    per = max(1, SPLIT_GROUP // n)
    ms = np.empty(rows * chunks, x.dtype)  # per chunk: max
    ss = np.empty(rows * chunks, np.float64)  # per chunk: Σ e^(x·scale - chunk max)
    ml = np.empty(rows, x.dtype)  # per row: max
    fl = np.empty(rows, x.dtype)  # per row: 1/Σ (softmax) or log Σ (log-softmax)
    for r0 in range(0, rows, per):
        r1 = min(rows, r0 + per)
        lo, tasks = r0 * chunks, (r1 - r0) * chunks
        for t in prange(threads):
            call_noinline(_stats_range, (x, ms, ss, lo + tasks * t // threads, lo + tasks * (t + 1) // threads,
                                         chunks, n, scale))
        for r in range(r0, r1):
            m = _max_scaled(ms[r * chunks:r * chunks + chunks], K(scale, 1.0))
            s = 0.0
            for c in range(r * chunks, r * chunks + chunks):
                # a chunk whose max is -inf holds -inf and NaN only: its Σ (0 or NaN) needs no rescaling
                s += ss[c] * exp(np.float64(ms[c]) - np.float64(m)) if ms[c] != -np.inf else ss[c]
            s = s if m != -np.inf else np.nan
            ml[r] = m
            fl[r] = K(scale, _log(s)) if log else K(scale, 1.0 / s)
        for t in prange(threads):
            call_noinline(_write_range, (x, out, ml, fl, lo + tasks * t // threads,
                                         lo + tasks * (t + 1) // threads, chunks, n, scale, log))


@cpu_jit
def _stats_range(x, ms, ss, lo, hi, chunks, n, scale):
    for c in range(lo, hi):
        _chunk_stats(x, ms, ss, c, chunks, n, scale)


@cpu_jit
def _write_range(x, out, ml, fl, lo, hi, chunks, n, scale, log):
    for c in range(hi - 1, lo - 1, -1):  # last read, first written
        _chunk_write(x, out, ml, fl, c, chunks, n, scale, log)


@cpu_jit
def _chunk_stats(x, ms, ss, c, chunks, n, scale):
    """The chunk's max m and Σ e^(x·scale - m), online over blocks of STATS_BLOCK: each block's max is taken
    as it arrives from memory, then its terms from L1 against the running max (the sum so far rescaled when
    the max grows). Measured at 8 × 4,194,304 against a max pass over the whole chunk followed by a sum pass:
    the stats pass 12.1 -> 10.6 ms; the forward 0.44 -> 0.47-0.49 of copy bandwidth (paired with copies)."""
    r, lo, hi = _chunk(c, chunks, n)
    m = K(scale, -np.inf)
    s = 0.0
    for a in range(lo, hi, STATS_BLOCK):
        b = min(a + STATS_BLOCK, hi)
        mb = _max_scaled(x[a:b], scale)
        if mb > m:  # False for a NaN max: its terms make s NaN below
            s = s * exp(np.float64(m) - np.float64(mb)) if m != -np.inf else s
            m = mb
        if m == -np.inf:  # so far -inf and NaNs with the sign bit set (below -inf in the max's order)
            for j in range(a, b):
                s += 0.0 if x[j] * scale == -np.inf else np.nan
        else:
            s += _sum_exp(x, a, b, scale, m, 4 * STATS_BLOCK, x, -1)
    ms[c] = m
    ss[c] = s


@cpu_jit
def _chunk_write(x, out, ml, fl, c, chunks, n, scale, log):
    r, lo, hi = _chunk(c, chunks, n)
    if log:
        _write_shifted(x[lo:hi], out[lo:hi], scale, ml[r], fl[r])
    else:
        _write_exp(x[lo:hi], out[lo:hi], scale, ml[r], fl[r])


@cpu_jit
def _strided_block(task, block, inner):
    """(outer index, first column, width) of task `task` when each of the outer slices of `inner` columns is cut
    in blocks of `block` columns."""
    blocks = (inner + block - 1) // block
    o = task // blocks
    lo = (task - o * blocks) * block
    return o, lo, min(block, inner - lo)


@cpu_jit(parallel=True)
def forward_strided(x, out, scale, log, block):
    """x, out: (outer, n, inner) C-contiguous; softmax over axis 1, in blocks of `block` columns of inner."""
    outer, n, inner = x.shape
    blocks = (inner + block - 1) // block
    for task in prange(outer * blocks):
        call_noinline(_strided_task, (x, out, scale, log, block, task))


@cpu_jit
def _strided_task(x, out, scale, log, block, task):
    n = x.shape[1]
    o, lo, w = _strided_block(task, block, x.shape[2])
    mi = np.full(w, ordered(K(scale, -np.inf)))
    for j in range(n):
        _max_into(x[o, j, lo:lo + w], mi, scale)
    m = np.empty(w, x.dtype)
    for i in range(w):
        m[i] = unordered(mi[i])
    s = np.zeros(w, np.float64)
    for j in range(n - 1, -1, -1):  # the rows the max pass read last first: they may still be in cache
        _sum_store_into(x[o, j, lo:lo + w], out[o, j, lo:lo + w], m, s, scale)
    f = np.empty(w, x.dtype)
    for i in range(w):
        f[i] = K(scale, _log(s[i])) if log else K(scale, 1.0 / s[i])
    for j in range(n):
        if log:
            _write_shifted_vec(x[o, j, lo:lo + w], out[o, j, lo:lo + w], scale, m, f)
        else:
            _scale_vec(out[o, j, lo:lo + w], f)


@_inline_jit
def _transpose_in(a, t):
    """t = a.T, flat: a (n, inner) into inner rows of n."""
    n, inner = a.shape
    for i in range(inner):
        for j in range(n):
            t[i * n + j] = a[j, i]


@_inline_jit
def _transpose_out(t, a):
    n, inner = a.shape
    for j in range(n):
        for i in range(inner):
            a[j, i] = t[i * n + j]


@_inline_jit
def _max_into(xs, mi, scale):
    """mi = max(mi, ordered(xs·scale)) elementwise. On the integer images: a float select would become a
    conditional store, which does not vectorize."""
    for i in range(xs.size):
        v = ordered(xs[i] * scale)
        mi[i] = v if v > mi[i] else mi[i]


@_inline_jit
def _sum_store_into(xs, os, m, s, scale):
    # two loops: one loop touching four arrays needs too many run-time alias checks to be vectorized
    for i in range(xs.size):
        os[i] = _exp_shifted(xs[i] * scale - m[i])
    for i in range(xs.size):
        s[i] += np.float64(os[i])


@_inline_jit
def _scale_vec(os, f):
    for i in range(os.size):
        os[i] = os[i] * f[i]


@_inline_jit
def _write_shifted_vec(xs, os, scale, m, c):
    for i in range(xs.size):
        os[i] = (xs[i] * scale - m[i]) - c[i]


@cpu_jit(parallel=True)
def forward_masked(x, keep, out, n, scale, log):
    """forward_rows with keep (same shape as x, True = keep): masked terms are 0 (log: -inf), and a fully masked
    row gives all zeros (log: all -inf)."""
    for r in prange(x.size // n):
        call_noinline(_masked_row, (x[r * n:r * n + n], keep[r * n:r * n + n], out[r * n:r * n + n], scale, log))


@cpu_jit
def _masked_row(x, keep, out, scale, log):
    m = ordered(K(scale, -np.inf))
    for j in range(x.size):
        v = ordered(x[j] * scale)
        m = v if keep[j] and v > m else m
    mf = unordered(m)
    s = 0.0
    for j in range(x.size):
        e = np.float64(_exp_shifted(x[j] * scale - mf))
        s += e if keep[j] else 0.0
    empty = s == 0.0 and mf == -np.inf
    c = K(scale, _log(s))
    f = K(scale, 1.0 / s)
    for j in range(x.size):
        z = x[j] * scale
        if log:
            out[j] = (z - mf) - c if keep[j] and not empty else K(scale, -np.inf)
        else:
            out[j] = _exp_shifted(z - mf) * f if keep[j] and not empty else K(scale, 0.0)


# ---------------------------------------------------------------------------------------------------- backward
@_reduce_jit
def _dot(g, y):
    s = 0.0
    for lo in range(0, y.size, PARTIAL):
        gs, ys = g[lo:lo + PARTIAL], y[lo:lo + PARTIAL]
        p = y[0] * 0
        for j in range(ys.size):
            p += gs[j] * ys[j]
        s += np.float64(p)
    return s


@_reduce_jit
def _total(g):
    s = 0.0
    for lo in range(0, g.size, PARTIAL):
        gs = g[lo:lo + PARTIAL]
        p = g[0] * 0
        for j in range(gs.size):
            p += gs[j]
        s += np.float64(p)
    return s


@cpu_jit
def _write_backward(g, y, out, s, log):
    if log:
        for j in range(y.size):
            out[j] = g[j] - exp(y[j]) * s
    else:
        for j in range(y.size):
            out[j] = y[j] * (g[j] - s)


@cpu_jit
def _backward_rows_block(g, y, out, n, log):
    for lo in range(0, y.size, n):
        hi = lo + n
        s = _total(g[lo:hi]) if log else _dot(g[lo:hi], y[lo:hi])
        _write_backward(g[lo:hi], y[lo:hi], out[lo:hi], K(y[lo], s), log)


@cpu_jit(parallel=True)
def backward_rows(g, y, out, n, log):
    """dx = y·(g - Σ g·y) (softmax) or g - e^y·Σ g (log-softmax), rows of length n."""
    rows, per = y.size // n, max(1, CHUNK // n)
    for c in prange(chunks(rows, per)):
        lo, hi = chunk(c, rows, per)
        call_noinline(_backward_rows_block, (g[lo * n:hi * n], y[lo * n:hi * n], out[lo * n:hi * n], n, log))


@cpu_jit(parallel=True)
def backward_split(g, y, out, n, log):
    rows = y.size // n
    chunks = (n + SPLIT_CHUNK - 1) // SPLIT_CHUNK
    parts = np.empty(rows * chunks, np.float64)
    for c in prange(rows * chunks):
        call_noinline(_chunk_dot, (g, y, parts, c, chunks, n, log))
    sums = np.zeros(rows, y.dtype)
    for r in range(rows):
        s = 0.0
        for c in range(r * chunks, r * chunks + chunks):  # fixed order: the result does not depend on threads
            s += parts[c]
        sums[r] = K(y[0], s)
    for c in prange(rows * chunks):
        call_noinline(_chunk_write_backward, (g, y, out, sums, c, chunks, n, log))


@cpu_jit
def _chunk_dot(g, y, parts, c, chunks, n, log):
    r, lo, hi = _chunk(c, chunks, n)
    parts[c] = _total(g[lo:hi]) if log else _dot(g[lo:hi], y[lo:hi])


@cpu_jit
def _chunk_write_backward(g, y, out, sums, c, chunks, n, log):
    r, lo, hi = _chunk(c, chunks, n)
    _write_backward(g[lo:hi], y[lo:hi], out[lo:hi], sums[r], log)


@cpu_jit(parallel=True)
def backward_strided(g, y, out, log, block):
    outer, n, inner = y.shape
    blocks = (inner + block - 1) // block
    for task in prange(outer * blocks):
        call_noinline(_strided_backward_task, (g, y, out, log, block, task))


@cpu_jit
def _strided_backward_task(g, y, out, log, block, task):
    n = y.shape[1]
    o, lo, w = _strided_block(task, block, y.shape[2])
    s = np.zeros(w, np.float64)
    for j in range(n):
        _dot_into(g[o, j, lo:lo + w], y[o, j, lo:lo + w], s, log)
    st = np.empty(w, y.dtype)
    for i in range(w):
        st[i] = K(y[0, 0, 0], s[i])
    for j in range(n):
        _write_backward_vec(g[o, j, lo:lo + w], y[o, j, lo:lo + w], out[o, j, lo:lo + w], st, log)


@_inline_jit
def _dot_into(gs, ys, s, log):
    if log:
        for i in range(gs.size):
            s[i] += np.float64(gs[i])
    else:
        for i in range(gs.size):
            s[i] += np.float64(gs[i]) * np.float64(ys[i])


@_inline_jit
def _write_backward_vec(gs, ys, os, s, log):
    if log:
        for i in range(gs.size):
            os[i] = gs[i] - exp(ys[i]) * s[i]
    else:
        for i in range(gs.size):
            os[i] = ys[i] * (gs[i] - s[i])


# ---------------------------------------------------------------------------------------------------- short rows
_SHORT_TEMPLATE = '''\
# Generated by fastact._softmax_kernels for rows of {n}; do not edit.
# fastact sources: {sources}
import numpy as np
from numba import prange

from fastact._bits import row_dot, row_fill, row_max_fill, row_sum
from fastact._jit import FASTMATH_REDUCE, cpu_jit
from fastact._scalar import K
from fastact._parallel import CHUNK, call_noinline, chunk, chunks
from fastact._softmax_kernels import SHORT_BLOCK, _log, _short_passes, _transpose_in, _transpose_out
from fastact.vecmath import exp

N = {n}
_reduce_jit = cpu_jit(fastmath=FASTMATH_REDUCE)


@_reduce_jit
def _row_max(x, rep, n, scale):
    for r in range(x.size // N):
        row_max_fill(x, rep, r * N, N, scale)


@_reduce_jit
def _row_total(e, rep, n, log):
    if log:  # two loops: one would compute both and select
        for r in range(e.size // N):
            row_fill(rep, r * N, N, K(e[0], _log(row_sum(e, r * N, N))))
    else:
        for r in range(e.size // N):
            row_fill(rep, r * N, N, K(e[0], 1.0 / row_sum(e, r * N, N)))


@cpu_jit
def _forward_block(x, out, scale, log):
    _short_passes(x, out, N, scale, log, _row_max, _row_total)


@cpu_jit(parallel=True)
def forward(x, out, scale, log):
    rows = x.size // N
    per = max(1, SHORT_BLOCK // N)
    for b in prange((rows + per - 1) // per):
        lo, hi = b * per * N, min(rows, b * per + per) * N
        call_noinline(_forward_block, (x[lo:hi], out[lo:hi], scale, log))


@cpu_jit
def _backward_block(g, y, out, log):
    rows = y.size // N
    s = np.empty(rows, y.dtype)
    for r in range(rows):
        s[r] = K(y[0], row_sum(g, r * N, N) if log else row_dot(g, y, r * N, N))
    if log:
        for r in range(rows):
            for j in range(N):
                out[r * N + j] = g[r * N + j] - exp(y[r * N + j]) * s[r]
    else:
        for r in range(rows):
            for j in range(N):
                out[r * N + j] = y[r * N + j] * (g[r * N + j] - s[r])


@cpu_jit(parallel=True)
def backward(g, y, out, log):
    rows = y.size // N
    per = max(1, SHORT_BLOCK // N)
    for b in prange((rows + per - 1) // per):
        lo, hi = b * per * N, min(rows, b * per + per) * N
        call_noinline(_backward_block, (g[lo:hi], y[lo:hi], out[lo:hi], log))


{transposed}'''
# Rows up to this length get kernels compiled for their exact length (one vector per row). Measured in cache
# on one core, float32 forward, ns/element, against the generic loops they replace: n = 17: 1.0 / 3.0,
# 32: 0.68 / 2.7, 64: 0.68 / 2.5 (the rows layout: 3.1, 1.6, 1.1); backward 0.3-0.7 / 1.3-1.4. Each new length
# costs a compilation on first use (about 1 s a function), then comes from the disk cache.
FIXED_ROW = 64


# The forward over a non-last axis with few columns after it (see TRANSPOSE_INNER): each slice (n, inner) is
# transposed in cache into `inner` rows of n, put through a rows kernel (`block`) and transposed back. The strided
# layout runs its passes over rows of `inner` elements each; measured, × copy bandwidth, strided / transposed
# through the fixed-length or the rows kernel: 1,048,576 × 4 × 8: 0.09 / 0.16; 262,144 × 16 × 8: 0.10 / 0.34;
# 131,072 × 32 × 8: 0.12 / 0.36; 4,096 × 1,024 × 8: 0.15 / 0.40; 2,048 × 4,096 × 4: 0.07 / 0.33. The strided
# backward stays ahead of a transposed one (0.60-0.80 against 0.43-0.49), so there is none.
_TRANSPOSED_TEMPLATE = '''\
@cpu_jit
def _transposed_block(x, out, scale, log, lo, hi):
    n, inner = x.shape[1], x.shape[2]
    t, u = np.empty(n * inner, x.dtype), np.empty(n * inner, x.dtype)
    for o in range(lo, hi):
        _transpose_in(x[o], t)
        {block}
        _transpose_out(u, out[o])


@cpu_jit(parallel=True)
def forward_transposed(x, out, scale, log):
    """x, out: (outer, n, inner); softmax over axis 1."""
    outer, n, inner = x.shape
    per = max(1, CHUNK // (n * inner))
    for c in prange(chunks(outer, per)):
        lo, hi = chunk(c, outer, per)
        call_noinline(_transposed_block, (x, out, scale, log, lo, hi))
'''
_TRANSPOSED_ROWS_TEMPLATE = '''\
# Generated by fastact._softmax_kernels: the transposed forward through the rows kernel; do not edit.
# fastact sources: {sources}
import numpy as np
from numba import prange

from fastact._jit import cpu_jit
from fastact._parallel import CHUNK, call_noinline, chunk, chunks
from fastact._softmax_kernels import _rows_block, _transpose_in, _transpose_out


{transposed}'''


@functools.lru_cache(maxsize=None)
def fixed_row_kernels(n: int):
    """The forward/backward kernels for rows of exactly n (<= FIXED_ROW) elements, and the transposed forward
    (forward_transposed) for slices of n rows."""
    from ._codegen import _sources, load_module

    transposed = _TRANSPOSED_TEMPLATE.format(block="_forward_block(t, u, scale, log)")
    return load_module(f"softmax_rows_{n}", _SHORT_TEMPLATE.format(n=n, sources=_sources(), transposed=transposed))


@functools.lru_cache(maxsize=None)
def transposed_kernels(n: int):
    """The module whose forward_transposed handles slices of n rows."""
    if n <= FIXED_ROW:
        return fixed_row_kernels(n)
    from ._codegen import _sources, load_module

    transposed = _TRANSPOSED_TEMPLATE.format(block="_rows_block(t, u, n, scale, log)")
    return load_module("softmax_transposed_rows", _TRANSPOSED_ROWS_TEMPLATE.format(sources=_sources(),
                                                                                  transposed=transposed))
