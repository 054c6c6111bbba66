"""The `fastact` command: `fastact bench` (timings against NumPy) and `fastact info`."""
from __future__ import annotations

import argparse
import sys

import numpy as np


def _bench(args) -> int:
    from . import benchmark

    if args.device == "cuda":
        return _bench_gpu(args)
    names = args.only.split(",") if args.only else None
    unknown = [n for n in names or [] if n not in benchmark.NUMPY]
    if unknown:
        print(f"unknown activation(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    suites = args.suite.split(",")
    unknown = [s for s in suites if s not in benchmark.SUITES]
    if unknown:
        print(f"unknown suite(s): {', '.join(unknown)}; choose from {', '.join(benchmark.SUITES)}", file=sys.stderr)
        return 2
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)

    def progress(msg):
        print(f"  timing {msg} ...", file=sys.stderr, flush=True)

    rows = benchmark.run(suites, names, n=args.size, dtype=np.dtype(args.dtype), repeat=args.repeat,
                         progress=None if args.quiet else progress)
    print(benchmark.format_table(rows, args.size, args.dtype))
    return 0


def _bench_gpu(args) -> int:
    from . import benchmark_gpu
    from .gpu import status

    ok, why = status()
    if not ok:
        print(f"no usable GPU: {why}", file=sys.stderr)
        return 2
    n = args.size if args.size_given else 1 << 28

    def progress(msg):
        print(f"  timing {msg} ...", file=sys.stderr, flush=True)

    bw, overhead, rows = benchmark_gpu.run(n, np.dtype(args.dtype), max(args.repeat, 10),
                                           None if args.quiet else progress)
    print(benchmark_gpu.format_table(bw, overhead, rows, n, args.dtype))
    return 0


def _info(_args) -> int:
    import numba

    from . import __version__
    from ._arrays import PARALLEL_THRESHOLD
    from ._codegen import cache_dir

    print(f"fastact {__version__}, numba {numba.__version__}, numpy {np.__version__}")
    print(f"threads: {numba.get_num_threads()} ({numba.threading_layer() if _threads_started() else 'not started'})")
    print(f"parallel threshold: {PARALLEL_THRESHOLD} elements; kernel cache: {cache_dir()}")
    from .gpu import status

    ok, why = status()
    print(f"CUDA: {'usable' if ok else 'not usable'} - {why}")
    return 0


def _threads_started() -> bool:
    import numba

    try:
        numba.threading_layer()
        return True
    except ValueError:
        return False


def main(argv=None) -> int:
    from . import benchmark

    p = argparse.ArgumentParser(prog="fastact", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time every operation against NumPy (and PyTorch, JAX if installed)")
    b.add_argument("--size", type=int, help="elements per array (default 33,554,432; 268,435,456 on the GPU)")
    b.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="benchmark the CPU (default) or the GPU")
    b.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    b.add_argument("--repeat", type=int, default=5, help="timed runs per measurement; the best is reported")
    suites = list(benchmark.SUITES)
    b.add_argument("--suite", default=",".join(suites),
                   help=f"comma-separated suites to run (default: all of {', '.join(suites)})")
    b.add_argument("--only", help="comma-separated activation names (activations suite)")
    b.add_argument("--threads", type=int, help="number of threads (default: all cores)")
    b.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    b.set_defaults(func=_bench)
    i = sub.add_parser("info", help="versions, threads, cache location, CUDA availability")
    i.set_defaults(func=_info)
    args = p.parse_args(argv)
    if args.command == "bench":
        args.size_given = args.size is not None
        args.size = args.size or 1 << 25
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
