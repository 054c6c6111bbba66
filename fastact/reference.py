"""Plain-NumPy reference implementations, written independently of fastact.declarations.

They compute in float64 (longdouble where float64 would lose the tails) and return float64; they are the oracle
of the tests and available to users. Same names and parameters as the fast functions.
"""
from __future__ import annotations

import math

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _f(x):
    return np.asarray(x, dtype=np.float64)


def _sig(x):
    x = _f(x)
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def _xg(x, g):
    """x·g with the limit 0 where g is 0 (so -inf·0 gives 0)."""
    with np.errstate(invalid="ignore"):
        return np.where(g == 0, 0.0, x * g)


def identity(x):
    return _f(x).copy()


def identity_backward(grad, x):
    return _f(grad).copy()


def binary_step(x):
    x = _f(x)
    return np.where(np.isnan(x), np.nan, (x > 0).astype(np.float64))


def binary_step_backward(grad, x):
    return _f(grad) * np.where(np.isnan(x), np.nan, 0.0)


def sigmoid(x):
    return _sig(x)


def sigmoid_backward(grad, x):
    s = _sig(x)
    return _f(grad) * s * _sig(-_f(x))


def tanh(x):
    return np.tanh(_f(x))


def tanh_backward(grad, x):
    c = np.cosh(np.longdouble(_f(x)))
    with np.errstate(over="ignore"):
        return _f(grad) * np.asarray(1 / (c * c), np.float64)


def relu(x):
    x = _f(x)
    return np.where(x > 0, x, np.where(np.isnan(x), x, 0.0))


def relu_backward(grad, x):
    x = _f(x)
    return _f(grad) * np.where(np.isnan(x), np.nan, (x > 0) * 1.0)


def relu6(x):
    return np.minimum(relu(x), 6.0)


def relu6_backward(grad, x):
    x = _f(x)
    return _f(grad) * np.where(np.isnan(x), np.nan, ((x > 0) & (x < 6)) * 1.0)


def leaky_relu(x, negative_slope=0.01):
    x = _f(x)
    return np.where(x > 0, x, x * negative_slope)


def leaky_relu_backward(grad, x, negative_slope=0.01):
    x = _f(x)
    return _f(grad) * np.where(np.isnan(x), np.nan, np.where(x > 0, 1.0, negative_slope))


def elu(x, alpha=1.0):
    x = _f(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_backward(grad, x, alpha=1.0):
    x = _f(x)
    return _f(grad) * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))


def celu(x, alpha=1.0):
    x = _f(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha))


def celu_backward(grad, x, alpha=1.0):
    x = _f(x)
    return _f(grad) * np.where(x > 0, 1.0, np.exp(np.minimum(x, 0) / alpha))


def selu(x):
    return SELU_SCALE * elu(x, SELU_ALPHA)


def selu_backward(grad, x):
    return SELU_SCALE * elu_backward(grad, x, SELU_ALPHA)


def _phi(x):
    return np.exp(-0.5 * np.longdouble(x) ** 2) / np.sqrt(2 * np.pi, dtype=np.longdouble)


def _Phi(x):
    # erfc in float64 of a rounded argument loses digits in the far tail; the error is below 1e-12 relative
    # where the result is a normal float32.
    return 0.5 * _erfc(-_f(x) / math.sqrt(2))


def gelu(x, approximate="none"):
    x = _f(x)
    if approximate == "tanh":
        u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        with np.errstate(over="ignore", invalid="ignore"):
            return _xg(x, _sig(2 * u))
    return _xg(x, _Phi(x))


def gelu_backward(grad, x, approximate="none"):
    x = _f(x)
    with np.errstate(over="ignore", invalid="ignore"):
        if approximate == "tanh":
            u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
            s = _sig(2 * u)
            du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x**2)
            d = s + _xg(x * du, 2 * s * _sig(-2 * u))
        else:
            d = _Phi(x) + _xg(x, np.asarray(_phi(x), np.float64))
    return _f(grad) * d


def silu(x):
    return _xg(_f(x), _sig(x))


def silu_backward(grad, x):
    x = _f(x)
    s = _sig(x)
    return _f(grad) * (s + _xg(x, s * _sig(-x)))


def swish(x, beta=1.0):
    return _xg(_f(x), _sig(beta * _f(x)))


def swish_backward(grad, x, beta=1.0):
    z = beta * _f(x)
    s = _sig(z)
    return _f(grad) * (s + _xg(z, s * _sig(-z)))


def softplus(x, beta=1.0, threshold=20.0):
    x = _f(x)
    z = beta * x
    with np.errstate(over="ignore"):
        y = np.logaddexp(0.0, z) / beta
    return np.where(z > threshold, x, y)


def softplus_backward(grad, x, beta=1.0, threshold=20.0):
    z = beta * _f(x)
    return _f(grad) * np.where(z > threshold, 1.0, _sig(z))


def mish(x):
    x = _f(x)
    return _xg(x, np.tanh(np.logaddexp(0.0, x)))


def mish_backward(grad, x):
    x = _f(x)
    t = np.tanh(np.logaddexp(0.0, x))
    with np.errstate(over="ignore"):
        sech2 = 1 / np.cosh(np.longdouble(np.logaddexp(0.0, x))) ** 2
    return _f(grad) * (t + _xg(x, np.asarray(sech2, np.float64) * _sig(x)))


def softsign(x):
    x = _f(x)
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(x), np.sign(x), x / (1 + np.abs(x)))


def softsign_backward(grad, x):
    return _f(grad) / (1 + np.abs(_f(x))) ** 2


def hardsigmoid(x):
    return np.clip((_f(x) + 3) / 6, 0.0, 1.0)


def hardsigmoid_backward(grad, x):
    x = _f(x)
    return _f(grad) * np.where(np.isnan(x), np.nan, np.where((x > -3) & (x < 3), 1 / 6, 0.0))


def hardswish(x):
    x = _f(x)
    return np.where(x >= 3, x, np.where(x <= -3, 0.0, x * (x + 3) / 6))


def hardswish_backward(grad, x):
    x = _f(x)
    return _f(grad) * np.where(x < -3, 0.0, np.where(x > 3, 1.0, x / 3 + 0.5))


def logsigmoid(x):
    return -np.logaddexp(0.0, -_f(x))


def logsigmoid_backward(grad, x):
    return _f(grad) * _sig(-_f(x))


def prelu(x, weight):
    x = _f(x)
    w = _f(weight).reshape(-1)
    if x.ndim >= 2 and w.size > 1:
        w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, w * x)


def prelu_backward(grad, x, weight):
    x, g = _f(x), _f(grad)
    wa = _f(weight)
    w = wa.reshape(-1)
    if x.ndim >= 2 and w.size > 1:
        w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
    dx = g * np.where(np.isnan(x), np.nan, np.where(x > 0, 1.0, w))  # NaN propagates, as in leaky_relu
    contrib = np.where(x > 0, 0.0, g * x)
    if x.ndim >= 2 and wa.size > 1:
        dw = contrib.sum(axis=tuple(i for i in range(x.ndim) if i != 1))
    else:
        dw = np.array([contrib.sum()])
    return dx, dw.reshape(wa.shape)


def softmax(x, axis=-1, scale=None, mask=None):
    x = _f(x) * (1.0 if scale is None else scale)
    if mask is not None:
        keep = np.broadcast_to(np.asarray(mask, bool), x.shape)
        x = np.where(keep, x, -np.inf)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        e = np.exp(x - m)
        y = e / np.sum(e, axis=axis, keepdims=True)
    if mask is not None:
        y = np.where(np.any(keep, axis=axis, keepdims=True), np.where(keep, y, 0.0), 0.0)
    return y


def log_softmax(x, axis=-1, scale=None, mask=None):
    x = _f(x) * (1.0 if scale is None else scale)
    if mask is not None:
        keep = np.broadcast_to(np.asarray(mask, bool), x.shape)
        x = np.where(keep, x, -np.inf)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        y = (x - m) - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    if mask is not None:
        y = np.where(keep, y, -np.inf)
    return y


def softmax_backward(grad, y, axis=-1):
    g, y = _f(grad), _f(y)
    return y * (g - np.sum(g * y, axis=axis, keepdims=True))


def log_softmax_backward(grad, y, axis=-1):
    g, y = _f(grad), _f(y)
    return g - np.exp(y) * np.sum(g, axis=axis, keepdims=True)


def bias_act(x, bias, act="relu", **params):
    """act(x + bias) in float64, bias along the last axis."""
    return globals()[act](_f(x) + _f(bias), **params)


def bias_act_backward(grad, x, bias, act="relu", **params):
    """(dx, dbias): dx = grad·act'(x + bias), dbias = Σ dx over the leading axes (math.fsum, exactly rounded)."""
    dx = globals()[act + "_backward"](grad, _f(x) + _f(bias), **params)
    rows = dx.reshape(-1, dx.shape[-1])
    return dx, np.array([math.fsum(rows[:, j]) for j in range(rows.shape[1])])


def _split(x):
    x = _f(x)
    h = x.shape[-1] // 2
    return x[..., :h], x[..., h:]


def glu(x):
    a, b = _split(x)
    return a * sigmoid(b)


def glu_backward(grad, x):
    a, b = _split(x)
    g = _f(grad)
    return np.concatenate([g * sigmoid(b), g * a * sigmoid(b) * (1 - sigmoid(b))], axis=-1)


def swiglu(x):
    a, b = _split(x)
    return silu(a) * b


def swiglu_backward(grad, x):
    a, b = _split(x)
    g = _f(grad)
    return np.concatenate([silu_backward(g * b, a), g * silu(a)], axis=-1)


def geglu(x, approximate="none"):
    a, b = _split(x)
    return gelu(a, approximate) * b


def geglu_backward(grad, x, approximate="none"):
    a, b = _split(x)
    g = _f(grad)
    return np.concatenate([gelu_backward(g * b, a, approximate), g * gelu(a, approximate)], axis=-1)
