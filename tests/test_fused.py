"""bias_act / bias_act_backward and the gated units (glu, swiglu, geglu) against the float64 reference."""
import math
import subprocess
import sys

import numpy as np
import pytest
from _tools import CASE_IDS, CASES, check_backward, check_forward, fast, ref

import fastact
from fastact import reference

ELEMENTWISE_CASES = [(n, p) for n, p in CASES if n != "prelu"]
ELEMENTWISE_IDS = [i for i, (n, _) in zip(CASE_IDS, CASES) if n != "prelu"]


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    b = (rng.standard_normal(shape[-1]) * 2).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    return x, b, g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 33), (300, 17)], ids=str)
@pytest.mark.parametrize("name,params", ELEMENTWISE_CASES, ids=ELEMENTWISE_IDS)
def test_bias_act_against_reference(name, params, shape, dtype, path):
    x, b, g = _data(shape, dtype, seed=len(name))
    z = x + b  # the argument, rounded as the kernel rounds it
    f, fb = fast(name)
    rf, rb = ref(name)
    y = fastact.bias_act(x, b, name, **params)
    assert y.dtype == dtype and y.shape == shape
    check_forward(name, params, z, y, rf(z, **params))
    np.testing.assert_array_equal(y, f(z, **params))  # same declaration, same arithmetic
    dx, dbias = fastact.bias_act_backward(g, x, b, name, **params)
    assert dx.dtype == dbias.dtype == dtype and dx.shape == shape and dbias.shape == (shape[-1],)
    check_backward(name, params, z, g, dx, rb(g, z, **params))
    rows = dx.reshape(-1, shape[-1]).astype(np.float64)
    exact = np.array([math.fsum(rows[:, j]) for j in range(shape[-1])])
    eps = np.finfo(dtype).eps
    assert np.all(np.abs(dbias - exact) <= eps * np.abs(exact) + 1e-12 * np.abs(rows).sum(axis=0))


@pytest.mark.parametrize("name", ["relu", "softplus"])  # softplus has a stage: the other task template
def test_bias_act_backward_on_rows_wider_than_a_column_tile(name):
    """Rows of more than COLUMN_TILE elements: each task sums its rows a tile of columns at a time."""
    from fastact._parallel import COLUMN_TILE

    x, b, g = _data((5, 2 * COLUMN_TILE + 123), np.float32, seed=3)
    dx, dbias = fastact.bias_act_backward(g, x, b, name)
    z = x + b
    check_backward(name, {}, z, g, dx, ref(name)[1](g, z))
    exact = dx.astype(np.float64).sum(axis=0)  # 5 terms a column: float64 sums in any order agree closely
    np.testing.assert_allclose(dbias, exact, rtol=np.finfo(np.float32).eps, atol=1e-12)


def test_dbias_is_bit_identical_across_thread_counts_and_accurate():
    script = r"""
import math, numba, numpy as np, fastact
rng = np.random.default_rng(0)
x = rng.standard_normal((10_000_000, 1)).astype(np.float32)
g = rng.standard_normal(x.shape).astype(np.float32)
b = np.array([0.3], np.float32)
res = []
for t in (1, 2, 1):
    numba.set_num_threads(t)
    res.append(fastact.bias_act_backward(g, x, b, "gelu"))
assert all(np.array_equal(r[0], res[0][0]) and np.array_equal(r[1], res[0][1]) for r in res)
exact = math.fsum(res[0][0][:, 0].astype(np.float64))
err = abs(float(res[0][1][0]) - exact)
assert err <= np.finfo(np.float32).eps * abs(exact), (err, exact)
y = rng.standard_normal((3000, 257)).astype(np.float32)
h = rng.standard_normal(y.shape).astype(np.float32)
outs = []
for t in (1, 2):
    numba.set_num_threads(t)
    outs.append(fastact.bias_act_backward(h, y, np.zeros(257, np.float32), "silu")[1])
assert np.array_equal(outs[0], outs[1])
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                       env={"NUMBA_NUM_THREADS": "2", **__import__("os").environ})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr[-2000:]


def test_bias_act_in_place_float16_ints_and_prelu():
    x, b, _ = _data((64, 8), np.float32)
    want = fastact.gelu(x + b)
    xc = x.copy()
    assert fastact.bias_act(xc, b, "gelu", out=xc) is xc
    np.testing.assert_array_equal(xc, want)
    y16 = fastact.bias_act(x.astype(np.float16), b, "silu")
    assert y16.dtype == np.float16
    assert fastact.bias_act(np.arange(6).reshape(2, 3), [1, 2, 3]).dtype == np.float64
    w = np.full(8, 0.25, np.float32)
    np.testing.assert_array_equal(fastact.bias_act(x, b, "prelu", weight=w), fastact.prelu(x + b, w))
    dx, dbias, dw = fastact.bias_act_backward(np.ones_like(x), x, b, "prelu", weight=w)
    np.testing.assert_allclose(dbias, dx.sum(axis=0), rtol=1e-6)
    assert dw.shape == (8,)


def test_bias_act_special_values():
    x = np.array([[np.nan, np.inf, -np.inf, 0.0]], np.float32)
    b = np.zeros(4, np.float32)
    with np.errstate(all="raise"):
        y = fastact.bias_act(x, b, "gelu")
    assert np.isnan(y[0, 0]) and y[0, 1] == np.inf and y[0, 2] == 0.0 and y[0, 3] == 0.0
    dx, db = fastact.bias_act_backward(np.ones_like(x), x, b, "relu")
    assert np.isnan(dx[0, 0]) and np.isnan(db[0])


def test_bias_act_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="bias must have shape"):
        fastact.bias_act(x, np.ones(2))
    with pytest.raises(ValueError, match="unknown activation"):
        fastact.bias_act(x, np.ones(3), "nope")
    with pytest.raises(TypeError, match="bias"):
        fastact.bias_act(x, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="at least one dimension"):
        fastact.bias_act(np.float32(1.0), np.ones(1))
    with pytest.raises(ValueError, match="grad has shape"):
        fastact.bias_act_backward(np.ones((3, 3)), x, np.ones(3))
    with pytest.raises(TypeError, match="unexpected keyword"):
        fastact.bias_act(x, np.ones(3), "relu", alpha=1.0)
    with pytest.raises(ValueError, match="out has shape"):
        fastact.bias_act(x, np.ones(3), out=np.empty((3, 2), np.float32))
    with pytest.raises(TypeError, match="weight"):
        fastact.bias_act(x, np.ones(3), "prelu")


# ---------------------------------------------------------------------------------------------------- gated
GATED = [("glu", {}), ("swiglu", {}), ("geglu", {"approximate": "none"}), ("geglu", {"approximate": "tanh"})]
GATED_IDS = ["glu", "swiglu", "geglu-none", "geglu-tanh"]


def _gated_rtol(name, params, a, dtype):
    """Relative bound in eps: two activations (each within 4 ULP) and a product, plus tanh-GELU's 6|u|."""
    eps = np.finfo(dtype).eps
    tol = np.full(np.shape(a), 12.0)
    a = np.asarray(a, np.float64)
    if params.get("approximate") == "tanh":
        tol = tol + 6.0 * np.abs(np.sqrt(2 / np.pi) * (a + 0.044715 * a**3))
    elif name == "geglu" and dtype == np.float64:
        tol = tol + 2.0 * a * a  # as gelu: float64 Φ(a) = ½·erfc(-a/√2) amplifies the rounding of a/√2
    return tol * eps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 8), (3, 4, 34), (40, 1000)], ids=str)
@pytest.mark.parametrize("name,params", GATED, ids=GATED_IDS)
def test_gated_against_reference(name, params, shape, dtype, path):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    h = shape[-1] // 2
    g = rng.standard_normal(shape[:-1] + (h,)).astype(dtype)
    a, b = x[..., :h].astype(np.float64), x[..., h:].astype(np.float64)
    y = getattr(fastact, name)(x, **params)
    assert y.dtype == dtype and y.shape == shape[:-1] + (h,)
    want = getattr(reference, name)(x, **params)
    tiny = np.finfo(dtype).tiny
    assert np.all(np.abs(y - want) <= _gated_rtol(name, params, a, dtype) * np.abs(want) + tiny)
    dx = getattr(fastact, name + "_backward")(g, x, **params)
    assert dx.dtype == dtype and dx.shape == shape
    dwant = getattr(reference, name + "_backward")(g, x, **params)
    g64 = np.abs(g.astype(np.float64))
    scale = np.concatenate([g64 * (1 + np.abs(b)), g64 * (1 + np.abs(a))], axis=-1)
    rtol = np.concatenate([_gated_rtol(name, params, a, dtype)] * 2, axis=-1)
    assert np.all(np.abs(dx - dwant) <= rtol * (np.abs(dwant) + scale) + tiny)


@pytest.mark.parametrize("name,params", GATED, ids=GATED_IDS)
def test_gated_backward_matches_finite_difference(name, params):
    rng = np.random.default_rng(2)
    x = rng.uniform(-4, 4, (50, 16))
    g = rng.standard_normal((50, 8))
    f = getattr(fastact, name)
    dx = getattr(fastact, name + "_backward")(g, x, **params)
    step = 1e-6
    num = np.empty_like(x)
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = step
        num[:, j] = ((f(x + e, **params) - f(x - e, **params)) * g).sum(axis=1) / (2 * step)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-7)


def test_gated_semantics_and_errors():
    x = np.random.default_rng(3).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_array_equal(fastact.swiglu(x), fastact.silu(x[:, :3]) * x[:, 3:])
    y16 = fastact.glu(x.astype(np.float16))
    assert y16.dtype == np.float16
    out = np.empty((4, 3), np.float32)
    assert fastact.geglu(x, out=out) is out
    g = np.ones((4, 3), np.float32)
    want = fastact.geglu_backward(g, x)
    xc = x.copy()
    assert fastact.geglu_backward(g, xc, out=xc) is xc  # in place over x
    np.testing.assert_array_equal(xc, want)
    x[0, 0] = np.nan
    assert np.isnan(fastact.glu(x)[0, 0]) and not np.isnan(fastact.glu(x)[1:]).any()
    with pytest.raises(ValueError, match="even length"):
        fastact.glu(np.ones((2, 5)))
    with pytest.raises(ValueError, match="approximate"):
        fastact.geglu(x, approximate="fast")
    with pytest.raises(ValueError, match="grad must have"):
        fastact.swiglu_backward(np.ones((4, 6)), x)
    with pytest.raises(ValueError, match="out has shape"):
        fastact.glu(x, out=np.empty((4, 6), np.float32))
