"""The GPU softmax block layout's choices, side by side: for long rows, each (threads a block, elements of the row
kept in shared memory) that fastact.gpu_softmax._block_plan could take, as a fraction of the device-to-device
copy bandwidth measured in the same run.

    python bench/gpu_softmax_blocks.py [--size 268435456] [--cols 20000,32768,65536] [--dtype float32]

"plan" is what fastact runs; "48 KiB" what it ran before opting in to more shared memory (THREADS, ROW_CACHE).
"""
import argparse

import numpy as np
from numba import cuda

import fastact
from fastact import gpu, gpu_softmax as S
from fastact.benchmark_gpu import gpu_time


def variants(dt, n, itemsize):
    """(label, (kernel, threads, cache)) for rows of n elements."""
    plan = S._block_plan(dt, n, itemsize)
    yield "plan", plan
    yield "48 KiB", (S._kernel("forward_block", *dt), S.THREADS, S._cache(n, S.THREADS, S.ROW_CACHE // itemsize))
    for threads, blocks in S.BLOCK_SHAPES:
        kernel = S._block_kernel(dt, itemsize, threads)
        room = gpu.shared_room(kernel, blocks)
        most = S._cache(n, threads, (room or 0) // itemsize)
        for cache in sorted({0, most // 2 // threads * threads, most}):
            if gpu.allow_shared(kernel, cache * itemsize):
                yield f"{threads} threads, {blocks} an SM, {cache / n:.0%} kept", (kernel, threads, cache)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1 << 28)
    ap.add_argument("--cols", default="20000,32768,65536")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    dtype = np.dtype(args.dtype)
    a, b = cuda.to_device(np.zeros(args.size, dtype)), cuda.device_array(args.size, dtype)
    bw = 2 * a.nbytes / gpu_time(lambda: b.copy_to_device(a), args.repeat)
    print(f"copy {bw / 1e9:.0f} GB/s, {args.size:,} {dtype.name}")
    print("columns | variant | × copy BW")
    dt, real = (dtype.name,) * 2, S._block_plan
    try:
        for n in map(int, args.cols.split(",")):
            rows = args.size // n
            x = cuda.to_device(np.random.default_rng(0).standard_normal((rows, n)).astype(dtype))
            y = cuda.device_array((rows, n), dtype)
            assert S.layout(rows, n, 1, dtype.itemsize) == "block", f"rows of {n} do not take the block layout"
            want = fastact.softmax(x).copy_to_host()
            for label, choice in list(variants(dt, n, dtype.itemsize)):
                S._block_plan = lambda *_, choice=choice: choice
                fastact.softmax(x, out=y)
                np.testing.assert_allclose(y.copy_to_host(), want, rtol=1e-5, atol=0)
                t = gpu_time(lambda: fastact.softmax(x, out=y), args.repeat)
                print(f"{n} | {label} | {2 * x.nbytes / t / bw:.2f}", flush=True)
    finally:
        S._block_plan = real


if __name__ == "__main__":
    main()
