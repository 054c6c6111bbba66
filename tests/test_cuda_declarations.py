"""The declarations compile as CUDA device functions (run under Numba's CUDA simulator in a subprocess)."""
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import math
import numpy as np
from numba import cuda
import fastact
from fastact.declarations import REGISTRY
from fastact.gpu_math import device_function

assert cuda.is_available()
for key in ("sigmoid", "gelu", "mish", "softplus", "elu"):
    d = REGISTRY[key]
    f = device_function(d.forward_py)
    defaults = tuple(v for _, v in d.params)

    @cuda.jit
    def kern(x, out):
        i = cuda.grid(1)
        if i < x.size:
            out[i] = f(x[i], *defaults)

    x = np.linspace(-6, 6, 97).astype(np.float32)
    out = np.zeros_like(x)
    kern[1, 128](x, out)
    want = fastact.forward(d.public, x, **({d.variant[0]: d.variant[1]} if d.variant else {}))
    np.testing.assert_allclose(out, want, rtol=3e-6, atol=1e-6)
print("ok")
"""


def test_declarations_run_as_cuda_device_functions_in_simulator():
    pytest.importorskip("numba.cuda")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().endswith("ok")
