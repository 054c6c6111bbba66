"""Sweep float32 inputs through fastact.vecmath and report the worst error in ULPs against float64 libm.

gpu_norm_cdf / gpu_norm_pdf are the GPU's float32 Φ and φ (fastact.gpu_math), compiled for the CPU: the same
float32 arithmetic, except that the GPU's reciprocal is the hardware's approximation, whose error Φ corrects.

    python bench/ulp_sweep.py              # all 2^32 float32 inputs (minutes per function on 2 cores)
    python bench/ulp_sweep.py --step 97    # every 97th bit pattern
"""
from __future__ import annotations

import argparse
import math
import sys
import time

import numba
import numpy as np
from numba import prange

from fastact import gpu_math
from fastact.vecmath import erf, erfc, exp, exp_neg_abs, exp_nonpos, expm1, log1p, log1p_unit, norm_cdf, norm_pdf, tanh

@numba.njit
def _norm_cdf_exact(x):
    return 0.5 * math.erfc(-x * 0.7071067811865476)


@numba.njit
def _norm_pdf_exact(x):
    return math.exp(-0.5 * x * x) * 0.3989422804014327


@numba.njit
def _exp_neg_abs_exact(x):
    return math.exp(-abs(x))


FUNCS = {"exp": (exp, math.exp), "exp_neg_abs": (exp_neg_abs, _exp_neg_abs_exact),
         "exp_nonpos": (exp_nonpos, math.exp), "expm1": (expm1, math.expm1),
         "log1p": (log1p, math.log1p), "tanh": (tanh, math.tanh), "erf": (erf, math.erf), "erfc": (erfc, math.erfc),
         "norm_cdf": (norm_cdf, _norm_cdf_exact), "norm_pdf": (norm_pdf, _norm_pdf_exact),
         "log1p_unit": (log1p_unit, math.log1p),
         "gpu_norm_cdf": (gpu_math._cdf32, _norm_cdf_exact), "gpu_norm_pdf": (gpu_math._pdf32, _norm_pdf_exact)}
DOMAIN = {"log1p_unit": (0.0, 1.0), "exp_nonpos": (-np.inf, 0.0)}  # the inputs a function is defined for (others are skipped)


def make_sweep(fast, exact, lo=-np.inf, hi=np.inf):
    @numba.njit(parallel=True, error_model="numpy")
    def sweep(start, stop, step):
        n = (stop - start + step - 1) // step
        worst = np.zeros(n)
        for j in prange(n):
            b = np.uint32(start + j * step)
            x = np.array([b], dtype=np.uint32).view(np.float32)[0]
            got = fast(x)
            xd = np.float64(x)
            if xd < lo or xd > hi:
                continue
            if xd != xd:
                worst[j] = 0.0 if got != got else np.inf
                continue
            if xd < -1.0 and exact is math.log1p:
                worst[j] = 0.0 if got != got else np.inf
                continue
            ref = exact(xd) if not (xd == -1.0 and exact is math.log1p) else -np.inf
            r32 = np.float32(ref)
            if np.float64(got) == ref or got == r32:
                continue
            if math.isinf(ref) or math.isinf(got):
                worst[j] = np.inf
                continue
            a = abs(r32)
            bits = np.array([a], dtype=np.float32).view(np.uint32)[0]
            nxt = np.array([bits + 1], dtype=np.uint32).view(np.float32)[0]
            ulp = max(np.float64(nxt) - np.float64(a), 2.0**-149)
            worst[j] = abs(np.float64(got) - ref) / ulp
        return worst

    return sweep


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--step", type=int, default=1)
    p.add_argument("--only", default=",".join(FUNCS))
    args = p.parse_args(argv)
    chunk = 1 << 24
    for name in args.only.split(","):
        fast, exact = FUNCS[name]
        sweep = make_sweep(fast, exact, *DOMAIN.get(name, (-np.inf, np.inf)))
        t = time.time()
        worst, at = 0.0, 0
        for start in range(0, 1 << 32, chunk):
            first = start + (-start) % args.step if args.step > 1 else start
            if first >= start + chunk:
                continue
            w = sweep(first, min(start + chunk, 1 << 32), args.step)
            i = int(np.argmax(w))
            if w[i] > worst:
                worst, at = float(w[i]), first + i * args.step
            print(f"\r{name}: {start / 2**32:5.1%}", end="", file=sys.stderr, flush=True)
        x = np.array([at], np.uint32).view(np.float32)[0]
        print(f"\r{name}: max {worst:.3f} ULP at x = {x!r} ({time.time() - t:.0f} s, step {args.step})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
