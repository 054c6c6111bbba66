"""Count the machine instructions each GPU elementwise kernel (and the fused-bias, gated and PReLU ones) runs per
element, without a GPU.

    pip install nvidia-cuda-nvdisasm      # NVIDIA's disassembler (or have nvdisasm on PATH)
    python bench/gpu_instructions.py [--arch sm_90] [--dtype float32]

Each kernel is compiled as fastact compiles it (NVVM, then nvJitLink) for the given architecture and
disassembled; its grid-stride loop (the largest loop) is counted and divided by the elements it takes per
iteration. In brackets, the slow ones: MUFU (exp2, reciprocal, ...) and F2F (float32/float64 conversions) run
at 16 per clock per SM on an H100, FP64 arithmetic at 64, float32 arithmetic at 128. For scale, on an H100
(float32, 2^28 elements): the exact GELU at 88 forward / 116 backward (10 / 16 slow) ran at 0.72 / 0.82 of the
copy bandwidth, the others, of up to 68 / 73 (2 slow), at 0.87-1.01 (counts before fastact indexed with
unsigned integers, which took 10-16 off each).
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

SLOW = ("MUFU", "F2F", "DADD", "DMUL", "DFMA")


def nvdisasm() -> str:
    try:
        import nvidia.cu13  # the nvidia-cuda-nvdisasm wheel's namespace package

        for root in nvidia.cu13.__path__:
            if os.path.exists(os.path.join(root, "bin", "nvdisasm")):
                return os.path.join(root, "bin", "nvdisasm")
    except ImportError:
        pass
    path = shutil.which("nvdisasm")
    if path is None:
        sys.exit("nvdisasm not found: pip install nvidia-cuda-nvdisasm")
    return path


def loop_opcodes(sass: str) -> collections.Counter:
    """Opcodes of the largest loop: the instructions from a label to the branch back to it."""
    labels, ins = {}, []
    for line in sass.splitlines():
        m = re.match(r"^\s*(\.L_x_\d+):", line)
        if m:
            labels[m.group(1)] = len(ins)
            continue
        m = re.match(r"\s*/\*[0-9a-f]+\*/\s+(?:@!?U?P\w+\s+)?([A-Z0-9_.]+)(.*)", line)
        if m:
            ins.append((m.group(1).split(".")[0], m.group(2)))
    best: list = []
    for i, (op, rest) in enumerate(ins):
        target = re.search(r"\((\.L_x_\d+)\)", rest) if op == "BRA" else None
        if target and labels.get(target.group(1), i + 1) <= i and i + 1 - labels[target.group(1)] > len(best):
            best = ins[labels[target.group(1)]:i + 1]
    return collections.Counter(op for op, _ in best)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="sm_90")
    p.add_argument("--dtype", default="float32", choices=("float16", "float32", "float64"))
    args = p.parse_args(argv)
    tool = nvdisasm()

    from numba import cuda
    from numba.cuda import dispatcher

    import fastact.gpu as G
    from fastact._nvjitlink import link
    from fastact.declarations import REGISTRY
    from fastact.gated import GATED

    cc = tuple(int(c) for c in args.arch[3:])

    class _Device:  # what compiling a device function asks the current GPU
        compute_capability = cc

    if not cuda.is_available():
        dispatcher.get_current_device = lambda: _Device()
    G._numba_cuda()
    jit, ptx = cuda.jit, []

    def capture(sig=None, device=False, **kw):  # cuda.jit for kernels: keep the PTX, launch nothing
        if device or sig is None or callable(sig):
            return jit(sig, device=device, **kw)
        return lambda fn: ptx.append(cuda.compile_ptx(fn, sig.args, cc=cc)[0])

    cuda.jit = capture
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "kernel.cubin")

    def measure(build, per: int, which: int = 0) -> str:
        """Instructions per element (slow ones) of the `which`-th kernel that build() compiles."""
        ptx.clear()
        build()
        with open(path, "wb") as f:
            f.write(link(ptx[which], args.arch, "-O3")[0])
        ops = loop_opcodes(subprocess.run([tool, "-c", path], capture_output=True, text=True, check=True).stdout)
        return f"{sum(ops.values()) / per:6.1f} ({sum(ops[k] for k in SLOW) / per:g})"

    def row(name, cells):
        print(f"{name:26} " + " ".join(f"{c:>14}" for c in cells))

    dt = args.dtype
    print(f"{dt} on {args.arch}: instructions per element in the grid-stride loop (slow ones), for aligned "
          "arrays (4-element vectors) and others (element by element)")
    row("operation", ("forward", "backward", "fwd, others", "bwd, others"))
    for key in REGISTRY:
        row(key, [measure(lambda: G._elementwise_kernel.__wrapped__(key, bw, dt, dt, vector), 4 if vector else G.ITEMS)
                  for vector in (True, False) for bw in (False, True)])
    print("\nbias_act (backward: rows of THREADS·BIAS_SPAN columns or more), gated units and PReLU")
    row("operation", ("forward", "backward", "fwd, others", ""))
    for key in ("relu", "gelu", "gelu_tanh", "silu"):
        wide = G.BIAS_SPAN * G.BIAS_ROWS
        row(f"bias_act {key}", [measure(lambda: G._bias_kernel.__wrapped__(key, False, dt, vector=True), 4),
                                measure(lambda: G._bias_kernel.__wrapped__(key, True, dt, G.BIAS_SPAN, G.BIAS_ROWS),
                                        wide),
                                measure(lambda: G._bias_kernel.__wrapped__(key, False, dt), G.ITEMS), ""])
    for name, (variants, _) in GATED.items():
        for a, b in variants.values():
            row(f"{name} {a}·{b}", [measure(lambda: G._gated_kernel.__wrapped__(a, b, bw, dt), G.ITEMS)
                                    for bw in (False, True)] + ["", ""])
    row("prelu", [measure(lambda: G._prelu_kernels.__wrapped__(dt, dt), G.ITEMS, which) for which in (0, 1)]
        + ["", ""])
    shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
