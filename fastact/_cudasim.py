"""Two gaps of Numba's CUDA simulator filled, so that it runs fastact's kernels as a GPU would.

- It has no warp shuffles: `shfl_xor_sync` is built on its block barrier. Every thread of the block must make
  the call, as every fastact kernel does.
- Its `cuda.shared.array` creates a block's array on the first call without a lock, so two threads starting
  together can each get a private array and a block reduction then reads values no thread wrote (seen in CI as
  an inf in PReLU's dweight). The allocation is made under a lock.
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
