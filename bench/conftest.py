import numpy as np
import pytest

N = 1 << 22  # 4,194,304 float32 elements; `fastact bench --size` covers other sizes


@pytest.fixture(scope="session")
def arrays():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(N) * 3).astype(np.float32)
    g = rng.standard_normal(N).astype(np.float32)
    return x, g, np.empty_like(x)
