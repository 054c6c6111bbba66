"""Softmax throughput as a fraction of the copy bandwidth measured in the same process (float32, all threads).

    python bench/softmax.py
"""
import numpy as np

import fastact
from fastact.benchmark import best_time, copy_bandwidth

CASES = [((32768, 1024), -1), ((4194304, 8), -1), ((8, 4194304), -1), ((1024, 32768), 0)]


def main():
    bw = copy_bandwidth(1 << 25, np.float32, 5)
    print(f"copy bandwidth {bw / 1e9:.1f} GB/s")
    print("shape | axis | forward × copy BW | backward × copy BW")
    for shape, axis in CASES:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        out = np.empty_like(x)
        g = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        tf = best_time(lambda: fastact.softmax(x, axis=axis, out=out), 5)
        y = fastact.softmax(x, axis=axis)
        tb = best_time(lambda: fastact.softmax_backward(g, y, axis=axis, out=out), 5)
        print(f"{shape} | {axis} | {2 * x.nbytes / tf / bw:.2f} | {3 * x.nbytes / tb / bw:.2f}")


if __name__ == "__main__":
    main()
