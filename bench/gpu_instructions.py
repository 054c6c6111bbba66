"""Count the machine instructions each GPU elementwise kernel runs per element, without a GPU.

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

    cc = tuple(int(c) for c in args.arch[3:])

    class _Device:  # what compiling a device function asks the current GPU
        compute_capability = cc

    if not cuda.is_available():
        dispatcher.get_current_device = lambda: _Device()
    G._numba_cuda()
    jit, ptx = cuda.jit, {}

    def capture(sig=None, device=False, **kw):  # cuda.jit for kernels: keep the PTX, launch nothing
        if device or sig is None or callable(sig):
            return jit(sig, device=device, **kw)
        return lambda fn: ptx.setdefault("last", cuda.compile_ptx(fn, sig.args, cc=cc)[0])

    cuda.jit = capture
    print(f"{args.dtype} on {args.arch}: instructions per element in the grid-stride loop (slow ones), for aligned "
          "arrays (4-element vectors) and others (element by element)")
    print(f"{'operation':14} {'forward':>14} {'backward':>14} {'fwd, others':>14} {'bwd, others':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kernel.cubin")
        for key in REGISTRY:
            cells = []
            for vector in (True, False):
                for backward in (False, True):
                    G._elementwise_kernel.cache_clear()
                    G._elementwise_kernel(key, backward, args.dtype, args.dtype, vector)
                    with open(path, "wb") as f:
                        f.write(link(ptx.pop("last"), args.arch, "-O3")[0])
                    ops = loop_opcodes(subprocess.run([tool, "-c", path], capture_output=True, text=True,
                                                      check=True).stdout)
                    per = 4 if vector else G.ITEMS
                    cells.append(f"{sum(ops.values()) / per:6.1f} ({sum(ops[k] for k in SLOW) / per:g})")
            print(f"{key:14} " + " ".join(f"{c:>14}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
