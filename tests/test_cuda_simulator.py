"""Runs test_cuda.py under Numba's CUDA simulator, so that the GPU code path is exercised where no GPU is.

The simulator must be switched on before numba is imported, hence a separate pytest process."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed (pip install 'fastact[cuda]')")


def test_cuda_path_under_the_simulator(tmp_path):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", FASTACT_CACHE_DIR=str(tmp_path / "fastact"))
    here = Path(__file__).parent
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-rs",
                        str(here / "test_cuda.py")], env=env, capture_output=True, text=True, timeout=1500,
                       cwd=here.parent)
    tail = r.stdout[-4000:] + r.stderr[-2000:]
    assert r.returncode == 0, tail
    passed = re.search(r"(\d+) passed", r.stdout)
    assert passed and int(passed.group(1)) >= 40, tail  # the whole file ran, not skipped into green
