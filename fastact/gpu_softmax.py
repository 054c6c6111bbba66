"""CUDA softmax and log-softmax, forward and backward, in four layouts chosen by shape.

- rows: rows along the last axis of up to rows_max() elements, held in registers (x, or g and y, read once): a row
  is taken by `width` lanes of `items` elements each (_rows_shape: short rows share a warp, long ones take several
  warps, which meet in shared memory; forward rows past STASH_ROW keep half their elements in shared memory). The
  row's max, then Σ e^(x - max), each merged across lanes;
- block: longer rows; a block per row. Each thread keeps a running (max, sum) over its elements (the sum rescaled
  when the max grows: max and sum in one pass), merged by shuffles within warps and through shared memory across
  them. The forward keeps as much of the row in shared memory for the write pass as the GPU lets a block opt in
  to (_block_plan), and reads the rest again;
- split: fewer than SPLIT_ROWS rows of at least 2·SPLIT_CHUNK elements; each row is cut in chunks over the blocks of
  a 2-D grid. One kernel leaves each chunk's (max, sum); a second merges the row's pairs and writes its chunk;
- columns: the softmax axis is not the last; a block takes 32 adjacent columns (coalesced loads) and
  interleaved segments of the axis (one per warp of the block), merged through shared memory.

Sums run in float64, and every reduction in a fixed order, the same in every block that needs it, so results do
not depend on scheduling. Special rows follow the CPU path (and PyTorch): NaN or +inf in a row gives NaN, a row
of -inf gives NaN, masked positions give 0 (log-softmax -inf).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from . import gpu as G
from .gpu import launch
from .softmax import _axis, _split

THREADS = G.THREADS  # threads per block
WARP = 32
ROWS_MAX = 16384  # longest float32 row held in registers (1,024 lanes of 16 elements: 64 registers a thread)
STASH_ROW = 8192  # longer forward rows hold half their elements in shared memory
ROW_CACHE = 32768  # bytes of a row the block layout keeps in shared memory where the GPU's limits are unknown
BLOCK_SHAPES = ((512, 2), (1024, 1))  # (threads a block, blocks an SM) the block layout's forward tries, in order
BLOCK_UNROLL = 32  # bytes a thread of those loads at a time: within their 64 registers (64 bytes, 16 float32, spilled 132)
SPLIT_ROWS = 128  # the split layout is for fewer rows than this ...
SPLIT_CHUNK = 8192  # ... of at least 2·SPLIT_CHUNK elements, cut in chunks of this many
# elements a thread loads before using them (block and split layouts). Measured on an H100, 2^28
# float32, forward/backward ms at 4 -> 16: 1,024 columns 1.09/1.77 -> 1.01/1.25, 4,096 1.20/1.62 -> 1.08/1.09,
# 16,384 1.22/1.90 -> 1.14/1.81; 8 was between
UNROLL = 16
_FULL = 0xFFFFFFFF

cuda = None  # numba.cuda once loaded: kernels name it as a global, which the CUDA simulator relies on


def _load():
    global cuda
    if cuda is None:
        cuda = G._numba_cuda()
    return cuda


# ---------------------------------------------------------------------------------------------------- kernels
@lru_cache(maxsize=None)
def _functions(work: str, width: int, items: int, unroll: int, threads: int, stash: int = 0) -> dict:
    """The kernels' Python functions for compute dtype `work`; in the rows layout a row is taken by `width` lanes
    (a power of two up to `threads`) holding `items` elements each (a power of two) in registers, and forward_rows
    `stash` (0 or `items`) more in shared memory; `unroll` elements loaded at a time by the loops over a row;
    `threads` threads per block."""
    _load()
    C = np.dtype(work).type
    W = G._nbtype(work)
    NEG, POS, ZERO = C(-math.inf), C(math.inf), C(0.0)
    S = np.float64  # sums: float64 (float32 sums of 1,024 terms were off by up to 9 ULP in the simulator)
    WARPS = threads // WARP
    LANES = min(width, WARP)  # a row's lanes within one warp
    ROW_WARPS = max(1, width // WARP)  # a row's warps
    BUF = max(1, stash * threads)  # forward_rows' stash, in shared memory

    @cuda.jit(device=True)
    def lanes_sum(s, lanes):
        """Σ over groups of `lanes` adjacent lanes (a power of two); every lane gets its group's sum."""
        off = lanes // 2
        while off > 0:
            s += cuda.shfl_xor_sync(_FULL, s, off)
            off //= 2
        return s

    @cuda.jit(device=True)
    def push(m, s, v):
        """(max, Σ e^(x - max)) after one more x = v. NaN stays in the sum; equal maxima (-inf among them) add 1."""
        if v > m:
            s = s * math.exp(m - v) + 1.0
            m = v
        else:
            s += 1.0 if v == m else math.exp(v - m)
        return m, s

    @cuda.jit(device=True)
    def merge(m1, s1, m2, s2):
        m = m1 if m1 > m2 else m2
        a = s1 if m1 == m else s1 * math.exp(m1 - m)
        b = s2 if m2 == m else s2 * math.exp(m2 - m)
        return m, a + b

    @cuda.jit(device=True)
    def block_merge(m, s):
        """Merge every thread's (max, sum): shuffles within each warp, then the warps in order. Every thread gets
        the result; a +inf maximum makes the sum NaN (the row's result is NaN, as on the CPU)."""
        sm_m = cuda.shared.array(WARPS, W)
        sm_s = cuda.shared.array(WARPS, S)
        t = cuda.threadIdx.x
        off = WARP // 2
        while off > 0:
            m, s = merge(m, s, cuda.shfl_xor_sync(_FULL, m, off), cuda.shfl_xor_sync(_FULL, s, off))
            off //= 2
        if t % WARP == 0:
            sm_m[t // WARP] = m
            sm_s[t // WARP] = s
        cuda.syncthreads()
        m, s = sm_m[0], sm_s[0]
        for w in range(1, WARPS):
            m, s = merge(m, s, sm_m[w], sm_s[w])
        cuda.syncthreads()
        return m, (s if m != POS else math.nan)

    @cuda.jit(device=True)
    def block_sum(s):
        """Σ over the block's threads, in a fixed order; every thread gets it."""
        sm = cuda.shared.array(WARPS, S)
        t = cuda.threadIdx.x
        s = lanes_sum(s, WARP)
        if t % WARP == 0:
            sm[t // WARP] = s
        cuda.syncthreads()
        s = sm[0]
        for w in range(1, WARPS):
            s += sm[w]
        cuda.syncthreads()
        return s

    @cuda.jit(device=True)
    def finals(s, log):
        """(1/s, log s) in the compute dtype, only the one `log` needs, from s rounded to it: a float64 division
        or log costs each warp tens of float64 instructions, which rows of 8 (a division every 8 elements) could
        not afford. Guarded where the simulator's Python math would raise."""
        c = C(s)
        if log:
            return ZERO, (math.log(c) if c != ZERO else NEG)
        return (C(1.0) / c if c != ZERO else POS), ZERO

    @cuda.jit(device=True)
    def put(y, k, v, m, inv, ls, ok, log):
        """y[k] = softmax (or log-softmax) of the element v = x·scale of a row with max m and sum 1/inv = e^ls."""
        if log:
            y[k] = (v - m) - ls if ok else NEG
        else:
            y[k] = math.exp(v - m) * inv if ok else ZERO

    @cuda.jit(device=True)
    def grad(gv, yv, s, log):
        """dx for grad gv and output yv, with s = Σ g·y (softmax) or Σ g (log-softmax) over the row."""
        return gv - math.exp(yv) * s if log else yv * (gv - s)

    @cuda.jit(device=True)
    def grad_at(g, yv, k, s, log):
        return grad(C(g[k]), C(yv[k]), s, log)

    @cuda.jit(device=True)
    def group_row():
        """(lane, row) of this thread in the rows layout: `width` adjacent lanes take a row."""
        t = cuda.threadIdx.x
        return t % width, (cuda.blockIdx.x * threads + t) // width

    @cuda.jit(device=True)
    def column(n, inner):
        """(lane, segment, column, index of the column's first element) of this thread in the columns layout."""
        t = cuda.threadIdx.x
        col = cuda.blockIdx.x * WARP + t % WARP
        o = col // inner
        return t % WARP, t // WARP, col, o * n * inner + (col - o * inner)

    @cuda.jit(device=True)
    def term(g, yv, k, log):
        return S(g[k]) if log else S(g[k]) * S(yv[k])

    @cuda.jit(device=True)
    def kept(keep, k, use_mask):
        return not use_mask or keep[k]

    # The loops below take `unroll` elements `step` apart at a time, their loads before anything that depends on
    # them (more bytes in flight per thread), then one at a time for the rest.
    @cuda.jit(device=True)
    def stats(x, keep, base, lo, hi, step, scale, use_mask, row, cached):
        """(max, Σ e^(v - max)) of v = x·scale over the kept elements j = lo, lo + step, ... < hi of the row at
        base; with `cached`, row[j] = v."""
        vals = cuda.local.array(unroll, W)
        m, s = NEG, 0.0
        j = lo
        while j + (unroll - 1) * step < hi:
            for q in range(unroll):
                vals[q] = C(x[base + j + q * step]) * scale
            for q in range(unroll):
                k = j + q * step
                if kept(keep, base + k, use_mask):
                    m, s = push(m, s, vals[q])
                    if cached:
                        row[k] = vals[q]
            j += unroll * step
        while j < hi:
            if kept(keep, base + j, use_mask):
                v = C(x[base + j]) * scale
                m, s = push(m, s, v)
                if cached:
                    row[j] = v
            j += step
        return m, s

    @cuda.jit(device=True)
    def write(x, keep, y, base, lo, hi, step, scale, use_mask, m, inv, ls, log, row, cached):
        """y over j = lo, lo + step, ... < hi, for a row with max m and sum 1/inv = e^ls."""
        vals = cuda.local.array(unroll, W)
        j = lo
        while j + (unroll - 1) * step < hi:
            for q in range(unroll):
                k = j + q * step
                vals[q] = row[k] if cached else C(x[base + k]) * scale
            for q in range(unroll):
                k = j + q * step
                ok = kept(keep, base + k, use_mask)
                put(y, base + k, vals[q] if ok else ZERO, m, inv, ls, ok, log)
            j += unroll * step
        while j < hi:
            ok = kept(keep, base + j, use_mask)
            v = ZERO
            if ok:
                v = row[j] if cached else C(x[base + j]) * scale
            put(y, base + j, v, m, inv, ls, ok, log)
            j += step

    @cuda.jit(device=True)
    def sums(g, yv, base, lo, hi, step, log):
        """Σ g·y (softmax) or Σ g (log-softmax) over j = lo, lo + step, ... < hi, in float64."""
        gs = cuda.local.array(unroll, W)
        ys = cuda.local.array(unroll, W)
        s = 0.0
        j = lo
        while j + (unroll - 1) * step < hi:
            for q in range(unroll):
                gs[q] = C(g[base + j + q * step])
                if not log:
                    ys[q] = C(yv[base + j + q * step])
            for q in range(unroll):
                s += S(gs[q]) if log else S(gs[q]) * S(ys[q])
            j += unroll * step
        while j < hi:
            s += term(g, yv, base + j, log)
            j += step
        return s

    @cuda.jit(device=True)
    def grads(g, yv, dx, base, lo, hi, step, s, log):
        gs = cuda.local.array(unroll, W)
        ys = cuda.local.array(unroll, W)
        j = lo
        while j + (unroll - 1) * step < hi:
            for q in range(unroll):
                gs[q] = C(g[base + j + q * step])
                ys[q] = C(yv[base + j + q * step])
            for q in range(unroll):
                dx[base + j + q * step] = grad(gs[q], ys[q], s, log)
            j += unroll * step
        while j < hi:
            dx[base + j] = grad_at(g, yv, base + j, s, log)
            j += step

    # --- rows: `width` lanes per row (a power of two up to a block; wider than a warp, the row's warps meet in
    # shared memory), each holding `items` elements in registers: x (or g and y) read once
    @cuda.jit(device=True)
    def row_max(m, sm):
        """max over the row's `width` lanes, NaN winning; every lane gets it. A row wider than a warp: its warps'
        maxima through shared memory, folded by shuffles among groups of width/32 lanes."""
        off = LANES // 2
        while off > 0:
            o = cuda.shfl_xor_sync(_FULL, m, off)
            m = o if o > m or o != o else m
            off //= 2
        if width > WARP:
            t = cuda.threadIdx.x
            if t % WARP == 0:
                sm[t // WARP] = m
            cuda.syncthreads()
            m = sm[t // width * ROW_WARPS + t % ROW_WARPS]
            off = ROW_WARPS // 2
            while off > 0:
                o = cuda.shfl_xor_sync(_FULL, m, off)
                m = o if o > m or o != o else m
                off //= 2
        return m

    @cuda.jit(device=True)
    def row_sum(s, sm):
        """Σ over the row's `width` lanes, in a fixed order as row_max; every lane gets it."""
        s = lanes_sum(s, LANES)
        if width > WARP:
            t = cuda.threadIdx.x
            if t % WARP == 0:
                sm[t // WARP] = s
            cuda.syncthreads()
            s = lanes_sum(sm[t // width * ROW_WARPS + t % ROW_WARPS], ROW_WARPS)
        return s

    @cuda.jit(device=True)
    def tree_sum(e):
        """Σ e[0:items] pairwise, in place (items a power of two)."""
        h = items // 2
        while h > 0:
            for i in range(h):
                e[i] += e[i + h]
            h //= 2
        return e[0]

    @cuda.jit(device=True)
    def load_row(a, lim, v, fill):
        """v[i] = a[width·i] for width·i < lim, else fill. A full row's loads are unconditional, all in flight
        together (a load under a branch waits for the ones before it to be used); a partial row's are guarded
        (clamping them instead cost full rows 7-10% on an H100)."""
        if lim >= width * items:
            for i in range(items):
                v[i] = C(a[width * i])
        else:
            for i in range(items):
                v[i] = C(a[width * i]) if width * i < lim else fill

    @cuda.jit(device=True)
    def store_row(a, lim, v):
        """a[width·i] = v[i] for width·i < lim."""
        if lim >= width * items:
            for i in range(items):
                a[width * i] = v[i]
        else:
            for i in range(items):
                if width * i < lim:
                    a[width * i] = v[i]

    @cuda.jit(device=True)
    def kept_at(kr, i, lim):
        """Whether the lane's i-th element is in its row and kept by the mask."""
        return width * i < lim and kr[width * i]

    def forward_rows(x, keep, y, rows, n, scale, use_mask, log):
        """max, then Σ e^(v - max) (float32 pairwise over a lane's elements, float64 across lanes), then y: each
        element loaded once, each exponential taken once. Without a mask, the lane's elements past the row (v =
        -inf) add e^(-inf - max) = 0, or NaN where the row's result is NaN anyway. With `stash`, the lane's
        elements width·(items + i), i < stash, are loaded first and kept in shared memory."""
        sm_m = cuda.shared.array(WARPS, W)
        sm_s = cuda.shared.array(WARPS, S)
        buf = cuda.shared.array(BUF, W)
        v = cuda.local.array(items, W)
        e = cuda.local.array(items, W)
        lane, r = group_row()
        t = cuda.threadIdx.x
        first = r * n + lane
        lim = n - lane if r < rows else 0  # the lane's elements: width·i < lim
        xr, yr, kr = x[first:], y[first:], keep[first:] if use_mask else keep  # offsets width·i: no wraparound
        far = width * items  # the stashed elements' offset
        lim2 = lim - far
        kr2 = kr[far:] if use_mask and lim2 > 0 else kr
        m = NEG
        if stash:
            load_row(xr[far:] if lim2 > 0 else xr, lim2, v, NEG)
            for i in range(items):
                v[i] *= scale
                if use_mask and not kept_at(kr2, i, lim2):
                    v[i] = NEG
                m = v[i] if v[i] > m or v[i] != v[i] else m
                buf[i * threads + t] = v[i]
        load_row(xr, lim, v, NEG)
        for i in range(items):
            v[i] *= scale
            if use_mask and not kept_at(kr, i, lim):
                v[i] = NEG
            m = v[i] if v[i] > m or v[i] != v[i] else m
        m = row_max(m, sm_m)
        total = ZERO
        if stash:
            for i in range(items):
                e[i] = math.exp(buf[i * threads + t] - m)
                if use_mask and not kept_at(kr2, i, lim2):
                    e[i] = ZERO
                if not log:
                    buf[i * threads + t] = e[i]
            total = tree_sum(e)
        for i in range(items):
            e[i] = math.exp(v[i] - m)
            if use_mask and not kept_at(kr, i, lim):
                e[i] = ZERO
            if not log:
                v[i] = e[i]
        inv, ls = finals(row_sum(S(tree_sum(e)) + S(total), sm_s), log)
        for i in range(items):
            if log:
                v[i] = (v[i] - m) - ls
            else:
                v[i] *= inv
            if use_mask and not kept_at(kr, i, lim):
                v[i] = NEG if log else ZERO
        store_row(yr, lim, v)
        if stash:
            for i in range(items):
                a = buf[i * threads + t]
                e[i] = (a - m) - ls if log else a * inv
                if use_mask and not kept_at(kr2, i, lim2):
                    e[i] = NEG if log else ZERO
            if lim2 > 0:
                store_row(yr[far:], lim2, e)

    def backward_rows(g, yv, dx, rows, n, log):
        """Σ g·y (softmax) or Σ g (log-softmax) in float64 over registers, then dx: g and y loaded once."""
        sm_s = cuda.shared.array(WARPS, S)
        gs = cuda.local.array(items, W)
        ys = cuda.local.array(items, W)
        lane, r = group_row()
        first = r * n + lane
        lim = n - lane if r < rows else 0
        load_row(g[first:], lim, gs, ZERO)
        load_row(yv[first:], lim, ys, ZERO)
        s = 0.0
        for i in range(items):
            s += S(gs[i]) if log else S(gs[i]) * S(ys[i])
        s = C(row_sum(s, sm_s))  # rounded once: dx in the compute dtype (within 64 registers at 1,024 lanes)
        for i in range(items):
            gs[i] = grad(gs[i], ys[i], s, log)
        store_row(dx[first:], lim, gs)

    # --- block: a block per row
    def forward_block(x, keep, y, rows, n, scale, use_mask, log, cache):
        """The row's first `cache` elements (a multiple of `threads`, or n) stay in shared memory for the write
        pass, which takes the rest first, while they are likely still in L2."""
        row = cuda.shared.array(0, W)
        t = cuda.threadIdx.x
        base = cuda.blockIdx.x * n
        m, s = stats(x, keep, base, t, cache, threads, scale, use_mask, row, True)
        m2, s2 = stats(x, keep, base, cache + t, n, threads, scale, use_mask, row, False)
        m, s = merge(m, s, m2, s2)
        m, s = block_merge(m, s)
        inv, ls = finals(s, log)
        write(x, keep, y, base, cache + t, n, threads, scale, use_mask, m, inv, ls, log, row, False)
        write(x, keep, y, base, t, cache, threads, scale, use_mask, m, inv, ls, log, row, True)

    def backward_block(g, yv, dx, rows, n, log):
        t = cuda.threadIdx.x
        base = cuda.blockIdx.x * n
        s = block_sum(sums(g, yv, base, t, n, threads, log))
        grads(g, yv, dx, base, t, n, threads, s, log)

    # --- split: a row over the blocks of grid row blockIdx.y, chunk blockIdx.x
    def stats_split(x, keep, part_m, part_s, n, chunk, scale, use_mask):
        t = cuda.threadIdx.x
        c, r = cuda.blockIdx.x, cuda.blockIdx.y
        lo, hi = c * chunk + t, min(c * chunk + chunk, n)
        m, s = stats(x, keep, r * n, lo, hi, threads, scale, use_mask, part_m, False)
        m, s = block_merge(m, s)
        if t == 0:
            part_m[r * cuda.gridDim.x + c] = m
            part_s[r * cuda.gridDim.x + c] = s

    def forward_split(x, keep, y, part_m, part_s, n, chunk, scale, use_mask, log):
        t = cuda.threadIdx.x
        c, r = cuda.blockIdx.x, cuda.blockIdx.y
        chunks = cuda.gridDim.x
        m, s = NEG, 0.0
        for k in range(t, chunks, threads):
            m, s = merge(m, s, part_m[r * chunks + k], part_s[r * chunks + k])
        m, s = block_merge(m, s)
        inv, ls = finals(s, log)
        lo, hi = c * chunk + t, min(c * chunk + chunk, n)
        write(x, keep, y, r * n, lo, hi, threads, scale, use_mask, m, inv, ls, log, part_m, False)

    def sums_split(g, yv, part, n, chunk, log):
        t = cuda.threadIdx.x
        c, r = cuda.blockIdx.x, cuda.blockIdx.y
        s = block_sum(sums(g, yv, r * n, c * chunk + t, min(c * chunk + chunk, n), threads, log))
        if t == 0:
            part[r * cuda.gridDim.x + c] = s

    def backward_split(g, yv, dx, part, n, chunk, log):
        t = cuda.threadIdx.x
        c, r = cuda.blockIdx.x, cuda.blockIdx.y
        chunks = cuda.gridDim.x
        s = 0.0
        for k in range(t, chunks, threads):
            s += part[r * chunks + k]
        s = block_sum(s)
        grads(g, yv, dx, r * n, c * chunk + t, min(c * chunk + chunk, n), threads, s, log)

    # --- columns: (outer, n, inner) with inner > 1; column (o, i) is element (o·n + j)·inner + i, j along the axis
    def forward_columns(x, keep, y, cols, n, inner, scale, use_mask, log):
        sm_m = cuda.shared.array(threads, W)
        sm_s = cuda.shared.array(threads, S)
        t = cuda.threadIdx.x
        lane, seg, col, base = column(n, inner)
        active = col < cols
        m, s = NEG, 0.0
        if active:
            for j in range(seg, n, WARPS):
                k = base + j * inner
                if not use_mask or keep[k]:
                    m, s = push(m, s, C(x[k]) * scale)
        sm_m[t] = m
        sm_s[t] = s
        cuda.syncthreads()
        m, s = sm_m[lane], sm_s[lane]
        for q in range(1, WARPS):
            m, s = merge(m, s, sm_m[q * WARP + lane], sm_s[q * WARP + lane])
        s = s if m != POS else C(math.nan)
        inv, ls = finals(s, log)
        if active:
            for j in range(seg, n, WARPS):
                k = base + j * inner
                ok = not use_mask or keep[k]
                put(y, k, C(x[k]) * scale if ok else ZERO, m, inv, ls, ok, log)

    def backward_columns(g, yv, dx, cols, n, inner, log):
        sm = cuda.shared.array(threads, S)
        t = cuda.threadIdx.x
        lane, seg, col, base = column(n, inner)
        active = col < cols
        s = 0.0
        if active:
            for j in range(seg, n, WARPS):
                s += term(g, yv, base + j * inner, log)
        sm[t] = s
        cuda.syncthreads()
        s = sm[lane]
        for q in range(1, WARPS):
            s += sm[q * WARP + lane]
        if active:
            for j in range(seg, n, WARPS):
                k = base + j * inner
                dx[k] = grad_at(g, yv, k, s, log)

    return {k: v for k, v in locals().items() if k.startswith(("forward_", "backward_", "stats_", "sums_"))}


def _signature(name: str, dt_in: str, dt_out: str, work: str):
    """The kernel's explicit signature: arrays (1-D, C-contiguous; the split layout's partial sums float64), then
    int64 sizes, then the scale and flags."""
    from numba import types

    x, y, w = G._arr(dt_in), G._arr(dt_out), G._arr(work)
    mask, i, f, b, d = types.boolean[::1], types.int64, G._nbtype(work), types.boolean, types.float64[::1]
    return {
        "forward_rows": (x, mask, y, i, i, f, b, b),
        "backward_rows": (x, x, y, i, i, b),
        "forward_block": (x, mask, y, i, i, f, b, b, i),
        "backward_block": (x, x, y, i, i, b),
        "stats_split": (x, mask, w, d, i, i, f, b),
        "forward_split": (x, mask, y, w, d, i, i, f, b, b),
        "sums_split": (x, x, d, i, i, b),
        "backward_split": (x, x, y, d, i, i, b),
        "forward_columns": (x, mask, y, i, i, i, f, b, b),
        "backward_columns": (x, x, y, i, i, i, b),
    }[name]


@lru_cache(maxsize=None)
def _compiled(name: str, dt_in: str, dt_out: str, width: int, items: int, unroll: int, threads: int,
              stash: int = 0):
    from numba import types

    work = str(G._dtypes(dt_in)[0])
    fn = _functions(work, width, items, unroll, threads, stash)[name]
    # at most 64 registers a thread: a block of 1,024 threads, or two of 512 (with a stash, or forward_block)
    blocks = 2 if stash else dict(BLOCK_SHAPES).get(threads, 1) if name == "forward_block" else 1
    bounds = {} if threads <= G.THREADS or G._simulated() else {"launch_bounds": (threads, blocks)}
    return _load().jit(types.void(*_signature(name, dt_in, dt_out, work)), **bounds)(fn)


def _kernel(name: str, dt_in: str, dt_out: str, width: int = WARP, items: int = 1, unroll: int | None = None,
            threads: int | None = None, stash: int = 0):
    """Kernel `name` compiled for its explicit signature (once per dtypes: launches pay no type resolution)."""
    return _compiled(name, dt_in, dt_out, width, items, UNROLL if unroll is None else unroll,
                     THREADS if threads is None else threads, stash)


# ---------------------------------------------------------------------------------------------------- layouts
def layout(rows: int, n: int, inner: int, itemsize: int = 4) -> str:
    """Which kernels take a softmax of `rows` rows of n elements with stride `inner`, computed in `itemsize`-byte
    floats (a function of the shape and the compute dtype)."""
    if inner > 1:
        return "columns"
    if rows < SPLIT_ROWS and n >= 2 * SPLIT_CHUNK:
        return "split"
    if n <= rows_max(itemsize):
        return "rows"
    return "block"


def rows_max(itemsize: int) -> int:
    """The rows layout's longest row: ROWS_MAX float32, half as many float64 (the row, or g and y, in 64 registers
    a thread; float64 rows of 16,384 spilled, and their forward's stash would pass the 48 KiB of static shared
    memory ptxas allows)."""
    return ROWS_MAX * 4 // max(4, itemsize)


def _rows_shape(n: int, backward: bool) -> tuple[int, int, int]:
    """(lanes per row, elements per lane in registers, more in shared memory) of the rows layout: powers of two,
    the lanes at most a block; forward rows past STASH_ROW keep half their elements in shared memory (512 lanes of
    16 + 16 at 16,384, two blocks an SM; 1,024 lanes of 16 took 64 registers a thread, one block). Measured on
    an H100 (2^28 float32, × copy bandwidth, forward/backward): 8 columns at (2, 4) 0.97/0.73, (4, 2) 0.70/0.82,
    (1, 8) 0.43/0.74; 128 at (16, 8) 0.94/0.97, (32, 4) 0.91/1.00; 1,024 at (128, 8) 0.98/1.00, (64, 16)
    0.95/0.99, (256, 4) 0.67/0.99; 4,096 at (256, 16) 0.98/1.00, (512, 8) 0.75/1.01."""
    if backward:
        items = 2 if n <= 16 else 4 if n <= 128 else 8 if n <= 2048 else 16
    else:
        items = 4 if n <= 64 else 8 if n <= 2048 else 16
    items = min(items, 1 << (n - 1).bit_length())
    stash = items if not backward and n > STASH_ROW else 0
    return 1 << (-(-n // (items + stash)) - 1).bit_length(), items, stash


_PLANS: dict = {}  # (dtypes, n, item size, CUDA context) -> _block_plan's answer from the GPU's limits


def _block_plan(dt: tuple, n: int, itemsize: int):
    """(kernel, threads a block, leading elements of the row kept in shared memory) for the block layout's forward.
    Two blocks of 512 threads an SM where the whole row fits in half an SM's shared memory; else one block of 1,024
    keeping as much of the row as a block may opt in to (an H100: 227 KiB, 87.5% of a row of 65,536 float32), the
    rest read again, from L2 if it is still there. Where the GPU's limits are unknown (the simulator) or the driver
    refuses, THREADS and ROW_CACHE bytes. Worked out once per row length and context."""
    key = (dt, n, itemsize, G._context_key())
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    for threads, blocks in BLOCK_SHAPES:
        kernel = _block_kernel(dt, itemsize, threads)
        room = G.shared_room(kernel, blocks)
        if room is None:
            break
        cache = _cache(n, threads, room // itemsize)
        if (cache == n or blocks == 1) and G.allow_shared(kernel, cache * itemsize):
            if len(_PLANS) >= 4096:  # many row lengths: keep the dict small
                _PLANS.clear()
            _PLANS[key] = kernel, threads, cache
            return _PLANS[key]
    return _kernel("forward_block", *dt), THREADS, _cache(n, THREADS, ROW_CACHE // itemsize)


def _block_kernel(dt: tuple, itemsize: int, threads: int):
    """forward_block for one of BLOCK_SHAPES' thread counts, loading BLOCK_UNROLL bytes a thread at a time."""
    return _kernel("forward_block", *dt, unroll=BLOCK_UNROLL // itemsize, threads=threads)


def _cache(n: int, threads: int, room: int) -> int:
    """Elements of a row of n kept in shared memory with room for `room`: all, or a multiple of `threads`."""
    return n if n <= room else room // threads * threads


def _rows_launch(name: str, dt: tuple, rows: int, n: int, call, *args) -> None:
    width, items, stash = _rows_shape(n, name.startswith("backward"))
    threads = max(THREADS, width)
    launch(_kernel(name, *dt, width, items, 1, threads, stash), -(-rows // (threads // width)), threads, call, *args)


@lru_cache(maxsize=None)
def _no_mask():
    """A placeholder for the mask argument when there is none (never read)."""
    return _load().device_array(1, dtype=np.bool_)


def softmax_forward(x, axis, out, scale, mask, log):
    call = G.Call(x, out, mask)
    d = call.device(x, "x")
    work, final = G._dtypes(d.dtype)
    d = G._as_work(call, d, work)
    axis = _axis(axis, d.ndim)
    G._check_out(out, tuple(d.shape), final)
    s = work.type(1.0 if scale is None else G.A.check_param("scale", scale))
    keep = _no_mask() if mask is None else _device_mask(call, mask, tuple(d.shape))
    y = G._out_device(call, out, tuple(d.shape), final)
    outer, n, inner = _split(tuple(d.shape) or (1,), axis)
    if d.size:
        xs, ys = G.flat(d), G.flat(y)
        dt, use_mask = (G._name(d.dtype), G._name(final)), mask is not None
        rows, kind = outer * inner, layout(outer * inner, n, inner, work.itemsize)
        if kind == "rows":
            _rows_launch("forward_rows", dt, rows, n, call, xs, keep, ys, rows, n, s, use_mask, log)
        elif kind == "block":
            kernel, threads, cache = _block_plan(dt, n, work.itemsize)
            launch(kernel, rows, threads, call, xs, keep, ys, rows, n, s, use_mask, log, cache,
                   shared=cache * work.itemsize)
        elif kind == "split":
            chunks = -(-n // SPLIT_CHUNK)
            pm, ps = call.empty((rows * chunks,), work), call.empty((rows * chunks,), np.float64)
            grid = (chunks, rows)
            launch(_kernel("stats_split", *dt), grid, THREADS, call, xs, keep, pm, ps, n, SPLIT_CHUNK, s, use_mask)
            launch(_kernel("forward_split", *dt), grid, THREADS, call, xs, keep, ys, pm, ps, n, SPLIT_CHUNK, s,
                   use_mask, log)
        else:
            launch(_kernel("forward_columns", *dt), -(-rows // WARP), THREADS, call, xs, keep, ys, rows, n, inner, s,
                   use_mask, log)
    return call.result(y, out)


def softmax_backward(grad, y, axis, out, log):
    call = G.Call(grad, y, out)
    dy, dg, work, final = G._with_grad(call, grad, y, "y")
    axis = _axis(axis, dy.ndim)
    G._check_out(out, tuple(dy.shape), final)
    dx = G._out_device(call, out, tuple(dy.shape), final)
    outer, n, inner = _split(tuple(dy.shape) or (1,), axis)
    if dy.size:
        gs, ys, xs = G.flat(dg), G.flat(dy), G.flat(dx)
        dt = (G._name(dy.dtype), G._name(final))
        rows, kind = outer * inner, layout(outer * inner, n, inner, work.itemsize)
        if kind == "rows":
            _rows_launch("backward_rows", dt, rows, n, call, gs, ys, xs, rows, n, log)
        elif kind == "block":
            launch(_kernel("backward_block", *dt), rows, THREADS, call, gs, ys, xs, rows, n, log)
        elif kind == "split":
            chunks = -(-n // SPLIT_CHUNK)
            part = call.empty((rows * chunks,), np.float64)
            launch(_kernel("sums_split", *dt), (chunks, rows), THREADS, call, gs, ys, part, n, SPLIT_CHUNK, log)
            launch(_kernel("backward_split", *dt), (chunks, rows), THREADS, call, gs, ys, xs, part, n, SPLIT_CHUNK, log)
        else:
            launch(_kernel("backward_columns", *dt), -(-rows // WARP), THREADS, call, gs, ys, xs, rows, n, inner, log)
    return call.result(dx, out)


def _device_mask(call, mask, shape):
    """The mask as a flat boolean device array of x's shape (a host mask is broadcast first)."""
    if G._kind(mask) == "host":
        from .softmax import _broadcast_mask

        keep = call.device(np.ascontiguousarray(_broadcast_mask(mask, shape)), "mask", np.bool_)
    else:
        keep = call.device(mask, "mask")
    if keep.dtype != np.bool_:
        raise TypeError(f"mask must be a boolean array (True = keep), got dtype {keep.dtype}")
    if tuple(keep.shape) != shape:
        raise ValueError(f"a GPU mask must have x's shape {shape}, got {tuple(keep.shape)}")
    return G.flat(keep)
