"""float64 erf, erfc and Φ of fastact.vecmath on random and special points, in ULPs against the C library's
long-double erfl/erfcl (Linux x86-64; the reference is rounded to float64, so a figure includes up to ½ ULP of
that rounding).

    python bench/ulp_float64.py                    # 10^7 points a function
    python bench/ulp_float64.py --points 1000000 --only erfc
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import time

import numpy as np
from numba import njit, prange

from fastact import vecmath

_libm = ctypes.CDLL(ctypes.util.find_library("m"))
for _name in ("erfl", "erfcl"):
    getattr(_libm, _name).restype = ctypes.c_longdouble
    getattr(_libm, _name).argtypes = [ctypes.c_longdouble]
_erfl = np.frompyfunc(lambda v: float(_libm.erfl(float(v))), 1, 1)
_erfcl = np.frompyfunc(lambda v: float(_libm.erfcl(float(v))), 1, 1)


def _norm_cdf_ref(x):
    """½·erfc(-x/√2): erfcl at a = fl(-x/√2), corrected to first order for d = -x/√2 - a (in long double)."""
    u = -np.longdouble(x) / np.sqrt(np.longdouble(2))
    a = u.astype(np.float64)
    e = np.array(_erfcl(a), dtype=np.float64).astype(np.longdouble)
    with np.errstate(all="ignore"):
        corr = (u - a) * (2 / np.sqrt(np.longdouble(np.pi))) * np.exp(-np.longdouble(a) ** 2) / e
        return 0.5 * e * (1 - np.where((e > 0) & np.isfinite(corr), corr, 0))


FUNCS = {"erf": (vecmath.erf, _erfl), "erfc": (vecmath.erfc, _erfcl), "norm_cdf": (vecmath.norm_cdf, _norm_cdf_ref)}


def points(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2**63, n // 8, dtype=np.int64).view(np.float64) * rng.choice([-1.0, 1.0], n // 8)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 0.5, -0.5, 28.0, -28.0, 26.5, 1e-300, 5e-324, -5e-324]
    return np.concatenate([rng.uniform(-30, 30, n // 2), rng.uniform(-2, 2, n // 4), rng.standard_normal(n // 8) * 1e-3,
                           bits[~np.isnan(bits)], special])


def ulps(got, ref):
    sp = np.maximum(np.spacing(np.abs(ref)), 5e-324)
    with np.errstate(invalid="ignore"):
        e = np.abs(got - ref) / sp
    return np.where((got == ref) | (np.isnan(got) & np.isnan(ref)), 0.0, np.where(np.isnan(e), np.inf, e))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--only", default=",".join(FUNCS))
    args = ap.parse_args()
    x = points(args.points)
    for name in args.only.split(","):
        fast, ref = FUNCS[name]

        @njit(parallel=True, error_model="numpy")
        def run(x, out):
            for i in prange(x.size):
                out[i] = fast(x[i])

        t = time.time()
        out = np.empty_like(x)
        run(x, out)
        e = ulps(out, np.asarray(ref(x), dtype=np.float64))
        j = int(np.argmax(e))
        print(f"{name}: {x.size:,} points, max {e[j]:.2f} ULP at x = {x[j]!r}; over 2 ULP: {int((e > 2).sum())} "
              f"({time.time() - t:.0f} s)")


if __name__ == "__main__":
    main()
