"""CPU softmax and log-softmax over a non-last axis, forward and backward.

x is viewed as (outer, n, inner) with the softmax along n: each column (one outer index, one inner index) is a
softmax. The work is cut into units, a block of up to WIDTH columns of one outer slice (all of `inner` where it
fits), and each unit into `parts` ranges of rows, one task each.

A task reads its rows as vectors of `lanes` elements. Where a unit holds all of `inner`, k consecutive rows are
contiguous and one vector takes k of them (lanes = k·inner, about LANES elements), so that every loop runs over
a few hundred elements however few columns there are; otherwise a vector is one row of the unit. Each lane keeps
its own statistics: lane i belongs to column i % (columns of the unit), and a column's lanes, then its parts,
are merged at the end. A last pass recomputes the terms and writes them, reading the task's vectors in the
reverse of the order its statistics read them (the last read may still be in cache).

- forward: per lane a running max m and Σ e^(x·scale - m), online in one pass with one exponential a term, in
  the input's precision over blocks of BLOCK_ROWS vectors, merged in float64. A unit small enough to stay in
  cache instead takes three passes (max; terms stored and summed; scaled) with one exponential a term in all.
- backward: per lane Σ g·y (softmax) or Σ g (log-softmax), float64; merging adds them (in a fixed order, so the
  result does not depend on the number of threads).

Units are taken in groups of about GROUP elements: every task's statistics of a group, the merge, then every
task's write pass, so that a group is still in the last-level cache when it is written.
"""
import numpy as np
from numba import prange

from ._bits import ordered, unordered
from ._softmax_kernels import _prefetch
from ._jit import FASTMATH_REDUCE, cpu_jit
from ._parallel import CHUNK, call_noinline, chunk, chunks
from ._scalar import K
from .vecmath import exp, exp_nonpos, log1p

WIDTH = 1024  # columns per unit at most (wider slices are cut in blocks of equal width)
LANES = 256  # elements per vector where rows are folded together
BLOCK_ROWS = 16  # vectors whose statistics are taken in the input's precision before a float64 merge
# Vectors prefetched ahead. A unit's rows are strided, and with a power-of-two stride they share cache sets, so
# that a cache holds only a few of them at a time: the statistics make one pass, and prefetch little.
AHEAD = 2
SMALL = 1 << 15  # elements of a unit that the forward takes in cache (three passes, one exponential each)
PART = 1 << 20  # elements per task at most
GROUP = 1 << 22  # elements of the units whose statistics, merge and writes are done before the next units'

_reduce_jit = cpu_jit(fastmath=FASTMATH_REDUCE)
_inline_jit = cpu_jit(inline="always")


def plan(outer: int, n: int, inner: int, threads: int) -> tuple[int, int, int]:
    """(w, k, rp): columns per unit, rows per vector, rows per part, for a (outer, n, inner) softmax."""
    blocks = -(-inner // WIDTH)
    w = -(-inner // blocks)
    k = 1
    if blocks == 1:
        k = 8 // int(np.gcd(w, 8))  # a whole number of float32 vectors per row
        k = max(1, min(k * max(1, LANES // (k * w)), n))
    units = outer * blocks
    parts = max(-(-n * w // PART), -(-2 * threads // units))
    rp = -(-n // parts)
    rp = -(-rp // k) * k  # whole vectors in every part but the last
    return int(w), int(k), int(rp)


@cpu_jit
def _task(u, p, n, inner, w, k, rp):
    """(base, stride, full, tail, lanes, cols) of task p of unit u: `full` vectors of `lanes` elements at
    x[base + q·stride], then one of `tail` elements (0: none); cols: the unit's columns."""
    blocks = (inner + w - 1) // w
    o = u // blocks
    c0 = (u - o * blocks) * w
    cols = min(w, inner - c0)
    r0 = p * rp
    rows = min(n, r0 + rp) - r0
    base = (o * n + r0) * inner + c0
    if k > 1:
        full = rows // k
        return base, k * cols, full, (rows - full * k) * cols, k * cols, cols
    return base, inner, rows, 0, cols, cols


@_inline_jit
def _vector(q, base, stride, full, tail, lanes):
    return base + q * stride, lanes if q < full else tail


# ---------------------------------------------------------------------------------------------------- statistics
@cpu_jit
def _block_online(x, base, stride, full, tail, lanes, q0, q1, scale, mb, sb):
    """Each lane's max mb and Σ e^(x·scale - mb) sb over vectors q0..q1, online in one pass with one
    exponential a term: e = e^-|v - max|, then Σ·e + 1 where v raises the max, Σ + e where it does not."""
    for i in range(lanes):
        mb[i] = K(scale, -np.inf)
        sb[i] = K(scale, 0.0)
    for q in range(q0, q1):
        b, length = _vector(q, base, stride, full, tail, lanes)
        _prefetch(x, b + AHEAD * stride, b + AHEAD * stride + length)
        xs = x[b:b + length]
        for i in range(length):
            v = xs[i] * scale
            mo = mb[i]
            e = exp_nonpos(K(v, 0.0) if v == mo else -abs(v - mo))  # v == mo: also -inf against -inf
            up = v > mo  # False for NaN: its e makes the sum NaN
            sb[i] = sb[i] * e + K(v, 1.0) if up else sb[i] + e
            mb[i] = v if up else mo


@_reduce_jit
def _block_dot(g, y, base, stride, full, tail, lanes, q0, q1, log, sb):
    """Each lane's Σ g·y (log-softmax: Σ g) over vectors q0..q1."""
    for i in range(lanes):
        sb[i] = K(y[0], 0.0)
    for q in range(q0, q1):
        b, length = _vector(q, base, stride, full, tail, lanes)
        _prefetch(g, b + AHEAD * stride, b + AHEAD * stride + length)
        _prefetch(y, b + AHEAD * stride, b + AHEAD * stride + length)
        gs, ys = g[b:b + length], y[b:b + length]
        if log:
            for i in range(length):
                sb[i] += gs[i]
        else:
            for i in range(length):
                sb[i] += gs[i] * ys[i]


@_inline_jit
def _merge(m1, s1, m2, s2):
    """(max, Σ) of two (max, Σ) pairs, Σ in float64 (the backward's maxes are all 0: the sums add)."""
    e = exp(0.0 if m1 == m2 else -abs(np.float64(m1) - np.float64(m2)))
    return (m2, s1 * e + s2) if m2 > m1 else (m1, s1 + s2 * e)


@cpu_jit
def _task_stats(a, b, base, stride, full, tail, lanes, scale, log, backward, m, s, scratch):
    """Each lane's (max, Σ) of the task (forward; a = x), or (0, Σ g·y or Σ g) (backward; a = g, b = y), taken
    over blocks of BLOCK_ROWS vectors in the input's precision and merged in float64."""
    mb, sb = scratch[1], scratch[2]
    for i in range(lanes):
        m[i] = K(scale, -np.inf) if not backward else K(scale, 0.0)
        s[i] = 0.0
    nvec = full + (tail > 0)
    for q0 in range(0, nvec, BLOCK_ROWS):
        q1 = min(nvec, q0 + BLOCK_ROWS)
        if backward:
            _block_dot(a, b, base, stride, full, tail, lanes, q0, q1, log, sb)
            for i in range(lanes):
                s[i] += np.float64(sb[i])
        else:
            _block_online(a, base, stride, full, tail, lanes, q0, q1, scale, mb, sb)
            for i in range(lanes):
                m[i], s[i] = _merge(m[i], s[i], mb[i], np.float64(sb[i]))


@cpu_jit
def _fold(m, s, lanes, cols, pm, ps, backward):
    """pm[c], ps[c]: lanes c, c + cols, c + 2·cols, ... of (m, s) merged (see _merge)."""
    for c in range(cols):
        pm[c] = m[c]
        ps[c] = 0.0
    for g in range(cols, lanes, cols):
        for c in range(cols):
            pm[c] = m[g + c] if m[g + c] > pm[c] else pm[c]
    if backward:
        for g in range(0, lanes, cols):
            for c in range(cols):
                ps[c] += s[g + c]
        return
    for g in range(0, lanes, cols):
        for c in range(cols):
            f = exp(np.float64(m[g + c]) - np.float64(pm[c]))  # for every lane, so that the loop vectorizes
            ps[c] += s[g + c] * (1.0 if m[g + c] == pm[c] else f)


@_inline_jit
def _factor(m, s, log):
    """1/Σ (softmax) or ln Σ (log-softmax) of a column whose max is m; NaN for a column of -inf and NaN only,
    or one holding +inf, as in PyTorch."""
    if m == -np.inf or m == np.inf:
        return K(m, np.nan)
    return K(m, log1p(s - 1.0)) if log else K(m, 1.0 / s)


@cpu_jit
def _finish(pm, ps, parts, cols, log, backward, mf, ff):
    """A unit's columns from its parts' (max, Σ) rows pm, ps: the max mf and the factor ff (see _factor); the
    backward's ff is Σ."""
    for c in range(cols):
        m, s = pm[0, c], ps[0, c]
        for t in range(1, parts):
            m, s = _merge(m, s, pm[t, c], ps[t, c])
        mf[c] = m
        ff[c] = K(m, s) if backward else _factor(m, s, log)


# ---------------------------------------------------------------------------------------------------- writes
@cpu_jit
def _tile(src, cols, lanes, dst):
    """dst[:lanes] = src[:cols] repeated (lanes: a multiple of cols)."""
    for g in range(0, lanes, cols):
        for c in range(cols):
            dst[g + c] = src[c]


@cpu_jit
def _task_write(a, b, out, base, stride, full, tail, lanes, cols, mf, ff, scale, log, backward, mr, fr):
    """Write the task's vectors, last first, given its unit's mf, ff (see _finish)."""
    _tile(mf, cols, lanes, mr)
    _tile(ff, cols, lanes, fr)
    for q in range(full + (tail > 0) - 1, -1, -1):
        v, length = _vector(q, base, stride, full, tail, lanes)
        _prefetch(a, v - AHEAD * stride, v - AHEAD * stride + length)
        if backward:
            _prefetch(b, v - AHEAD * stride, v - AHEAD * stride + length)
        xs, ys, os = a[v:v + length], b[v:v + length], out[v:v + length]
        if backward and log:
            for i in range(length):
                os[i] = xs[i] - exp(ys[i]) * fr[i]
        elif backward:
            for i in range(length):
                os[i] = ys[i] * (xs[i] - fr[i])
        elif log:
            for i in range(length):
                os[i] = (xs[i] * scale - mr[i]) - fr[i]
        else:
            for i in range(length):
                os[i] = exp_nonpos(xs[i] * scale - mr[i]) * fr[i]


# ---------------------------------------------------------------------------------------------------- small units
@_reduce_jit
def _block_max(x, base, stride, full, tail, lanes, q0, q1, scale, mi):
    """mi[i] = the order image (see fastact._bits.ordered) of max x·scale over lane i of vectors q0..q1."""
    for i in range(lanes):
        mi[i] = ordered(K(scale, -np.inf))
    for q in range(q0, q1):
        b, length = _vector(q, base, stride, full, tail, lanes)
        xs = x[b:b + length]
        for i in range(length):
            v = ordered(xs[i] * scale)
            mi[i] = v if v > mi[i] else mi[i]


@_reduce_jit
def _block_sum(x, out, base, stride, full, tail, lanes, q0, q1, scale, shift, store, sb):
    """Each lane's Σ e^(x·scale - shift) over vectors q0..q1, storing the terms in out if `store`."""
    for i in range(lanes):
        sb[i] = K(scale, 0.0)
    for q in range(q0, q1):
        b, length = _vector(q, base, stride, full, tail, lanes)
        xs, os = x[b:b + length], out[b:b + length]
        if store:  # two loops: one touching four arrays needs too many run-time alias checks to vectorize
            for i in range(length):
                os[i] = exp_nonpos(xs[i] * scale - shift[i])
            for i in range(length):
                sb[i] += os[i]
        else:
            for i in range(length):
                sb[i] += exp_nonpos(xs[i] * scale - shift[i])


@cpu_jit
def _small_forward(x, out, base, stride, full, tail, lanes, cols, scale, log, scratch, s, ps, mf, ff, mr, fr):
    """A whole unit that stays in cache: a max pass, a pass summing the terms (softmax: storing them) and one
    scaling them (log-softmax: writing x·scale - max - ln Σ); one exponential a term, where the statistics and
    the write pass take two."""
    mi, shift, sb = scratch
    nvec = full + (tail > 0)
    _block_max(x, base, stride, full, tail, lanes, 0, nvec, scale, mi)
    for g in range(cols, lanes, cols):
        for c in range(cols):
            mi[c] = mi[g + c] if mi[g + c] > mi[c] else mi[c]
    for c in range(cols):
        mf[c] = unordered(mi[c])
    _tile(mf, cols, lanes, mr)
    for i in range(lanes):
        shift[i] = mr[i] if mr[i] != -np.inf else K(scale, 0.0)  # -inf terms give 0, not NaN
        s[i] = 0.0
    for q0 in range(0, nvec, BLOCK_ROWS):
        _block_sum(x, out, base, stride, full, tail, lanes, q0, min(nvec, q0 + BLOCK_ROWS), scale, shift, not log,
                   sb)
        for i in range(lanes):
            s[i] += np.float64(sb[i])
    _fold(mr, s, lanes, cols, mf, ps, True)
    for c in range(cols):
        ff[c] = _factor(mf[c], ps[c], log)
    _tile(ff, cols, lanes, fr)
    for q in range(nvec - 1, -1, -1):
        v, length = _vector(q, base, stride, full, tail, lanes)
        xs, os = x[v:v + length], out[v:v + length]
        if log:
            for i in range(length):
                os[i] = (xs[i] * scale - mr[i]) - fr[i]
        else:
            for i in range(length):
                os[i] = os[i] * fr[i]


# ---------------------------------------------------------------------------------------------------- drivers
@cpu_jit
def _scratch(lanes, like, scale):
    return np.full(lanes, ordered(K(scale, 0.0))), np.empty(lanes, like.dtype), np.empty(lanes, like.dtype)


@cpu_jit
def _whole_units(a, b, out, geometry, lo, hi, scale, log, backward):
    """Units lo..hi, each in one task: statistics, merge, write."""
    n, inner, w, k, rp = geometry
    top = k * w
    m, s = np.empty(top, a.dtype), np.empty(top, np.float64)
    pm, ps = np.empty((1, w), a.dtype), np.empty((1, w), np.float64)
    mf, ff, mr, fr = np.empty(w, a.dtype), np.empty(w, a.dtype), np.empty(top, a.dtype), np.empty(top, a.dtype)
    scratch = _scratch(top, a, scale)
    for u in range(lo, hi):
        base, stride, full, tail, lanes, cols = _task(u, 0, n, inner, w, k, rp)
        if not backward and n * cols <= SMALL:
            _small_forward(a, out, base, stride, full, tail, lanes, cols, scale, log, scratch, s, ps[0], mf, ff, mr,
                           fr)
            continue
        _task_stats(a, b, base, stride, full, tail, lanes, scale, log, backward, m, s, scratch)
        _fold(m, s, lanes, cols, pm[0], ps[0], backward)
        _finish(pm, ps, 1, cols, log, backward, mf, ff)
        _task_write(a, b, out, base, stride, full, tail, lanes, cols, mf, ff, scale, log, backward, mr, fr)


@cpu_jit
def _stats_range(a, b, geometry, u0, lo, hi, parts, scale, log, backward, pm, ps):
    """Statistics of tasks lo..hi (numbered from unit u0's first part) into pm, ps (a row per task)."""
    n, inner, w, k, rp = geometry
    top = k * w
    m, s = np.empty(top, a.dtype), np.empty(top, np.float64)
    scratch = _scratch(top, a, scale)
    for t in range(lo, hi):
        u, p = u0 + t // parts, t % parts
        base, stride, full, tail, lanes, cols = _task(u, p, n, inner, w, k, rp)
        _task_stats(a, b, base, stride, full, tail, lanes, scale, log, backward, m, s, scratch)
        _fold(m, s, lanes, cols, pm[t], ps[t], backward)


@cpu_jit
def _write_range(a, b, out, geometry, u0, lo, hi, parts, scale, log, backward, mf, ff):
    """Write passes of tasks lo..hi, last first, given each unit's row of mf, ff (numbered from u0)."""
    n, inner, w, k, rp = geometry
    mr, fr = np.empty(k * w, a.dtype), np.empty(k * w, a.dtype)
    for t in range(hi - 1, lo - 1, -1):
        u, p = u0 + t // parts, t % parts
        base, stride, full, tail, lanes, cols = _task(u, p, n, inner, w, k, rp)
        _task_write(a, b, out, base, stride, full, tail, lanes, cols, mf[t // parts], ff[t // parts], scale, log,
                    backward, mr, fr)


@cpu_jit(parallel=True)
def strided(a, b, out, outer, geometry, scale, log, backward, threads):
    """Softmax (a = x; b unused) or its backward (a = g, b = y) over axis 1 of (outer, n, inner), on the flat
    C-contiguous a, b, out. geometry: (n, inner, w, k, rp) from `plan`; threads: the number of threads (each
    takes a fixed share of a group's tasks)."""
    n, inner, w, k, rp = geometry
    units = outer * ((inner + w - 1) // w)
    parts = (n + rp - 1) // rp
    if parts == 1:
        per = max(1, CHUNK // (n * w))
        for c in prange(chunks(units, per)):
            lo, hi = chunk(c, units, per)
            call_noinline(_whole_units, (a, b, out, geometry, lo, hi, scale, log, backward))
        return
    per = max(1, GROUP // (n * w))  # units per group
    pm = np.empty((min(units, per) * parts, w), a.dtype)
    ps = np.empty((min(units, per) * parts, w), np.float64)
    mf, ff = np.empty((min(units, per), w), a.dtype), np.empty((min(units, per), w), a.dtype)
    for u0 in range(0, units, per):
        u1 = min(units, u0 + per)
        tasks = (u1 - u0) * parts
        for t in prange(threads):
            call_noinline(_stats_range, (a, b, geometry, u0, tasks * t // threads, tasks * (t + 1) // threads,
                                         parts, scale, log, backward, pm, ps))
        for u in range(u1 - u0):
            cols = min(w, inner - ((u0 + u) % ((inner + w - 1) // w)) * w)
            _finish(pm[u * parts:(u + 1) * parts], ps[u * parts:(u + 1) * parts], parts, cols, log, backward, mf[u],
                    ff[u])
        for t in prange(threads):
            call_noinline(_write_range, (a, b, out, geometry, u0, tasks * t // threads, tasks * (t + 1) // threads,
                                         parts, scale, log, backward, mf, ff))
