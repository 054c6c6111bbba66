"""Every CUDA kernel compiles with the real CUDA compiler for an H100 (sm_90), with no GPU needed.

The simulator runs the kernels as Python, so it cannot see what only the compiler does: a construct the CUDA
target does not support, a type that does not unify, registers spilled to local memory. _cuda_compile.py builds
every kernel fastact launches (each declaration forward and backward, fused, gated, PReLU, the dbias/dweight sums
and each softmax layout, in each dtype) through NVVM and ptxas, in a subprocess of its own."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed (pip install 'fastact[cuda]')")

from fastact import gpu_softmax  # noqa: E402
from fastact.declarations import REGISTRY  # noqa: E402

SMEM_LIMIT = 48 * 1024  # shared memory a block gets without opting in


@pytest.fixture(scope="module")
def kernels():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    here = Path(__file__).parent
    r = subprocess.run([sys.executable, str(here / "_cuda_compile.py")], env=env, capture_output=True, text=True,
                       timeout=1200, cwd=here.parent)
    assert r.returncode == 0, r.stderr[-4000:]
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_every_kernel_compiles_for_sm90(kernels):
    assert len(kernels) >= 12 * len(REGISTRY)  # each declaration: 2 passes x 3 dtypes, plain and fused
    errors = [f"{k['kernel']} {k['signature']}: {k['error']}" for k in kernels if "error" in k]
    if any("NVVM" in e for e in errors):
        pytest.fail("libNVVM was not found: install the CUDA extra, pip install 'fastact[cuda]'\n" + errors[0])
    assert not errors, "\n".join(errors[:5])


def test_no_kernel_spills_to_local_memory(kernels):
    measured = [k for k in kernels if "registers" in k]
    assert len(measured) >= 4 * len(REGISTRY), "ptxas (nvJitLink) did not run: pip install 'fastact[cuda]'"
    spilled = [k["kernel"] for k in measured if k["spill"] or k["stack"]]
    assert not spilled, spilled  # the rows layout's row must stay in registers
    assert all(k["registers"] <= 255 for k in measured)
    bounded = [k for k in measured if k["launch_bounds"]]
    assert bounded
    for k in bounded:  # its blocks fit on an SM's 65,536 registers as many times as it asked for
        threads, blocks = k["launch_bounds"]
        assert k["registers"] * threads * blocks <= 65536, k


def test_softmax_block_row_cache_fits_in_shared_memory(kernels):
    block = [k for k in kernels if k["kernel"].endswith("forward_block") and "smem" in k]
    assert block
    for k in block:
        assert k["smem"] + gpu_softmax.ROW_CACHE <= SMEM_LIMIT, k
