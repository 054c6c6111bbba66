"""Multi-threaded runs of the serial CPU kernels: contiguous shares of the work on a pool of threads.

The kernels are compiled with nogil=True, so the shares run truly in parallel. Numba's own parallel loops
(prange) are not used for the elementwise families: LLVM compiles a long loop body inside the parallel wrapper
to markedly slower code than the same body in a function of its own (measured here: sigmoid forward at
1.06 vs 0.72 ns/element on one core, in cache; bench/threshold.py compares the two). The thread count follows
numba.get_num_threads(), so numba.set_num_threads() and NUMBA_NUM_THREADS apply.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numba

from . import _arrays

# Shares per thread: a few, so that a thread slowed by the machine's other work does not hold up the call.
SHARES_PER_THREAD = 4
_POOL: list = []
_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    if not _POOL:
        with _LOCK:
            if not _POOL:
                _POOL.append(ThreadPoolExecutor(numba.config.NUMBA_NUM_THREADS, thread_name_prefix="fastact"))
    return _POOL[0]


def shares(n: int, parts: int, align: int = 16) -> list[tuple[int, int]]:
    """range(n) cut into at most `parts` contiguous (lo, hi) ranges, inner bounds multiples of `align`."""
    step = -(-n // max(1, parts))
    step = -(-step // align) * align
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)] or [(0, 0)]


def run(kernel: Callable, n: int, args: Callable[[int, int], tuple], *, size: int | None = None,
        align: int = 16) -> None:
    """kernel(*args(lo, hi)) over shares of range(n): one call on this thread when the work (`size` elements,
    default n) is under the parallel threshold; else this thread and threads - 1 pool workers take the shares
    in turn until none is left."""
    size = n if size is None else size
    threads = numba.get_num_threads()
    if threads == 1 or not _arrays.parallel(size):
        kernel(*args(0, n))
        return
    parts = iter(shares(n, threads * SHARES_PER_THREAD, align))
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                share = next(parts, None)
            if share is None:
                return
            kernel(*args(*share))

    helpers = [_pool().submit(work) for _ in range(threads - 1)]
    work()
    for h in helpers:
        h.result()
