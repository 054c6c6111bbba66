"""pytest-benchmark over the same cases as `fastact bench` (fastact.benchmark.SUITES), so both time the same
functions: fastact with out=, fastact allocating, NumPy, and PyTorch/JAX where installed.

    pytest bench/ --benchmark-columns=min,median       # add -k softmax (or a name) for a subset
"""
import numpy as np
import pytest

from fastact import benchmark

N = 1 << 22  # 4,194,304 float32 elements per case; `fastact bench --size` covers other sizes


def _cases():
    out = []
    for suite, make in benchmark.SUITES.items():
        for case in make(None, N, np.float32):
            label = f"{case.name} {case.kind}"
            impls = {"fastact out=": case.with_out, "fastact": case.allocating, "numpy": case.numpy,
                     **case.others}
            out += [pytest.param(label, fn, id=f"{label} | {impl}") for impl, fn in impls.items() if fn]
    return out


@pytest.mark.parametrize("label,fn", _cases())
def test_case(benchmark, label, fn):
    benchmark.group = label
    with np.errstate(all="ignore"):
        benchmark(fn)
