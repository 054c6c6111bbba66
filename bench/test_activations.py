"""pytest-benchmark: fastact against the NumPy expression a user would write, forward and backward.

    pytest bench/ --benchmark-group-by=param:name --benchmark-columns=min,median
"""
import numpy as np
import pytest

import fastact
from fastact.benchmark import FASTACT_PARAMS, NUMPY

NAMES = [n for n in fastact.ACTIVATIONS if n != "prelu"]


@pytest.mark.parametrize("impl", ["fastact", "numpy"])
@pytest.mark.parametrize("kind", ["forward", "backward"])
@pytest.mark.parametrize("name", NAMES)
def test_activation(benchmark, arrays, name, kind, impl):
    x, g, out = arrays
    args = (x,) if kind == "forward" else (g, x)
    benchmark.group = f"{name} {kind}"
    if impl == "fastact":
        fn = getattr(fastact, name if kind == "forward" else name + "_backward")
        benchmark(fn, *args, out=out, **FASTACT_PARAMS.get(name, {}))
    else:
        with np.errstate(all="ignore"):
            benchmark(NUMPY[name][0 if kind == "forward" else 1], *args)
