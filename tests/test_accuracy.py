"""Every activation, forward and backward, float32 and float64, serial and parallel, against the reference."""
import numpy as np
import pytest
from _tools import CASE_IDS, CASES, check_backward, check_forward, fast, ref

import fastact
from fastact._codegen import STAGE_BLOCK
from fastact._parallel import CHUNK
from fastact.declarations import REGISTRY
from fastact.elementwise import resolve

SHAPES = [(7,), (33, 65), (4, 3, 129)]
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1e-40, -1e-40, 1e-310, -1e-310, 3.0, -3.0, 6.0, 20.0,
            -20.0, 88.7, -88.7, 89.0, -104.0, 1e-8, -1e-8]


def sample(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * rng.choice([0.01, 1.0, 4.0, 30.0], size=shape)
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_against_reference(name, params, shape, dtype, path):
    f, b = fast(name)
    rf, rb = ref(name)
    x = sample(shape, dtype, seed=len(name) + len(shape))
    g = sample(shape, dtype, seed=7)
    y = f(x, **params)
    assert y.dtype == dtype and y.shape == x.shape
    check_forward(name, params, x, y, rf(x, **params))
    dx = b(g, x, **params)
    assert dx.dtype == dtype and dx.shape == x.shape
    check_backward(name, params, x, g, dx, rb(g, x, **params))


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_float32_forward_on_a_dense_grid(name, params):
    """Every float32 forward within its ULP bound on a dense grid (a random sample can miss the worst points:
    mish once reached 4.2 ULP at x = -3.26)."""
    f, _ = fast(name)
    rf, _ = ref(name)
    x = np.concatenate([np.linspace(-40, 40, 2_000_001), np.linspace(-1, 1, 200_001)]).astype(np.float32)
    check_forward(name, params, x, f(x, **params), rf(x, **params))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_special_values(name, params, dtype):
    f, b = fast(name)
    rf, rb = ref(name)
    with np.errstate(all="ignore"):
        x = np.array(SPECIALS, dtype=dtype)
    with np.errstate(all="raise"):  # no overflow/invalid warnings from fastact
        y = f(x, **params)
        dx = b(np.ones_like(x), x, **params)
    with np.errstate(all="ignore"):
        want = rf(x, **params)
        dwant = rb(np.ones_like(x), x, **params)
    finite = np.isfinite(x)
    assert not np.isnan(y[finite]).any(), "NaN for a finite input"
    assert np.isnan(y[np.isnan(x)]).all(), "NaN does not propagate"
    check_forward(name, params, x, y, want)
    check_backward(name, params, x, np.ones_like(x), dx, dwant)


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_backward_matches_finite_difference(name, params):
    """float64 central difference, away from kinks (where the one-sided derivatives differ)."""
    f, b = fast(name)
    rng = np.random.default_rng(3)
    x = rng.uniform(-8, 8, 4000)
    kinks = np.array([0.0, -3.0, 3.0, 6.0])
    x = x[np.min(np.abs(x[:, None] - kinks[None, :]), axis=1) > 1e-3]
    if name == "softplus":  # the threshold switch is a kink too
        beta, thr = params.get("beta", 1.0), params.get("threshold", 20.0)
        x = x[np.abs(beta * x - thr) > 1e-3]
    h = 1e-6
    fd = (f(x + h, **params) - f(x - h, **params)) / (2 * h)
    dx = b(np.ones_like(x), x, **params)
    np.testing.assert_allclose(dx, fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name,params", CASES, ids=CASE_IDS)
def test_float16_computes_in_float32(name, params):
    f, b = fast(name)
    x = sample((257,), np.float16, seed=1)
    y = f(x, **params)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y, f(x.astype(np.float32), **params).astype(np.float16))
    dx = b(np.ones_like(x), x, **params)
    assert dx.dtype == np.float16


STAGED = [(n, p) for n, p in CASES if resolve(n, dict(p))[0].stage_py is not None]


@pytest.mark.parametrize("size", [1, STAGE_BLOCK - 1, STAGE_BLOCK + 1, 3 * STAGE_BLOCK + 7, CHUNK + STAGE_BLOCK + 5])
@pytest.mark.parametrize("name,params", STAGED, ids=[f"{n}-{p}" for n, p in STAGED])
def test_staged_kernels_across_blocks(name, params, size, path):
    """Staged declarations run in blocks (t = stage(x), then the rest): every block boundary, a partial last
    block, the parallel chunks, in place, and bias_act rows longer than a block."""
    f, b = fast(name)
    rf, rb = ref(name)
    x = sample((size,), np.float32, seed=size)
    g = sample((size,), np.float32, seed=size + 1)
    check_forward(name, params, x, f(x, **params), rf(x, **params))
    check_backward(name, params, x, g, b(g, x, **params), rb(g, x, **params))
    xc = x.copy()
    f(xc, out=xc, **params)
    np.testing.assert_array_equal(xc, f(x, **params))
    gc = g.copy()
    b(gc, x, out=gc, **params)
    np.testing.assert_array_equal(gc, b(g, x, **params))
    if size > STAGE_BLOCK:
        rows = x[: 3 * (size // 3)].reshape(3, -1)
        bias = sample(rows.shape[1:], np.float32, seed=2)
        np.testing.assert_array_equal(fastact.bias_act(rows, bias, name, **params), f(rows + bias, **params))
        dx, _ = fastact.bias_act_backward(np.ones_like(rows), rows, bias, name, **params)
        np.testing.assert_array_equal(dx, b(np.ones_like(rows), rows + bias, **params))


def test_staged_declarations_compose():
    """forward_py of a staged declaration is part(x, stage(x)), with the part's parameters after t."""
    d = REGISTRY["softplus"]
    assert d.stage_py is not None and [n for n, _ in d.params] == ["beta", "threshold"]
    stage, part = d.forward_py.parts
    for x in np.linspace(-30, 30, 41):
        assert d.forward_py(x, 2.0, 20.0) == part(x, stage(x, 2.0, 20.0), 2.0, 20.0)
        assert d.forward_py(x) == part(x, stage(x))  # the defaults carry over
    assert {k for k, v in REGISTRY.items() if v.stage_py is not None} >= {"softplus", "logsigmoid", "mish"}
