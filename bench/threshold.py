"""Measure the serial/parallel crossover: time serial and parallel kernels over sizes, print the first size from
which parallel is faster for each kernel (the basis of fastact._arrays.PARALLEL_THRESHOLD)."""
import numpy as np

import fastact
from fastact._codegen import kernels
from fastact.benchmark import best_time


def best(fn):
    return best_time(fn, repeat=200)


def main():
    sizes = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144]
    print("kernel      " + " ".join(f"{n:>8}" for n in sizes) + "   (serial/parallel time ratio)")
    for key in ("relu", "sigmoid", "gelu", "mish"):
        k = kernels(key)
        ratios, cross = [], None
        for n in sizes:
            x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
            o = np.empty_like(x)
            s = best(lambda: k.forward_serial(x, o))
            p = best(lambda: k.forward_parallel(x, o))
            ratios.append(s / p)
            if cross is None and s > p:
                cross = n
        print(f"{key:<11} " + " ".join(f"{r:8.2f}" for r in ratios) + f"   parallel wins from {cross}")
    print(f"(fastact {fastact.__version__}; current threshold {fastact._arrays.PARALLEL_THRESHOLD})")


if __name__ == "__main__":
    main()
