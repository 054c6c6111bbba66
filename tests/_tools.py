"""Shared helpers for the tests: ULP distances and the case table driven by the registry."""
from __future__ import annotations

import numpy as np

import fastact
from fastact.declarations import REGISTRY

# (public name, parameters): every declaration, with non-default parameters too.
CASES = []
for d in REGISTRY.values():
    base = {d.variant[0]: d.variant[1]} if d.variant else {}
    CASES.append((d.public, base))
    if d.params:
        CASES.append((d.public, {**base, **{n: (v * 1.7 + 0.3 if v else 0.5) for n, v in d.params}}))
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items()) or 'default'}" for n, p in CASES]


def ulp_error(got, ref):
    """|got - ref| in units of the last place of ref rounded to got's dtype (NaN-aware, inf-aware)."""
    got = np.asarray(got)
    ref = np.asarray(ref, np.float64)
    dt = got.dtype
    tiny = np.finfo(dt).smallest_subnormal
    r = ref.astype(dt)
    with np.errstate(invalid="ignore", over="ignore"):
        spacing = np.maximum(np.spacing(np.abs(r)).astype(np.float64), float(tiny))
        err = np.abs(got.astype(np.float64) - ref) / spacing
    both_nan = np.isnan(got) & np.isnan(ref)
    same = (got.astype(np.float64) == ref) | both_nan | (got == r)
    err = np.where(same, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def fast(name, **params):
    return getattr(fastact, name), getattr(fastact, name + "_backward")


def ref(name):
    return getattr(fastact.reference, name), getattr(fastact.reference, name + "_backward")


# Forward tolerance in ULPs of the float64 reference, per dtype. Results within 2^24 of the smallest normal
# number (where a gate factor such as σ(x) is itself subnormal) are compared absolutely: |err| <= smallest normal. Some activations round an internal argument whose error the
# function amplifies (gelu's exponent u, x²): their bound grows with that condition number, as stated here.
FWD_ULPS = {np.float32: 4.0, np.float64: 8.0}
BWD_EPS = 4.0  # backward: |dx - ref| <= BWD_EPS·eps·(|ref| + |grad|)


def fwd_tolerance(name, params, x, dtype):
    x = np.asarray(x, np.float64)
    base = FWD_ULPS[dtype]
    if name == "gelu" and params.get("approximate") == "tanh":
        u = np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)
        return base + 6.0 * np.abs(u)  # e^(2u) amplifies the rounding of u by 2|u|
    if name == "gelu" and dtype == np.float64:
        return base + 2.0 * x * x  # float64 Φ is 0.5·erfc(-x/√2); the rounding of x/√2 is amplified by x²
    return np.full(x.shape, base)


def check_forward(name, params, x, got, want):
    dt = got.dtype.type
    err = ulp_error(got, want)
    tol = fwd_tolerance(name, params, x, dt)
    tiny = np.finfo(dt).tiny
    small = np.abs(want) < tiny * 2.0**24
    ok = (err <= tol) | (small & (np.abs(got.astype(np.float64) - want) <= tiny)) | (np.isnan(got) & np.isnan(want))
    if not ok.all():
        i = np.flatnonzero(~ok)[0]
        raise AssertionError(f"{name}{params} {got.dtype}: x={x.reshape(-1)[i]!r} got {got.reshape(-1)[i]!r} "
                             f"want {want.reshape(-1)[i]!r} ({err.reshape(-1)[i]:.1f} ULP, tol "
                             f"{np.broadcast_to(tol, err.shape).reshape(-1)[i]:.1f}); {np.sum(~ok)} bad")


def check_backward(name, params, x, g, got, want):
    eps = np.finfo(got.dtype).eps
    want = np.asarray(want, np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(got.astype(np.float64) - want)
        ok = (err <= BWD_EPS * eps * (np.abs(want) + np.abs(np.asarray(g, np.float64)))) | (
            np.isnan(got) & np.isnan(want)) | (got.astype(np.float64) == want)
    if not ok.all():
        i = np.flatnonzero(~ok.reshape(-1))[0]
        raise AssertionError(f"{name}_backward{params} {got.dtype}: x={x.reshape(-1)[i]!r} "
                             f"got {got.reshape(-1)[i]!r} want {want.reshape(-1)[i]!r}; {np.sum(~ok)} bad")
