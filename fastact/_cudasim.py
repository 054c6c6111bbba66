"""Three gaps of Numba's CUDA simulator filled, so that it runs fastact's kernels as a GPU would.

- It has no warp shuffles: `shfl_xor_sync` is built on its block barrier. Every thread of the block must make
  the call, as every fastact kernel does.
- Its `cuda.shared.array` creates a block's array on the first call without a lock, so two threads starting
  together can each get a private array and a block reduction then reads values no thread wrote (seen in CI as
  an inf in PReLU's dweight). The allocation is made under a lock.
- It ignores a kernel's explicit signature and the hardware's launch limits. On a GPU, a launch whose arguments
  do not convert to the signature fails ("No matching definition"), as does a grid taller than 65,535 blocks, a
  block of more than 1,024 threads or more than 48 KiB of dynamic shared memory; here such a launch fails too.
"""
from __future__ import annotations

import sys
import threading

import numpy as np


def patch_simulator() -> None:
    """Fill the gaps once; a no-op unless NUMBA_ENABLE_CUDASIM is set."""
    from numba import config

    if not config.ENABLE_CUDASIM:
        return
    from numba.cuda.simulator import kernelapi

    if hasattr(kernelapi.FakeCUDAModule, "shfl_xor_sync"):
        return

    def shfl_xor_sync(self, mask, value, lane_mask):
        me = threading.current_thread()
        box = me._manager.__dict__.setdefault("_fastact_shuffle", {})
        box[me.thread_id] = value
        me.syncthreads()
        other = box[me.thread_id ^ lane_mask]
        me.syncthreads()
        return other

    lock = threading.Lock()
    dynamic = kernelapi.FakeCUDAShared.array

    def array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:
            return dynamic(self, shape, dtype, alignment)
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)  # one array per source line, as the simulator does
        with lock:
            res = self._allocations.get(key)
            if res is None:
                if isinstance(dtype, kernelapi.types.Type):
                    dtype = kernelapi.numpy_support.as_dtype(dtype)
                res = self._allocations[key] = np.empty(shape, dtype)
        return res

    kernelapi.FakeCUDAModule.shfl_xor_sync = shfl_xor_sync
    kernelapi.FakeCUDAShared.array = array
    _check_launches()


def _check_launches() -> None:
    import numba
    from numba import cuda
    from numba.core.registry import cpu_target
    from numba.core.typing.templates import Signature
    from numba.cuda.simulator import api, kernel

    jit, launch = api.jit, kernel.FakeCUDAKernel.__call__
    can_convert = cpu_target.typing_context.can_convert

    def typed_jit(func_or_sig=None, device=False, **kw):
        made = jit(func_or_sig, device=device, **kw)
        if device or not isinstance(func_or_sig, Signature):
            return made

        def decorate(fn):
            k = made(fn)
            k._fastact_argtypes = func_or_sig.args
            return k

        return decorate

    def checked_launch(self, *args):
        want = getattr(self, "_fastact_argtypes", None)
        if want is not None and not kernel._kernel_context:
            grid, block = kernel.normalize_kernel_dimensions(self.grid_dim, self.block_dim)
            if grid[0] >= 2**31 or max(grid[1:]) > 65535 or block[0] * block[1] * block[2] > 1024 \
                    or self.dynshared_size > 48 * 1024:
                raise ValueError(f"kernel {self.fn.__name__}: launch out of CUDA's limits: grid {grid}, block "
                                 f"{block}, {self.dynshared_size} bytes of dynamic shared memory")
            got = [numba.typeof(a) for a in args]
            if len(got) != len(want) or any(can_convert(g, w) is None for g, w in zip(got, want)):
                raise TypeError(f"kernel {self.fn.__name__}: no matching definition for arguments "
                                f"({', '.join(map(str, got))}); compiled for ({', '.join(map(str, want))})")
        return launch(self, *args)

    api.jit = cuda.jit = typed_jit
    kernel.FakeCUDAKernel.__call__ = checked_launch
