"""Benchmark machinery shared by `fastact bench` and bench/: baselines, copy bandwidth, timing."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numba
import numpy as np

import fastact


def _sig(x):
    return 1 / (1 + np.exp(-x))


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
# NumPy's gelu above is the tanh form (what users write without scipy); fastact is timed on the same form. The
# row "gelu erf" is fastact's default, exact form; NumPy has no vectorized erf, so its baseline there is the float64
# reference (math.erf element by element).
FASTACT_PARAMS = {"gelu": {"approximate": "tanh"}}
EXTRA_ROWS = {"gelu erf": ("gelu", {})}  # row label -> (activation, parameters)


def _reference_pair(name, params):
    from . import reference

    f, d = getattr(reference, name), getattr(reference, name + "_backward")
    return (lambda x: f(x, **params).astype(x.dtype)), (lambda g, x: d(g, x, **params).astype(x.dtype))


NUMPY["gelu erf"] = _reference_pair("gelu", {})


def _activation_rows() -> list[str]:
    """The activations suite's rows in the order of fastact.ACTIVATIONS, each extra row after its activation."""
    rows = []
    for a in fastact.ACTIVATIONS:
        if a != "prelu":
            rows += [a] + [label for label, (name, _) in EXTRA_ROWS.items() if name == a]
    return rows


ACTIVATION_ROWS = _activation_rows()


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
        "gelu erf": (F.gelu, lambda g, t, y: aten.gelu_backward(g, t)),
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
            "gelu": lambda a: nn.gelu(a, approximate=True), "gelu erf": lambda a: nn.gelu(a, approximate=False),
            "silu": nn.silu, "swish": nn.silu,
            "mish": lambda a: a * jnp.tanh(nn.softplus(a)), "softplus": nn.softplus, "softsign": nn.soft_sign,
            "hardsigmoid": nn.hard_sigmoid, "hardswish": nn.hard_swish, "logsigmoid": nn.log_sigmoid}

    def backward(f):
        vjp = jax.jit(lambda g, a: jax.vjp(f, a)[1](g)[0])
        return lambda g, a, y: vjp(g, a)

    def ready(f):
        return lambda *a: f(*a).block_until_ready()

    fns = {k: (ready(jax.jit(f)), ready(backward(f))) for k, f in base.items()}
    return _jax_put, fns


def _jax_put(a):
    """a on JAX's device, the copy finished: device_put returns at once and copies in a background thread, which
    would otherwise run during fastact's timings (it slowed the first case of a suite by up to a third)."""
    import jax

    if a.dtype == np.float64:
        jax.config.update("jax_enable_x64", True)  # without it JAX computes float64 input in float32
    return jax.block_until_ready(jax.device_put(a))


def comparisons():
    """The installed libraries fastact is timed against: {library: (convert numpy array, {name: (fwd, bwd)})}."""
    found = {}
    for lib, fns in (("torch", _torch_fns), ("jax", _jax_fns)):
        table = fns()
        if table is not None:
            found[lib] = table
    return found


def best_time(fn, repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):  # compilation, first touches
        fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def paired_best(fn, reference, repeat: int) -> tuple[float, float]:
    """Best times of fn and reference, timed alternately so that both see the same machine (a shared machine's
    speed drifts; a ratio of interleaved bests holds better than a ratio of bests taken minutes apart)."""
    fn()
    reference()
    best_fn = best_ref = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        reference()
        t1 = time.perf_counter()
        fn()
        t2 = time.perf_counter()
        best_ref, best_fn = min(best_ref, t1 - t), min(best_fn, t2 - t1)
    return best_fn, best_ref


@dataclass
class Case:
    """One timed operation: fastact with out= (for the bandwidth fraction) and allocating (against the others)."""

    suite: str
    name: str
    kind: str  # "forward" or "backward"
    nbytes: int  # bytes an ideal kernel moves: each input read once, the output written once
    with_out: Callable[[], object]
    allocating: Callable[[], object]
    numpy: Callable[[], object] | None = None
    others: dict = field(default_factory=dict)  # library -> callable


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 3).astype(dtype), rng.standard_normal(shape).astype(dtype)


def activation_cases(names, n, dtype):
    x, g = _data(n, dtype)
    out = np.empty_like(x)
    others = comparisons()
    for label in names or ACTIVATION_ROWS:
        name, params = EXTRA_ROWS.get(label, (label, FASTACT_PARAMS.get(label, {})))
        f, b = getattr(fastact, name), getattr(fastact, name + "_backward")
        np_f, np_b = NUMPY[label]
        libs = {lib: (convert, fns[label]) for lib, (convert, fns) in others.items() if label in fns}
        fwd = {lib: _bind(fn[0], convert(x)) for lib, (convert, fn) in libs.items()}
        bwd = {lib: _bind(fn[1], convert(g), convert(x), fn[0](convert(x)))
               for lib, (convert, fn) in libs.items() if fn[1] is not None}
        yield Case("activations", label, "forward", 2 * x.nbytes, lambda f=f, p=params: f(x, out=out, **p),
                   lambda f=f, p=params: f(x, **p), lambda f=np_f: f(x), fwd)
        yield Case("activations", label, "backward", 3 * x.nbytes, lambda b=b, p=params: b(g, x, out=out, **p),
                   lambda b=b, p=params: b(g, x, **p), lambda b=np_b: b(g, x), bwd)


def _bind(fn, *args):
    return lambda: fn(*args)


def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_cases(n, dtype):
    """The shapes of the softmax targets, scaled to n elements: long rows, many short rows, few very long rows,
    and a softmax over the first axis; and rows of 64 (the longest that get kernels of their own length)."""
    shapes = [((n // 1024, 1024), -1), ((n // 8, 8), -1), ((8, n // 8), -1), ((1024, n // 1024), 0),
              ((n // 64, 64), -1)]
    libs = comparisons()
    for shape, axis in shapes:
        x, g = _data(shape, dtype)
        out = np.empty_like(x)
        y = fastact.softmax(x, axis=axis)
        label = f"softmax {shape[0]}×{shape[1]} axis {axis}"
        fwd, bwd = {}, {}
        if "torch" in libs:
            import torch

            tx, tg, ty = (torch.from_numpy(a) for a in (x, g, y))
            fwd["torch"] = _bind(torch.softmax, tx, axis)
            bwd["torch"] = _bind(torch.ops.aten._softmax_backward_data, tg, ty, axis % 2, ty.dtype)
        if "jax" in libs:
            import jax

            jf = jax.jit(lambda a, ax=axis: jax.nn.softmax(a, axis=ax))
            jb = jax.jit(lambda gg, a, ax=axis: jax.vjp(lambda v: jax.nn.softmax(v, axis=ax), a)[1](gg)[0])
            jx, jg = _jax_put(x), _jax_put(g)
            fwd["jax"] = lambda: jf(jx).block_until_ready()
            bwd["jax"] = lambda: jb(jg, jx).block_until_ready()
        yield Case("softmax", label, "forward", 2 * x.nbytes, lambda x=x, o=out, a=axis: fastact.softmax(x, axis=a, out=o),
                   lambda x=x, a=axis: fastact.softmax(x, axis=a), lambda x=x, a=axis: _np_softmax(x, a), fwd)
        yield Case("softmax", label, "backward", 3 * x.nbytes,
                   lambda g=g, y=y, o=out, a=axis: fastact.softmax_backward(g, y, axis=a, out=o),
                   lambda g=g, y=y, a=axis: fastact.softmax_backward(g, y, axis=a),
                   lambda g=g, y=y, a=axis: y * (g - (g * y).sum(axis=a, keepdims=True)), bwd)


# (label, fastact act name, its parameters)
BIAS_ACTS = [("relu", "relu", {}), ("gelu", "gelu", {}), ("gelu tanh", "gelu", {"approximate": "tanh"}),
             ("silu", "silu", {})]


def _torch_bias(name, params):
    import torch
    import torch.nn.functional as F

    act = {"relu": F.relu, "silu": F.silu,
           "gelu": lambda t: F.gelu(t, approximate=params.get("approximate", "none"))}[name]

    def backward(g, x, b):
        z = (x + b).requires_grad_(True)
        dz, = torch.autograd.grad(act(z), z, g)
        return dz, dz.sum(0)

    return (lambda x, b: act(x + b)), backward


def _jax_bias(name, params):
    import jax

    act = {"relu": jax.nn.relu, "silu": jax.nn.silu,
           "gelu": lambda z: jax.nn.gelu(z, approximate=params.get("approximate") == "tanh")}[name]
    fwd = jax.jit(lambda x, b: act(x + b))
    bwd = jax.jit(lambda g, x, b: jax.vjp(lambda xx, bb: act(xx + bb), x, b)[1](g))
    return (lambda x, b: fwd(x, b).block_until_ready()), (lambda g, x, b: jax.block_until_ready(bwd(g, x, b)))


def _np_bias(name, params):
    f, d = NUMPY["gelu erf" if name == "gelu" and params.get("approximate") != "tanh" else name]
    return (lambda x, b: f(x + b)), (lambda g, x, b: (lambda dz: (dz, dz.sum(axis=0)))(d(g, x + b)))


def _with_libraries(factories, *args):
    """{library: (forward, backward)} for the installed libraries among factories {library: factory(*args)}."""
    found = {}
    for lib, factory in factories.items():
        try:
            found[lib] = factory(*args)
        except ImportError:
            pass
    return found


def bias_act_cases(n, dtype):
    x, g = _data((n // 1024, 1024), dtype)
    b = (np.random.default_rng(5).standard_normal(1024)).astype(dtype)
    out = np.empty_like(x)
    for label, name, params in BIAS_ACTS:
        np_f, np_b = _np_bias(name, params)
        libs = _with_libraries({"torch": _torch_bias, "jax": _jax_bias}, name, params)
        fwd, bwd = {}, {}
        for lib, (lf, lb) in libs.items():
            convert = _converter(lib)
            lx, lg, lbias = convert(x), convert(g), convert(b)
            fwd[lib] = _bind(lf, lx, lbias)
            bwd[lib] = _bind(lb, lg, lx, lbias)
        row = f"bias_act {label} {x.shape[0]}×{x.shape[1]}"
        yield Case("bias_act", row, "forward", 2 * x.nbytes,
                   lambda nm=name, p=params: fastact.bias_act(x, b, nm, out=out, **p),
                   lambda nm=name, p=params: fastact.bias_act(x, b, nm, **p), _bind(np_f, x, b), fwd)
        yield Case("bias_act", row, "backward", 3 * x.nbytes,
                   lambda nm=name, p=params: fastact.bias_act_backward(g, x, b, nm, out=out, **p),
                   lambda nm=name, p=params: fastact.bias_act_backward(g, x, b, nm, **p), _bind(np_b, g, x, b), bwd)


def _converter(lib):
    if lib == "torch":
        import torch

        return torch.from_numpy
    return _jax_put


# (label, fastact function, its parameters)
GATED_UNITS = [("glu", "glu", {}), ("swiglu", "swiglu", {}), ("geglu", "geglu", {}),
               ("geglu tanh", "geglu", {"approximate": "tanh"})]


def _gated_exprs(lib, name, params):
    """(forward(x), backward(g, x)) of a gated unit written with the library's own operations."""
    tanh = params.get("approximate") == "tanh"
    if lib == "numpy":
        return _reference_pair(name, params)
    if lib == "torch":
        import torch
        import torch.nn.functional as F

        def unit(x):
            a, b = x.chunk(2, dim=-1)
            if name == "glu":
                return F.glu(x, -1)
            return (F.silu(a) if name == "swiglu" else F.gelu(a, approximate="tanh" if tanh else "none")) * b

        def backward(g, x):
            xr = x.detach().requires_grad_(True)
            return torch.autograd.grad(unit(xr), xr, g)[0]

        return unit, backward
    import jax
    import jax.numpy as jnp

    def junit(x):
        a, b = jnp.split(x, 2, axis=-1)
        if name == "glu":
            return a * jax.nn.sigmoid(b)
        return (jax.nn.silu(a) if name == "swiglu" else jax.nn.gelu(a, approximate=tanh)) * b

    jf = jax.jit(junit)
    jb = jax.jit(lambda g, x: jax.vjp(junit, x)[1](g)[0])
    return (lambda x: jf(x).block_until_ready()), (lambda g, x: jb(g, x).block_until_ready())


def gated_cases(n, dtype):
    x, _ = _data((n // 1024, 1024), dtype)
    g = _data((n // 1024, 512), dtype, seed=1)[1]
    out = np.empty_like(g)
    dx = np.empty_like(x)
    for label, name, params in GATED_UNITS:
        f, b = getattr(fastact, name), getattr(fastact, name + "_backward")
        np_f, np_b = _gated_exprs("numpy", name, params)
        fwd, bwd = {}, {}
        for lib in ("torch", "jax"):
            try:
                lf, lb = _gated_exprs(lib, name, params)
            except ImportError:
                continue
            convert = _converter(lib)
            lx, lg = convert(x), convert(g)
            fwd[lib], bwd[lib] = _bind(lf, lx), _bind(lb, lg, lx)
        row = f"{label} {x.shape[0]}×{x.shape[1]}"
        yield Case("gated", row, "forward", x.nbytes + g.nbytes, lambda f=f, p=params: f(x, out=out, **p),
                   lambda f=f, p=params: f(x, **p), _bind(np_f, x), fwd)
        yield Case("gated", row, "backward", g.nbytes + 2 * x.nbytes, lambda b=b, p=params: b(g, x, out=dx, **p),
                   lambda b=b, p=params: b(g, x, **p), _bind(np_b, g, x), bwd)


def _prelu_exprs(lib):
    """(forward(x, w), backward(g, x, w) -> (dx, dweight)) of PReLU over axis 1, written with the library's own
    operations (PyTorch: its prelu kernel and autograd)."""
    if lib == "numpy":
        def backward(g, x, w):
            dx = g * np.where(x > 0, x.dtype.type(1), w)
            return dx, np.where(x > 0, 0, g * x).sum(axis=0)

        return (lambda x, w: np.where(x > 0, x, w * x)), backward
    if lib == "torch":
        import torch
        import torch.nn.functional as F

        def torch_backward(g, x, w):
            xr, wr = x.detach().requires_grad_(True), w.detach().requires_grad_(True)
            return torch.autograd.grad(F.prelu(xr, wr), (xr, wr), g)

        return F.prelu, torch_backward
    import jax
    import jax.numpy as jnp

    def jprelu(x, w):
        return jnp.where(x > 0, x, w * x)

    jf = jax.jit(jprelu)
    jb = jax.jit(lambda g, x, w: jax.vjp(jprelu, x, w)[1](g))
    return (lambda x, w: jf(x, w).block_until_ready()), (lambda g, x, w: jax.block_until_ready(jb(g, x, w)))


def prelu_cases(n, dtype):
    """PReLU on (n/1,024, 1,024) with a slope per column (a dense layer's activations). Its backward has no out=:
    both columns time the allocating call."""
    x, g = _data((n // 1024, 1024), dtype)
    w = np.full(1024, 0.25, dtype)
    out = np.empty_like(x)
    np_f, np_b = _prelu_exprs("numpy")
    fwd, bwd = {}, {}
    for lib in ("torch", "jax"):
        try:
            lf, lb = _prelu_exprs(lib)
        except ImportError:
            continue
        convert = _converter(lib)
        lx, lg, lw = convert(x), convert(g), convert(w)
        fwd[lib], bwd[lib] = _bind(lf, lx, lw), _bind(lb, lg, lx, lw)
    row = f"prelu {x.shape[0]}×{x.shape[1]}"
    yield Case("prelu", row, "forward", 2 * x.nbytes, lambda: fastact.prelu(x, w, out=out),
               lambda: fastact.prelu(x, w), _bind(np_f, x, w), fwd)
    backward = (lambda: fastact.prelu_backward(g, x, w))
    yield Case("prelu", row, "backward", 3 * x.nbytes, backward, backward, _bind(np_b, g, x, w), bwd)


SUITES = {"activations": lambda names, n, dtype: activation_cases(names, n, dtype),
          "softmax": lambda names, n, dtype: softmax_cases(n, dtype),
          "bias_act": lambda names, n, dtype: bias_act_cases(n, dtype),
          "prelu": lambda names, n, dtype: prelu_cases(n, dtype),
          "gated": lambda names, n, dtype: gated_cases(n, dtype)}


def run(suites=("activations",), names=None, n: int = 1 << 25, dtype=np.float32, repeat: int = 5,
        progress=None):
    """Time every case of the given suites; yields one dict per row.

    The copy-bandwidth fraction of each case comes from the case (with out=) timed alternately with a copy of n
    elements, in this process."""
    a = np.random.default_rng(0).standard_normal(n).astype(dtype)
    b = np.empty_like(a)

    def copy():
        fastact.identity(a, out=b)

    for suite in suites:
        for case in SUITES[suite](names, n, dtype):
            if progress:
                progress(f"{case.name} {case.kind}")
            t_out, t_copy = paired_best(case.with_out, copy, repeat)
            bw = 2 * a.nbytes / t_copy
            # Fresh result arrays: right after a case's set-up, this VM's first allocations of this size can cost
            # 4-5 times a later one (the kernel making huge pages), for a few calls.
            t_alloc = best_time(case.allocating, repeat, warmup=4)
            row = {"suite": suite, "name": case.name, "pass": case.kind, "ms_out": t_out * 1e3, "ms": t_alloc * 1e3,
                   "gbs": case.nbytes / t_out / 1e9, "copy_frac": case.nbytes / t_out / bw, "copy_gbs": bw / 1e9}
            if case.numpy is not None:
                with np.errstate(all="ignore"):
                    t_np = best_time(case.numpy, max(1, repeat // 2))
                row["numpy_ms"], row["vs_numpy"] = t_np * 1e3, t_np / t_alloc
            for lib, fn in case.others.items():
                t_lib = best_time(fn, repeat)
                row[lib + "_ms"], row["vs_" + lib] = t_lib * 1e3, t_lib / t_alloc
            yield row


def format_table(rows, n, dtype) -> str:
    rows = list(rows)
    if not rows:
        return "no rows"
    libs = [lib for lib in ("numpy", "torch", "jax") if any(lib + "_ms" in r for r in rows)]
    bws = [r["copy_gbs"] for r in rows]
    head = (f"fastact {fastact.__version__} · {n:,} elements of {np.dtype(dtype).name} per case · "
            f"{numba.get_num_threads()} threads · copy bandwidth {min(bws):.1f}–{max(bws):.1f} GB/s "
            "(read + write, timed alternately with each case)\n")
    cols = ["operation", "pass", "ms (out=)", "GB/s", "× copy BW", "ms (alloc)"]
    for lib in libs:
        cols += [f"{lib} ms", f"× {lib}"]
    lines = [" | ".join(cols), " | ".join("---" for _ in cols)]
    for r in rows:
        cells = [r["name"], r["pass"], f"{r['ms_out']:.2f}", f"{r['gbs']:.1f}", f"{r['copy_frac']:.2f}",
                 f"{r['ms']:.2f}"]
        for lib in libs:
            cells += [f"{r[lib + '_ms']:.2f}", f"{r['vs_' + lib]:.2f}"] if lib + "_ms" in r else ["", ""]
        lines.append(" | ".join(cells))
    foot = ("\n× copy BW: bytes moved (each input read once, the output written once; with out=) / copy bandwidth."
            "\n× numpy, × torch, × jax: their time / fastact's time, both allocating the result (> 1: fastact faster).")
    return head + "\n".join(lines) + foot
