"""Benchmark machinery shared by `fastact bench` and bench/: baselines, copy bandwidth, timing."""
from __future__ import annotations

import time

import numpy as np

import fastact


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _gelu_np(x):
    from math import erf, sqrt

    return 0.5 * x * (1 + np.vectorize(lambda v: erf(v / sqrt(2)), otypes=[x.dtype])(x))


# The NumPy expression a user would write for each activation (forward, backward), in the input's dtype.
NUMPY = {
    "identity": (lambda x: x.copy(), lambda g, x: g.copy()),
    "binary_step": (lambda x: (x > 0).astype(x.dtype), lambda g, x: np.zeros_like(x)),
    "sigmoid": (_sig, lambda g, x: g * _sig(x) * (1 - _sig(x))),
    "tanh": (np.tanh, lambda g, x: g * (1 - np.tanh(x) ** 2)),
    "relu": (lambda x: np.maximum(x, 0), lambda g, x: g * (x > 0)),
    "relu6": (lambda x: np.clip(x, 0, 6), lambda g, x: g * ((x > 0) & (x < 6))),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), lambda g, x: np.where(x > 0, g, 0.01 * g)),
    "elu": (lambda x: np.where(x > 0, x, np.expm1(x)), lambda g, x: np.where(x > 0, g, g * np.exp(x))),
    "celu": (lambda x: np.where(x > 0, x, np.expm1(x)), lambda g, x: np.where(x > 0, g, g * np.exp(x))),
    "selu": (lambda x: 1.0507 * np.where(x > 0, x, 1.6733 * np.expm1(x)),
             lambda g, x: g * 1.0507 * np.where(x > 0, 1, 1.6733 * np.exp(x))),
    "gelu": (lambda x: 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3))),
             lambda g, x: g * (0.5 * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3))) + 0.5 * x * (
                 1 - np.tanh(0.7978845608 * (x + 0.044715 * x**3)) ** 2) * 0.7978845608 * (1 + 0.134145 * x**2))),
    "silu": (lambda x: x * _sig(x), lambda g, x: g * _sig(x) * (1 + x * (1 - _sig(x)))),
    "swish": (lambda x: x * _sig(x), lambda g, x: g * _sig(x) * (1 + x * (1 - _sig(x)))),
    "mish": (lambda x: x * np.tanh(np.logaddexp(0, x)),
             lambda g, x: g * (np.tanh(np.logaddexp(0, x)) + x * _sig(x) * (1 - np.tanh(np.logaddexp(0, x)) ** 2))),
    "softplus": (lambda x: np.logaddexp(0, x), lambda g, x: g * _sig(x)),
    "softsign": (lambda x: x / (1 + np.abs(x)), lambda g, x: g / (1 + np.abs(x)) ** 2),
    "hardsigmoid": (lambda x: np.clip(x / 6 + 0.5, 0, 1), lambda g, x: g * ((x > -3) & (x < 3)) / 6),
    "hardswish": (lambda x: x * np.clip(x + 3, 0, 6) / 6,
                  lambda g, x: g * np.where(x < -3, 0, np.where(x > 3, 1, x / 3 + 0.5))),
    "logsigmoid": (lambda x: -np.logaddexp(0, -x), lambda g, x: g * _sig(-x)),
}
# NumPy's gelu above is the tanh form (what users write without scipy); fastact is timed on the same form.
FASTACT_PARAMS = {"gelu": {"approximate": "tanh"}}


def _torch_fns():
    """{activation: (forward(t), backward(g, t, y))} for PyTorch's CPU kernels (its aten backward ops; y = forward(t),
    saved by autograd, is what PyTorch's sigmoid and tanh backward read)."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    aten = torch.ops.aten
    fns = {
        "sigmoid": (torch.sigmoid, lambda g, t, y: aten.sigmoid_backward(g, y)),
        "tanh": (torch.tanh, lambda g, t, y: aten.tanh_backward(g, y)),
        "relu": (F.relu, lambda g, t, y: aten.threshold_backward(g, t, 0)),
        "relu6": (F.relu6, lambda g, t, y: aten.hardtanh_backward(g, t, 0.0, 6.0)),
        "leaky_relu": (F.leaky_relu, lambda g, t, y: aten.leaky_relu_backward(g, t, 0.01, False)),
        "elu": (F.elu, lambda g, t, y: aten.elu_backward(g, 1.0, 1, 1, False, t)),
        "celu": (F.celu, None),
        "selu": (F.selu, None),
        "gelu": (lambda t: F.gelu(t, approximate="tanh"), lambda g, t, y: aten.gelu_backward(g, t, approximate="tanh")),
        "silu": (F.silu, lambda g, t, y: aten.silu_backward(g, t)),
        "swish": (F.silu, lambda g, t, y: aten.silu_backward(g, t)),
        "mish": (F.mish, lambda g, t, y: aten.mish_backward(g, t)),
        "softplus": (F.softplus, lambda g, t, y: aten.softplus_backward(g, t, 1.0, 20.0)),
        "softsign": (F.softsign, None),
        "hardsigmoid": (F.hardsigmoid, lambda g, t, y: aten.hardsigmoid_backward(g, t)),
        "hardswish": (F.hardswish, lambda g, t, y: aten.hardswish_backward(g, t)),
        "logsigmoid": (F.logsigmoid, None),
    }
    return torch.from_numpy, fns


def _jax_fns():
    """{activation: (forward(a), backward(g, a, y))} as jitted JAX functions (backward through jax.vjp; y unused)."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    nn = jax.nn
    base = {"sigmoid": nn.sigmoid, "tanh": jnp.tanh, "relu": nn.relu, "relu6": nn.relu6,
            "leaky_relu": nn.leaky_relu, "elu": nn.elu, "celu": nn.celu, "selu": nn.selu,
            "gelu": lambda a: nn.gelu(a, approximate=True), "silu": nn.silu, "swish": nn.silu,
            "mish": lambda a: a * jnp.tanh(nn.softplus(a)), "softplus": nn.softplus, "softsign": nn.soft_sign,
            "hardsigmoid": nn.hard_sigmoid, "hardswish": nn.hard_swish, "logsigmoid": nn.log_sigmoid}

    def backward(f):
        vjp = jax.jit(lambda g, a: jax.vjp(f, a)[1](g)[0])
        return lambda g, a, y: vjp(g, a)

    def ready(f):
        return lambda *a: f(*a).block_until_ready()

    fns = {k: (ready(jax.jit(f)), ready(backward(f))) for k, f in base.items()}
    return jax.device_put, fns


def comparisons():
    """The installed libraries fastact is timed against: {library: (convert numpy array, {name: (fwd, bwd)})}."""
    found = {}
    for lib, fns in (("torch", _torch_fns), ("jax", _jax_fns)):
        table = fns()
        if table is not None:
            found[lib] = table
    return found


def best_time(fn, repeat: int) -> float:
    fn()  # warm-up (and compilation)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def copy_bandwidth(n: int, dtype, repeat: int) -> float:
    """Bytes per second of a multi-threaded array copy (read n + write n) in this process."""
    a = np.random.default_rng(0).standard_normal(n).astype(dtype)
    b = np.empty_like(a)
    return 2 * a.nbytes / best_time(lambda: fastact.identity(a, out=b), repeat)


def run(names=None, n: int = 1 << 25, dtype=np.float32, repeat: int = 5, progress=None):
    """Time every activation forward and backward; yields one dict per row."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    out = np.empty_like(x)
    bw = copy_bandwidth(n, dtype, repeat)
    others = comparisons()
    names = names or [a for a in fastact.ACTIVATIONS if a != "prelu"]
    for name in names:
        params = FASTACT_PARAMS.get(name, {})
        f, b = getattr(fastact, name), getattr(fastact, name + "_backward")
        np_f, np_b = NUMPY[name]
        for kind in ("forward", "backward"):
            if progress:
                progress(f"{name} {kind}")
            if kind == "forward":
                t_out = best_time(lambda: f(x, out=out, **params), repeat)
                t_alloc = best_time(lambda: f(x, **params), repeat)
                with np.errstate(all="ignore"):
                    t_np = best_time(lambda: np_f(x), max(1, repeat // 2))
                nbytes = 2 * x.nbytes
            else:
                t_out = best_time(lambda: b(g, x, out=out, **params), repeat)
                t_alloc = best_time(lambda: b(g, x, **params), repeat)
                with np.errstate(all="ignore"):
                    t_np = best_time(lambda: np_b(g, x), max(1, repeat // 2))
                nbytes = 3 * x.nbytes
            row = {"name": name, "pass": kind, "ms_out": t_out * 1e3, "ms": t_alloc * 1e3,
                   "gbs": nbytes / t_out / 1e9, "copy_frac": nbytes / t_out / bw, "numpy_ms": t_np * 1e3,
                   "vs_numpy": t_np / t_alloc, "copy_gbs": bw / 1e9}
            for lib, (convert, fns) in others.items():
                fn = fns.get(name, (None, None))[kind == "backward"]
                if fn is None:
                    continue
                lx, lg = convert(x), convert(g)
                if kind == "forward":
                    t_lib = best_time(lambda: fn(lx), repeat)
                else:
                    ly = fns[name][0](lx)
                    t_lib = best_time(lambda: fn(lg, lx, ly), repeat)
                row[lib + "_ms"] = t_lib * 1e3
                row["vs_" + lib] = t_lib / t_alloc
            yield row


def format_table(rows, n, dtype) -> str:
    rows = list(rows)
    if not rows:
        return "no rows"
    libs = [lib for lib in ("torch", "jax") if any(lib + "_ms" in r for r in rows)]
    head = (f"fastact {fastact.__version__} · {n:,} × {np.dtype(dtype).name} · copy bandwidth "
            f"{rows[0]['copy_gbs']:.1f} GB/s (read + write, same process)\n")
    cols = ["activation", "pass", "ms (out=)", "GB/s", "× copy BW", "ms (alloc)", "NumPy ms", "× NumPy"]
    for lib in libs:
        cols += [f"{lib} ms", f"× {lib}"]
    lines = [" | ".join(cols), " | ".join("---" for _ in cols)]
    for r in rows:
        cells = [r["name"], r["pass"], f"{r['ms_out']:.2f}", f"{r['gbs']:.1f}", f"{r['copy_frac']:.2f}",
                 f"{r['ms']:.2f}", f"{r['numpy_ms']:.1f}", f"{r['vs_numpy']:.1f}"]
        for lib in libs:
            cells += [f"{r[lib + '_ms']:.2f}", f"{r['vs_' + lib]:.2f}"] if lib + "_ms" in r else ["", ""]
        lines.append(" | ".join(cells))
    foot = ("\n× copy BW: bytes moved (with out=) / copy bandwidth. × NumPy, × torch, × jax: their time / fastact's "
            "time, both allocating the result (> 1: fastact faster).")
    return head + "\n".join(lines) + foot
