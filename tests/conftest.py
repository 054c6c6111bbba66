import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fastact._arrays as _arrays  # noqa: E402


@pytest.fixture(params=["serial", "parallel"])
def path(request, monkeypatch):
    """Run the test through the serial kernels (threshold above any size) or the parallel ones (threshold 0)."""
    monkeypatch.setattr(_arrays, "PARALLEL_THRESHOLD", 0 if request.param == "parallel" else 1 << 62)
    return request.param
