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


def host_costs(dtype=np.float32, calls: int = 2000) -> dict:
    """Host-side seconds per call on tiny Numba device arrays, for `relu(x, out=y)` (16 elements) and
    `bias_act_backward(g, x, bias, "relu", out=dx)` (16 × 16, with its dbias and partial sums): the mean over many
    calls with one synchronization at the end (the kernels queue behind the host, so this is what each call costs
    it)."""
    from numba import cuda

    from .gpu import _simulated

    calls = 10 if _simulated() else calls  # each simulated launch runs 256 Python threads
    x, y = cuda.to_device(np.ones(16, dtype)), cuda.device_array(16, dtype)
    g2, x2, dx2 = cuda.to_device(np.ones((16, 16), dtype)), cuda.to_device(np.ones((16, 16), dtype)), \
        cuda.device_array((16, 16), dtype)
    costs = {}
    for label, fn in [("relu(x, out=y) on 16 elements", lambda: fastact.relu(x, out=y)),
                      ("bias_act_backward on 16×16", lambda: fastact.bias_act_backward(g2, x2, x, "relu", out=dx2))]:
        fn()
        _sync()
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        _sync()
        costs[label] = (time.perf_counter() - t) / calls
    return costs


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def cases(n: int, dtype):
    """(name, pass, bytes moved, fastact call, torch call or None) on device arrays of n elements; the rows and
    PyTorch's counterparts (its aten backward ops among them) are those of the CPU benchmark."""
    from numba import cuda

    from .benchmark import ACTIVATION_ROWS, EXTRA_ROWS, FASTACT_PARAMS, _torch_bias, _torch_fns

    rng = np.random.default_rng(0)
    x = cuda.to_device((rng.standard_normal(n) * 3).astype(dtype))
    g = cuda.to_device(rng.standard_normal(n).astype(dtype))
    out = cuda.device_array(n, dtype)
    torch = _torch()
    tx, tg = (torch.as_tensor(a, device="cuda") for a in (x, g)) if torch is not None else (None, None)
    t_fns = _torch_fns()[1] if torch is not None else {}
    item = np.dtype(dtype).itemsize
    for row in ACTIVATION_ROWS:
        name, params = EXTRA_ROWS.get(row, (row, FASTACT_PARAMS.get(row, {})))
        f, b = getattr(fastact, name), getattr(fastact, name + "_backward")
        tf, tb = t_fns.get(row, (None, None))
        ty = tf(tx) if tf is not None else None
        yield row, "forward", 2 * n * item, (lambda f=f, p=params: f(x, out=out, **p)), (
            (lambda tf=tf: tf(tx)) if tf is not None else None)
        yield row, "backward", 3 * n * item, (lambda b=b, p=params: b(g, x, out=out, **p)), (
            (lambda tb=tb, ty=ty: tb(tg, tx, ty)) if tb is not None else None)
    # the row lengths (128 to 65,536 columns) and one shape per other layout (fastact.gpu_softmax):
    # many 8-column rows, 8 very long rows (split across blocks), and axis 0 (columns)
    shapes = [(n // c, c, -1) for c in (8, 128, 1024, 4096, 16384, 65536)] + [(8, n // 8, -1), (1024, n // 1024, 0)]
    for rows, cols, axis in shapes:
        m = rows * cols
        if m == 0:
            continue
        x2, g2, o2 = (a[:m].reshape(rows, cols) for a in (x, g, out))
        y2 = fastact.softmax(x2, axis=axis)
        tf = tb = None
        if torch is not None:
            t2, tg2, ty2 = (torch.as_tensor(a, device="cuda") for a in (x2, g2, y2))
            tf = (lambda t2=t2, axis=axis: torch.softmax(t2, axis))
            tb = (lambda tg2=tg2, ty2=ty2, axis=axis: torch.ops.aten._softmax_backward_data(tg2, ty2, axis % 2,
                                                                                              ty2.dtype))
        label = f"softmax {rows}×{cols}" + (" axis 0" if axis == 0 else "")
        yield label, "forward", 2 * m * item, (lambda x2=x2, o2=o2, axis=axis: fastact.softmax(
            x2, axis=axis, out=o2)), tf
        yield label, "backward", 3 * m * item, (lambda g2=g2, y2=y2, o2=o2, axis=axis: fastact.softmax_backward(
            g2, y2, axis=axis, out=o2)), tb
    rows = n // 1024
    x2, g2, o2 = (a[: rows * 1024].reshape(rows, 1024) for a in (x, g, out))
    bias = cuda.to_device(rng.standard_normal(1024).astype(dtype))
    for act in ("relu", "gelu", "silu"):
        tf = tb = None
        if torch is not None:
            t_fwd, t_bwd = _torch_bias(act, {})
            t2, tg2, tbias = (torch.as_tensor(a, device="cuda") for a in (x2, g2, bias))
            tf = (lambda t_fwd=t_fwd, t2=t2, tbias=tbias: t_fwd(t2, tbias))
            tb = (lambda t_bwd=t_bwd, tg2=tg2, t2=t2, tbias=tbias: t_bwd(tg2, t2, tbias))
        yield f"bias_act {act} {rows}×1024", "forward", 2 * rows * 1024 * item, (
            lambda a=act: fastact.bias_act(x2, bias, a, out=o2)), tf
        yield f"bias_act {act} {rows}×1024", "backward", 3 * rows * 1024 * item, (
            lambda a=act: fastact.bias_act_backward(g2, x2, bias, a, out=o2)), tb


def run(n: int = 1 << 28, dtype=np.float32, repeat: int = 10, progress=None):
    from numba import cuda

    a = cuda.to_device(np.zeros(n, dtype))
    b = cuda.device_array(n, dtype)
    t_copy = gpu_time(lambda: b.copy_to_device(a), repeat)  # cuMemcpyDtoD
    torch = _torch()
    if torch is not None:  # PyTorch's copy kernel, where it is faster: the higher bar
        ta, tb = torch.as_tensor(a, device="cuda"), torch.as_tensor(b, device="cuda")
        t_copy = min(t_copy, gpu_time(lambda: tb.copy_(ta), repeat))
    bw = 2 * a.nbytes / t_copy
    overhead = host_costs(dtype)
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
            f"copy {bw / 1e9:.0f} GB/s (the faster of cuMemcpy and PyTorch's copy_) · host cost a call (mean of "
            f"many): " + ", ".join(f"{label} {t * 1e6:.1f} µs" for label, t in overhead.items()) + "\n")
    cols = ["operation", "pass", "ms", "GB/s", "× copy BW", "torch ms", "× torch"]
    lines = [" | ".join(cols), " | ".join("---" for _ in cols)]
    for r in rows:
        lines.append(" | ".join([r["name"], r["pass"], f"{r['ms']:.3f}", f"{r['gbs']:.0f}", f"{r['copy_frac']:.2f}",
                                 f"{r['torch_ms']:.3f}" if "torch_ms" in r else "",
                                 f"{r['vs_torch']:.2f}" if "vs_torch" in r else ""]))
    return head + "\n".join(lines) + "\n× torch: PyTorch's time / fastact's time (> 1: fastact faster)."
