"""`fastact bench --device cuda`: effective bandwidth of each operation on one GPU, as a fraction of that GPU's
device-to-device copy bandwidth measured in the same run, next to PyTorch CUDA when installed."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

import fastact


def _sync():
    from numba import cuda

    cuda.synchronize()


def gpu_time(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of fn() with the device synchronized around it."""
    fn()
    _sync()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        _sync()
        best = min(best, time.perf_counter() - t)
    return best


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def cases(n: int, dtype):
    """(name, pass, bytes moved, fastact call, torch call or None) on device arrays of n elements."""
    from numba import cuda

    rng = np.random.default_rng(0)
    x = cuda.to_device((rng.standard_normal(n) * 3).astype(dtype))
    g = cuda.to_device(rng.standard_normal(n).astype(dtype))
    out = cuda.device_array(n, dtype)
    torch = _torch()
    tx = torch.as_tensor(x, device="cuda") if torch is not None else None
    F = torch.nn.functional if torch is not None else None
    item = np.dtype(dtype).itemsize
    t_ops = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "gelu": "gelu", "silu": "silu", "mish": "mish",
             "softplus": "softplus", "elu": "elu"}
    for name in [a for a in fastact.ACTIVATIONS if a != "prelu"]:
        f, b = getattr(fastact, name), getattr(fastact, name + "_backward")
        tf = None
        if torch is not None and name in t_ops:
            op = getattr(torch, t_ops[name], None) or getattr(F, t_ops[name])
            tf = (lambda op=op: op(tx))
        yield name, "forward", 2 * n * item, (lambda f=f: f(x, out=out)), tf
        yield name, "backward", 3 * n * item, (lambda b=b: b(g, x, out=out)), None
    # one shape per softmax layout (fastact.gpu_softmax): warp (8, 1024 columns), block, split, columns (axis 0)
    for rows, cols, axis in ((n // 8, 8, -1), (n // 1024, 1024, -1), (n // 16384, 16384, -1), (8, n // 8, -1),
                             (1024, n // 1024, 0)):
        m = rows * cols
        if m == 0:
            continue
        x2, g2, o2 = (a[:m].reshape(rows, cols) for a in (x, g, out))
        tf = None
        if torch is not None:
            tf = (lambda t2=tx[:m].reshape(rows, cols), axis=axis: torch.softmax(t2, axis))
        label = f"softmax {rows}×{cols}" + (" axis 0" if axis == 0 else "")
        y2 = fastact.softmax(x2, axis=axis)
        yield label, "forward", 2 * m * item, (lambda x2=x2, o2=o2, axis=axis: fastact.softmax(
            x2, axis=axis, out=o2)), tf
        yield label, "backward", 3 * m * item, (lambda g2=g2, y2=y2, o2=o2, axis=axis: fastact.softmax_backward(
            g2, y2, axis=axis, out=o2)), None
    rows = n // 1024
    x2, g2, o2 = (a.reshape(rows * 1024)[: rows * 1024].reshape(rows, 1024) for a in (x, g, out))
    bias = cuda.to_device(rng.standard_normal(1024).astype(dtype))
    for act in ("relu", "gelu", "silu"):
        tf = None
        if torch is not None:
            tb = torch.as_tensor(bias, device="cuda")
            t2 = tx[: rows * 1024].reshape(rows, 1024)
            tact = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu}[act]
            tf = (lambda t2=t2, tb=tb, tact=tact: tact(t2 + tb))
        yield f"bias_act {act} {rows}×1024", "forward", 2 * rows * 1024 * item, (
            lambda a=act: fastact.bias_act(x2, bias, a, out=o2)), tf
        yield f"bias_act {act} {rows}×1024", "backward", 3 * rows * 1024 * item, (
            lambda a=act: fastact.bias_act_backward(g2, x2, bias, a, out=o2)), None


def run(n: int = 1 << 28, dtype=np.float32, repeat: int = 10, progress=None):
    from numba import cuda

    a = cuda.to_device(np.zeros(n, dtype))
    b = cuda.device_array(n, dtype)
    t_copy = gpu_time(lambda: b.copy_to_device(a), repeat)
    bw = 2 * a.nbytes / t_copy
    tiny = cuda.to_device(np.ones(16, dtype))
    overhead = gpu_time(lambda: fastact.relu(tiny), max(repeat, 100))
    rows = []
    for name, kind, nbytes, fn, tfn in cases(n, dtype):
        if progress:
            progress(f"{name} {kind}")
        t = gpu_time(fn, repeat)
        row = {"name": name, "pass": kind, "ms": t * 1e3, "gbs": nbytes / t / 1e9, "copy_frac": nbytes / t / bw}
        if tfn is not None:
            tt = gpu_time(tfn, repeat)
            row["torch_ms"], row["vs_torch"] = tt * 1e3, tt / t
        rows.append(row)
    return bw, overhead, rows


def format_table(bw, overhead, rows, n, dtype) -> str:
    from numba import cuda

    name = getattr(cuda.get_current_device(), "name", "CUDA simulator")
    name = name.decode() if isinstance(name, bytes) else name
    head = (f"fastact {fastact.__version__} · {name} · {n:,} elements of {np.dtype(dtype).name} · device-to-device "
            f"copy {bw / 1e9:.0f} GB/s · call on 16 elements {overhead * 1e6:.1f} µs (host side, synchronized)\n")
    cols = ["operation", "pass", "ms", "GB/s", "× copy BW", "torch ms", "× torch"]
    lines = [" | ".join(cols), " | ".join("---" for _ in cols)]
    for r in rows:
        lines.append(" | ".join([r["name"], r["pass"], f"{r['ms']:.3f}", f"{r['gbs']:.0f}", f"{r['copy_frac']:.2f}",
                                 f"{r['torch_ms']:.3f}" if "torch_ms" in r else "",
                                 f"{r['vs_torch']:.2f}" if "vs_torch" in r else ""]))
    return head + "\n".join(lines) + "\n× torch: PyTorch's time / fastact's time (> 1: fastact faster)."
