"""pytest-benchmark: fastact against the NumPy expression a user would write, forward and backward.

    pytest bench/ --benchmark-group-by=param:name --benchmark-columns=min,median
"""
import numpy as np
import pytest

import fastact
from fastact.benchmark import FASTACT_PARAMS, NUMPY

NAMES = [n for n in fastact.ACTIVATIONS if n != "prelu"]


@pytest.mark.parametrize("impl", ["fastact", "numpy"])
@pytest.mark.parametrize("name", NAMES)
def test_forward(benchmark, arrays, name, impl):
    x, _, out = arrays
    benchmark.group = f"{name} forward"
    if impl == "fastact":
        f = getattr(fastact, name)
        benchmark(f, x, out=out, **FASTACT_PARAMS.get(name, {}))
    else:
        with np.errstate(all="ignore"):
            benchmark(NUMPY[name][0], x)


@pytest.mark.parametrize("impl", ["fastact", "numpy"])
@pytest.mark.parametrize("name", NAMES)
def test_backward(benchmark, arrays, name, impl):
    x, g, out = arrays
    benchmark.group = f"{name} backward"
    if impl == "fastact":
        b = getattr(fastact, name + "_backward")
        benchmark(b, g, x, out=out, **FASTACT_PARAMS.get(name, {}))
    else:
        with np.errstate(all="ignore"):
            benchmark(NUMPY[name][1], g, x)
