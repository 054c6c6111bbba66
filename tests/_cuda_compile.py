"""Compile every CUDA kernel fastact builds with the real CUDA compiler (NVVM, then ptxas through nvJitLink) for
sm_90, without a GPU, and print one JSON line per kernel: its name, dtypes, registers, spill and stack bytes,
static shared memory, or the compiler's error. Run by test_cuda_compile.py in a subprocess of its own (it
replaces numba.cuda.jit for kernels with a compile-only stand-in)."""
import json
import re
import sys

from numba import cuda
from numba.cuda import dispatcher

import fastact.gpu as G
from fastact._nvjitlink import link
import fastact.gpu_softmax as S
from fastact.declarations import REGISTRY
from fastact.gated import GATED

CC = (9, 0)
ptxas = None
try:
    from cuda.bindings import nvjitlink

    nvjitlink.version()
    ptxas = nvjitlink
except Exception:  # noqa: BLE001 - without nvJitLink only PTX is checked
    pass


class _Device:  # what a device function's compilation asks the current GPU for
    compute_capability = CC


if not cuda.is_available():
    dispatcher.get_current_device = lambda: _Device()
jit, label, rows = cuda.jit, [""], []


def resources(ptx: str) -> dict:
    _, text = link(ptx, f"sm_{CC[0]}{CC[1]}", "-verbose")
    num = lambda pattern: int(re.search(pattern, text).group(1))  # noqa: E731
    return {"registers": num(r"Used (\d+) registers"), "spill": num(r"(\d+) bytes spill stores"),
            "stack": num(r"(\d+) bytes stack frame"), "smem": num(r"(\d+) bytes smem")}


def compile_only(func_or_sig=None, device=False, **kw):
    if device or func_or_sig is None or callable(func_or_sig):
        return jit(func_or_sig, device=device, **kw)

    def compile_(fn):
        row = {"kernel": f"{label[0]} {fn.__name__}", "signature": str(func_or_sig),
               "launch_bounds": kw.get("launch_bounds")}
        try:
            ptx, _ = cuda.compile_ptx(fn, func_or_sig.args, cc=CC, launch_bounds=kw.get("launch_bounds"))
            if ptxas is not None:
                row.update(resources(ptx))
        except Exception as e:  # noqa: BLE001 - reported, and the test fails on it
            row["error"] = f"{type(e).__name__}: {e}"[:2000]
        rows.append(row)
        return fn

    return compile_


G._numba_cuda()
cuda.jit = compile_only
FLOATS = ("float16", "float32", "float64")
for key in REGISTRY:
    for dt in FLOATS:
        for backward in (False, True):
            label[0] = f"{key} {dt}"
            G._elementwise_kernel(key, backward, dt, dt)
            label[0] = f"{key} {dt} vector"
            G._elementwise_kernel(key, backward, dt, dt, True)
            label[0] = f"bias {key} {dt}"
            G._bias_kernel(key, backward, dt)
            if not backward:
                G._bias_kernel(key, False, dt, vector=True)
            if backward:
                G._bias_kernel(key, backward, dt, G.BIAS_SPAN, G.BIAS_ROWS)
for src in FLOATS:  # conversions to the compute dtype
    for dst in FLOATS:
        if src != dst:
            label[0] = f"convert {src}->{dst}"
            G._elementwise_kernel("identity", False, src, dst)
            G._elementwise_kernel("identity", False, src, dst, True)
for work, final in (("float32", "float32"), ("float32", "float16"), ("float64", "float64")):
    label[0] = f"prelu {work}->{final}"
    G._prelu_kernels(work, final)
for dt in FLOATS:
    label[0] = f"column_sum {dt}"
    G._column_sum(dt)
    for variants, _ in GATED.values():
        for a, b in variants.values():
            for backward in (False, True):
                label[0] = f"gated {a}/{b} {dt}"
                G._gated_kernel(a, b, backward, dt)
    longest = S.rows_max(G._dtypes(dt)[0].itemsize)
    rows_shapes = {name: sorted({S._rows_shape(n, name.startswith("backward")) for n in range(1, longest + 1)})
                   for name in ("forward_rows", "backward_rows")}
    for name in S._functions(str(G._dtypes(dt)[0]), S.WARP, 1, S.UNROLL, S.THREADS):
        shapes = [(w, i, s, 1, max(S.THREADS, w)) for w, i, s in rows_shapes[name]] if name in rows_shapes else \
            [(S.WARP, 1, 0, S.UNROLL, S.THREADS)]
        for width, items, stash, unroll, threads in shapes:
            label[0] = f"softmax width={width} items={items} stash={stash} unroll={unroll} threads={threads} {dt}"
            S._compiled(name, dt, dt, width, items, unroll, threads, stash)
        if name == "forward_block":  # the large blocks of _block_plan
            for threads, _ in S.BLOCK_SHAPES:
                label[0] = f"softmax block threads={threads} {dt}"
                S._block_kernel((dt, dt), G._dtypes(dt)[0].itemsize, threads)
for row in rows:
    print(json.dumps(row))
print(json.dumps({"kernels": len(rows), "ptxas": ptxas is not None}), file=sys.stderr)
