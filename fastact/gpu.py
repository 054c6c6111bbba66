"""CUDA backend (numba-cuda): kernels for every operation, from the same declarations as the CPU kernels.

Arrays exposing ``__cuda_array_interface__`` (Numba device arrays, CuPy, PyTorch CUDA tensors) and the CUDA
simulator's arrays run here without a host copy; the result is the same kind of array as the input, and kernels
are launched on the stream the input's producer named. NumPy inputs with ``device="cuda"`` are copied to the GPU
and the result copied back. float16 is computed in float32.

Kernels are compiled once per (operation, dtypes) for an explicit signature, so a launch does not pay for type
resolution. Elementwise kernels use grid-stride loops with ITEMS independent elements per thread.
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from . import _arrays as A
from . import gpu_vector
from ._cudasim import patch_simulator
from .declarations import REGISTRY
from .gpu_math import device_function

THREADS = 256
ITEMS = 4  # independent elements per thread and grid-stride step (a vector's 4 in the vector kernels)
_MAX_BLOCKS = 2**31 - 1  # CUDA's limit on grid x. Capping it at 65,535 (each thread then loops) ran 2-10% slower
# on an H100 at 2^28 elements


cuda = None  # numba.cuda once loaded: kernels name it as a global, which the CUDA simulator relies on


def _numba_cuda():
    """numba.cuda, or a clear error when numba-cuda is missing."""
    global cuda
    if cuda is None:
        try:
            from numba import cuda as module
        except ImportError:  # pragma: no cover - depends on the environment
            raise RuntimeError("fastact's GPU path needs numba-cuda: pip install 'fastact[cuda]'") from None
        patch_simulator()
        cuda = module
    return cuda


def status() -> tuple[bool, str]:
    """(usable, one line saying why) for `fastact info`."""
    try:
        c = _numba_cuda()
    except RuntimeError as e:
        return False, str(e)
    from numba import config

    if config.ENABLE_CUDASIM:
        return True, "CUDA simulator (NUMBA_ENABLE_CUDASIM=1): kernels run on the CPU, slowly, for testing"
    try:
        if not c.is_available():
            return False, "numba-cuda is installed but no usable GPU/driver was found"
        dev = c.get_current_device()
        name = dev.name.decode() if isinstance(dev.name, bytes) else dev.name
        name = f"GPU {name} (compute capability {dev.compute_capability[0]}.{dev.compute_capability[1]})"
        from numba.cuda.cudadrv import nvvm

        if not nvvm.is_available():
            return False, f"{name}, but not the CUDA compiler (libNVVM): pip install 'fastact[cuda]'"
        try:  # what the first kernel compile imports; numba-cuda 0.30 fails here on NumPy 2.5 (no np.row_stack)
            import importlib

            importlib.import_module("numba.cuda.np.arrayobj")
        except AttributeError as e:
            return False, f"{name}, but numba-cuda does not work with NumPy {np.__version__} ({e}): " \
                          f"pip install 'numpy<2.5'"
        return True, name
    except Exception as e:  # pragma: no cover - driver specific
        return False, f"numba-cuda could not use the GPU: {e}"


_USABLE: list = []


def _require_gpu():
    """A clear RuntimeError when the GPU path was asked for and cannot run (checked once per process)."""
    if not _USABLE:
        _USABLE.append(status())
    ok, why = _USABLE[0]
    if not ok:
        raise RuntimeError(f"device='cuda' (or a GPU array) needs a usable GPU: {why}")


# ---------------------------------------------------------------------------------------------------- arrays
_KINDS: dict = {np.ndarray: "host"}  # type -> kind, for the types whose every instance is of one kind


def _kind(a) -> str:
    """"host", "numba" (Numba's and the simulator's device arrays, or any other interface), "cupy" or "torch"."""
    t = type(a)
    kind = _KINDS.get(t)
    if kind is not None:
        return kind
    if not A.is_device_array(a):
        return "host"
    mod = t.__module__.split(".")[0]
    kind = mod if mod in ("cupy", "torch") else "numba"
    if kind != "torch" and (hasattr(t, "__cuda_array_interface__") or t.__name__ == "FakeCUDAArray"):
        _KINDS[t] = kind  # every instance lives on a GPU (a torch.Tensor may not)
    return kind


_NAMES = {np.dtype(t): np.dtype(t).name for t in (np.float16, np.float32, np.float64, np.bool_)}


def _name(dt) -> str:
    """The dtype's name (a key of the kernel caches), without numpy's slow str(dtype)."""
    return _NAMES.get(dt) or np.dtype(dt).name


_CORE_STREAMS: dict = {}  # id of a numba Stream -> (that Stream, cuda.core's Stream for it)
_STREAMS: dict = {}  # the stream pointer of an array interface -> numba Stream (made once: each costs µs)


def _stream(arrays):
    """The stream named by the first device array's interface (CAI v3), else the default stream."""
    ptr = None
    for a in arrays:
        kind = _kind(a)
        if kind == "numba":  # the stream it is bound to (its interface would name the same)
            bound = getattr(a, "stream", 0)
            if bound:
                return bound
            break
        if kind != "host":
            ptr = a.__cuda_array_interface__.get("stream")
            break
    ptr = 0 if ptr is None else ptr
    s = _STREAMS.get(ptr)
    if s is None:
        c = _numba_cuda()
        s = {0: c.default_stream, 1: c.legacy_default_stream, 2: c.per_thread_default_stream}.get(
            ptr, lambda: c.external_stream(ptr))()
        _STREAMS[ptr] = s
    return s


class Call:
    """The device arrays of one call: inputs uploaded (host) or viewed in place (device), outputs allocated,
    and results handed back as the kind of array the caller gave."""

    def __init__(self, *arrays):
        _require_gpu()
        present = [a for a in arrays if a is not None]
        self.kind = _kind(present[0]) if present else "host"
        self.stream = _stream(present)
        self.owner = present[0] if self.kind in ("cupy", "torch") else None
        self._core = None

    def core_stream(self):
        """The stream as cuda.core's Stream (what its launch takes), made once per stream."""
        if self._core is None:
            hit = _CORE_STREAMS.get(id(self.stream))
            if hit is None or hit[0] is not self.stream:
                from numba.cuda.cudadrv.driver import _to_core_stream

                if len(_CORE_STREAMS) > 64:  # streams made and dropped by the caller: keep none alive for long
                    _CORE_STREAMS.clear()
                hit = _CORE_STREAMS[id(self.stream)] = (self.stream, _to_core_stream(self.stream))
            self._core = hit[1]
        return self._core

    def device(self, a, name: str, dtype=None):
        """a as a C-contiguous device array (dtype: the compute dtype to convert host data to)."""
        c = _numba_cuda()
        if _kind(a) == "host":
            h = A.as_array(a, name)
            if dtype is None and h.dtype not in (np.float16, np.float32, np.float64):
                dtype = A.compute_dtype(h.dtype, name)  # integers and bool: float64, as on the CPU
            h = np.ascontiguousarray(h, dtype=dtype)
            if h.strides != _c_strides(h.shape, h.itemsize):  # a broadcast length-1 axis (stride 0)
                h = h.copy()
            return c.to_device(h, stream=self.stream)
        d = a if _kind(a) == "numba" else _View(a)
        if not _contiguous(d):
            raise ValueError(f"{name} is a non-contiguous GPU array; make it contiguous first")
        return d

    def empty(self, shape, dtype):
        """A new device array. With CuPy or PyTorch input it comes from that library's caching allocator (on the
        input's device), so a call pays no cudaMalloc/cudaFree, and the result is that library's own array."""
        c = _numba_cuda()
        if self.owner is None:
            return c.device_array(shape, dtype=dtype, stream=self.stream)
        if self.kind == "cupy":
            import cupy

            with self.owner.device:
                made = cupy.empty(shape, dtype=dtype)
        else:
            import torch

            made = torch.empty(shape, dtype=getattr(torch, np.dtype(dtype).name), device=self.owner.device)
        return _View(made)

    def result(self, d, out=None):
        """d handed back: into `out` if given, else as the caller's kind of array."""
        if out is not None:
            if _kind(out) == "host":
                d.copy_to_host(out, stream=self.stream)
                self.stream.synchronize()
            return out
        if self.kind == "host":
            h = d.copy_to_host(stream=self.stream)
            self.stream.synchronize()
            return h
        if isinstance(d, _View):
            return d.obj
        if self.kind == "cupy":
            import cupy

            return cupy.asarray(d)
        if self.kind == "torch":
            import torch

            return torch.as_tensor(d, device="cuda")
        return d


class _View:
    """A CuPy array or PyTorch tensor seen through its __cuda_array_interface__: what a launch needs (pointer,
    shape, strides, dtype) without a Numba device array built per call (tens of µs each). Anything else is
    asked of a Numba array made from it on first use."""

    __slots__ = ("obj", "shape", "strides", "dtype", "size", "ndim", "ptr", "_numba")

    def __init__(self, obj):
        cai = obj.__cuda_array_interface__
        self.obj, self._numba = obj, None
        self.shape = tuple(cai["shape"])
        self.dtype = np.dtype(cai["typestr"])
        self.ndim, self.size = len(self.shape), math.prod(self.shape)
        strides = cai.get("strides")
        self.strides = _c_strides(self.shape, self.dtype.itemsize) if strides is None else tuple(strides)
        self.ptr = cai["data"][0] or 0

    @property
    def device_ctypes_pointer(self):
        import ctypes

        return ctypes.c_void_p(self.ptr)

    def __getattr__(self, name):
        if self._numba is None:
            self._numba = _numba_cuda().as_cuda_array(self.obj, sync=False)
        return getattr(self._numba, name)


def _c_strides(shape, itemsize: int) -> tuple:
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def _contiguous(d) -> bool:
    if d.ndim == 0:
        return True
    expected = d.dtype.itemsize
    for n, s in zip(reversed(d.shape), reversed(d.strides)):
        if n > 1 and s != expected:
            return False
        expected *= n
    return True


@lru_cache(maxsize=256)
def _dtypes(*dts) -> tuple[np.dtype, np.dtype]:
    """(compute dtype, result dtype) as on the CPU: float16 computes in float32 and comes back as float16."""
    work = np.result_type(*(A.compute_dtype(np.dtype(d), "x") for d in dts))
    final = np.dtype(np.float16) if all(np.dtype(d) == np.float16 for d in dts) else work
    return work, final


def _check_out(out, shape, dtype):
    if out is None:
        return
    if _kind(out) == "host":
        A.check_out(out, shape, dtype)
        return
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"out has shape {tuple(out.shape)}, expected {tuple(shape)}")
    dt = out.dtype
    if (dt if isinstance(dt, np.dtype) else np.dtype(str(dt).replace("torch.", ""))) != dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {dtype}")


def _out_device(call: Call, out, shape, dtype):
    """Where a kernel writes: out itself when it is a device array, else a new device array."""
    if out is not None and _kind(out) != "host":
        return call.device(out, "out")
    return call.empty(shape, dtype)


def _grid(n: int) -> int:
    return max(1, min(_MAX_BLOCKS, -(-n // (THREADS * ITEMS))))


def _nbtype(dt):
    from numba import types

    return {np.dtype(np.float16): types.float16, np.dtype(np.float32): types.float32,
            np.dtype(np.float64): types.float64}[np.dtype(dt)]


def _compile(source: str, names: dict, kernel: str, sig):
    """exec a kernel template and compile `kernel` for the signature `sig`."""
    c = _numba_cuda()
    from numba import types

    g = {"cuda": c, "np": np, "U": types.uint64, **names}
    exec(compile(source, f"<fastact.gpu {kernel}>", "exec"), g)
    return c.jit(sig)(g[kernel]) if sig is not None else c.jit(g[kernel])


def _arr(dt, ndim=1):
    t = _nbtype(dt)
    return t[::1] if ndim == 1 else t[:, ::1]


# ---------------------------------------------------------------------------------------------------- launches
# Numba's launch path (`kernel[grid, block, stream](...)`) resolves the arguments' types, wraps each array and
# converts the stream on every call: hundreds of µs on tiny arrays. On a GPU fastact packs the arguments of its
# explicitly typed kernels itself and launches the compiled function through cuda.core; the CUDA simulator (and
# its launch checks, fastact._cudasim) keeps Numba's path.
_SIMULATED: list = []


def _simulated() -> bool:
    if not _SIMULATED:
        from numba import config

        _SIMULATED.append(bool(config.ENABLE_CUDASIM))  # fixed once numba is imported
    return _SIMULATED[0]


class Flat:
    """A C-contiguous device array seen as 1-D, the form of a kernel's `T[::1]` argument."""

    __slots__ = ("ptr", "size", "itemsize")

    def __init__(self, ptr: int, size: int, itemsize: int):
        self.ptr, self.size, self.itemsize = ptr, size, itemsize


def flat(d):
    """d (C-contiguous) as a 1-D kernel argument, without building a new device array on a GPU."""
    if _simulated():
        return d.reshape(d.size)
    return Flat(d.device_ctypes_pointer.value or 0, d.size, d.dtype.itemsize)


_ITEM_DTYPES = {2: np.dtype(np.float16), 4: np.dtype(np.float32), 8: np.dtype(np.float64)}


def _dtype_of(f) -> np.dtype:
    """The float dtype of a flat kernel argument (a Flat knows only its item size)."""
    return _ITEM_DTYPES[f.itemsize] if type(f) is Flat else np.dtype(f.dtype)


def _address(f) -> int:
    """Where a flat kernel argument's data starts (under the simulator, in host memory)."""
    return f.ptr if type(f) is Flat else f._ary.ctypes.data


def _packer(t):
    """How an argument of Numba type t goes into the kernel's parameter list (as Numba's _prepare_args does)."""
    import ctypes

    from numba import types

    if isinstance(t, types.Array):
        from numba.np.numpy_support import as_dtype

        item, ndim = as_dtype(t.dtype).itemsize, t.ndim

        def array(v, out):
            if isinstance(v, Flat):
                if v.itemsize != item or ndim != 1:
                    raise TypeError(f"kernel argument of {v.itemsize}-byte items for {t}")
                out += (0, 0, v.size, item, v.ptr, v.size, item)
                return
            if v.dtype.itemsize != item or v.ndim != ndim:
                raise TypeError(f"kernel argument {v.dtype}[{v.ndim}-d] for {t}")
            out += (0, 0, v.size, item, v.device_ctypes_pointer.value or 0, *v.shape, *v.strides)
        return array
    if t == types.float16:
        return lambda v, out: out.append(ctypes.c_uint16(int(np.float16(v).view(np.uint16))))
    if t == types.boolean:
        return lambda v, out: out.append(bool(v))
    convert = {types.float32: ctypes.c_float, types.float64: ctypes.c_double, types.int64: ctypes.c_int64,
               types.int32: ctypes.c_int32}[t]
    return lambda v, out: out.append(convert(v))


_LAUNCHERS: dict = {}  # kernel -> the packers of its parameters


@lru_cache(maxsize=1024)
def _config(grid, block, shared: int):
    from cuda.core import LaunchConfig

    return LaunchConfig(grid=grid, block=block, shmem_size=shared)


def launch(kernel, grid, block, call: "Call", *args, shared: int = 0) -> None:
    """kernel[grid, block, call's stream, shared](*args), for a kernel compiled for one explicit signature."""
    if _simulated():
        kernel[grid, block, call.stream, shared](*args)
        return
    packers = _LAUNCHERS.get(kernel)
    if packers is None:
        (argtypes, _), = kernel.overloads.items()
        packers = _LAUNCHERS[kernel] = [_packer(t) for t in argtypes]
    params: list = []
    for pack, v in zip(packers, args, strict=True):
        pack(v, params)
    from cuda.core import launch as core_launch

    core_launch(call.core_stream(), _config(grid, block, shared), _cufunc(kernel).kernel, *params)


_CUFUNCS: dict = {}  # (kernel, CUDA context) -> Numba's function object for the kernel in that context


def _context_key():
    """The current CUDA context (a key of per-context caches), or None."""
    if _simulated():
        return "simulator"
    from cuda.bindings import driver

    err, ctx = driver.cuCtxGetCurrent()
    return int(ctx) if err == driver.CUresult.CUDA_SUCCESS and int(ctx) else None


def _cufunc(kernel):
    """Numba's function object for a kernel compiled for one signature, in the current context: Numba finds it
    through its context stack (7 µs a launch on an H100 host); the driver's current context is a cheaper key."""
    key = (kernel, _context_key())
    fn = _CUFUNCS.get(key)
    if fn is None:
        (_, compiled), = kernel.overloads.items()
        fn = compiled._codelibrary.get_cufunc()
        if key[1] is not None:
            _CUFUNCS[key] = fn
    return fn


SHARED_DEFAULT = 48 * 1024  # dynamic shared memory a block may take without opting in
_SHARED: dict = {}  # device id -> (bytes a block may opt in to, bytes an SM has, bytes reserved a block)
_OPTED: dict = {}  # (kernel, device id) -> the dynamic shared memory it was allowed


def shared_room(kernel, blocks: int):
    """Bytes of dynamic shared memory `kernel` may take with `blocks` blocks on an SM, after opting in (its static
    shared memory and the driver's reservation taken off); None under the simulator or where the driver does not
    say."""
    if _simulated():
        return None
    fn = _cufunc(kernel)
    limits = _SHARED.get(fn.device.id)
    if limits is None:
        dev = fn.device
        try:
            limits = (dev.MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev.MAX_SHARED_MEMORY_PER_MULTIPROCESSOR,
                      dev.RESERVED_SHARED_MEMORY_PER_BLOCK)
        except Exception:  # noqa: BLE001 - a driver without these attributes: no opting in
            limits = ()
        _SHARED[fn.device.id] = limits
    if not limits:
        return None
    per_block, per_sm, reserved = limits
    return max(0, min(per_block, per_sm // blocks - reserved) - fn.attrs.shared)


def allow_shared(kernel, nbytes: int) -> bool:
    """Let `kernel` take `nbytes` of dynamic shared memory: past SHARED_DEFAULT a kernel must opt in, and it asks
    for all of an SM's L1 as shared memory, so that as many blocks fit as shared_room counted on (once per kernel,
    device and size). False if the driver refused."""
    if _simulated() or nbytes <= SHARED_DEFAULT:
        return True
    fn = _cufunc(kernel)
    key = (kernel, fn.device.id)
    if _OPTED.get(key, 0) >= nbytes:
        return True
    from cuda.bindings import driver

    attr = driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    try:
        err, = driver.cuKernelSetAttribute(attr, nbytes, fn.handle, fn.device.id)
        if err != driver.CUresult.CUDA_SUCCESS:
            return False  # the caller falls back to what needs no opting in
        fn.set_shared_memory_carveout(100)
    except Exception:  # noqa: BLE001 - as above
        return False
    _OPTED[key] = nbytes
    return True


# ---------------------------------------------------------------------------------------------------- elementwise
def _unrolled(name: str, args: str, setup: str, loads: str, stores: str) -> str:
    """A grid-stride kernel taking ITEMS elements a stride apart per step: all their loads first, then the
    stores (the compiler may not move a load above a store to another array that might alias it, so written
    element by element each thread would have one load in flight), then one element at a time for the tail.
    In `loads`/`stores` (one line per element, indented 8) {k} is the element and i{k} its index. Indices are
    unsigned (U, uint64: Numba wraps negative signed indices, 4 instructions an access); `setup` defines the
    element count n as one, and any state that `loads` advance element by element."""
    k = range(ITEMS)
    body = "".join(f"        i{j} = i0 + U({j}) * stride\n" for j in k[1:])
    body += "".join(loads.format(k=j) for j in k) + "".join(stores.format(k=j) for j in k)
    tail = loads.format(k=0) + stores.format(k=0)
    return (f"def {name}({args}):\n    stride = U(cuda.gridsize(1))\n    i0 = U(cuda.grid(1))\n{setup}"
            f"    while i0 + U({ITEMS - 1}) * stride < n:\n{body}        i0 += U({ITEMS}) * stride\n"
            f"    while i0 < n:\n{tail}        i0 += stride\n")


_ELEMENTWISE = {
    "forward": ("x, y{p}", "    n = U(x.size)\n", "        a{k} = C(x[i{k}])\n", "        y[i{k}] = f(a{k}{p})\n"),
    "backward": ("g, x, y{p}", "    n = U(x.size)\n", "        g{k} = C(g[i{k}])\n        a{k} = C(x[i{k}])\n",
                 "        y[i{k}] = g{k} * d(a{k}{p})\n"),
}


def _params_src(decl, prefix="") -> str:
    return "".join(f", {prefix}{name}" for name, _ in decl.params)


# The same over 4-element vectors (gpu_vector; a thread's 4 adjacent elements in one 16-byte access for float32),
# for arrays whose data is aligned to 4 items: (args, setup, loads, value of item {j}, value of element i)
_VECTOR = {
    "forward": ("x, y{p}", "", "        x0, x1, x2, x3 = load4(x, v)\n", "O(f(C(x{j}){p}))", "O(f(C(x[i]){p}))"),
    "backward": ("g, x, y{p}", "", "        g0, g1, g2, g3 = load4(g, v)\n        x0, x1, x2, x3 = load4(x, v)\n",
                 "O(C(g{j}) * d(C(x{j}){p}))", "O(C(g[i]) * d(C(x[i]){p}))"),
}


def _vector_source(name: str, args: str, setup: str, loads: str, value: str, last: str) -> str:
    """A grid-stride kernel over the 4-element vectors v of y (and of its inputs), then the last n % 4 elements
    one per thread. `loads` (indented 8) loads vector v and advances any state `setup` made."""
    stores = ", ".join(value.replace("{j}", str(j)) for j in range(4))
    return (f"def {name}({args}):\n    stride = U(cuda.gridsize(1))\n    v = U(cuda.grid(1))\n    n = U(y.size)\n"
            f"    nv = n // U(4)\n{setup}    while v < nv:\n{loads}        store4(y, v, {stores})\n        v += stride\n"
            f"    i = nv * U(4) + U(cuda.grid(1))\n    if i < n:\n        y[i] = {last}\n")


@lru_cache(maxsize=None)
def _elementwise_kernel(key: str, backward: bool, dt_in: str, dt_out: str, vector: bool = False):
    """The elementwise kernel; `vector`: over 4-element vectors, for arrays whose data is aligned to 4 items."""
    from numba import types

    decl = REGISTRY[key]
    work = _dtypes(dt_in)[0]
    kernel = "backward" if backward else "forward"
    p = _params_src(decl)
    names = {"f": device_function(decl.forward_py), "d": device_function(decl.derivative_py), "C": work.type}
    if vector:
        gpu_vector.register_cuda()
        src = _vector_source(kernel, *(part.replace("{p}", p) for part in _VECTOR[kernel]))
        names.update(load4=gpu_vector.load4, store4=gpu_vector.store4, O=np.dtype(dt_out).type)
    else:
        src = _unrolled(kernel, *(part.replace("{p}", p) for part in _ELEMENTWISE[kernel]))
    ps = [_nbtype(work)] * len(decl.params)
    arrays = [_arr(dt_in)] * (2 if backward else 1) + [_arr(dt_out)]
    return _compile(src, names, kernel, types.void(*arrays, *ps))


def _vectorizable(arrays) -> bool:
    """Whether every flat array's data is aligned for 4-element vector access."""
    for a in arrays:
        if not gpu_vector.aligned(_address(a), a.itemsize):
            return False
    return True


def _elementwise_launch(key: str, backward: bool, call: "Call", arrays: tuple, values=()) -> None:
    """One elementwise kernel over flat arrays (inputs, then the result): over 4-element vectors where every
    array's data allows it."""
    n = arrays[-1].size
    vector = _vectorizable(arrays)
    k = _elementwise_kernel(key, backward, _name(_dtype_of(arrays[0])), _name(_dtype_of(arrays[-1])), vector)
    launch(k, _grid(n), THREADS, call, *arrays, *values)  # ITEMS elements a thread, as 4 in a vector


def elementwise_forward(decl, x, out, values):
    call = Call(x, out)
    d = call.device(x, "x")
    work, final = _dtypes(d.dtype)
    d = _as_work(call, d, work)
    _check_out(out, tuple(d.shape), final)
    y = _out_device(call, out, tuple(d.shape), final)
    if d.size:
        _elementwise_launch(decl.key, False, call, (flat(d), flat(y)), tuple(work.type(v) for v in values))
    return call.result(y, out)


def elementwise_backward(decl, grad, x, out, values):
    call = Call(grad, x, out)
    dx_, dg, work, final = _with_grad(call, grad, x)
    _check_out(out, tuple(dx_.shape), final)
    y = _out_device(call, out, tuple(dx_.shape), final)
    if dx_.size:
        _elementwise_launch(decl.key, True, call, (flat(dg), flat(dx_), flat(y)), tuple(work.type(v) for v in values))
    return call.result(y, out)


def _as_work(call: Call, d, work, half_ok=True):
    """d in the compute dtype, converted on the device if needed. half_ok: float16 may stay (kernels compiled for
    it read it as float32)."""
    if d.dtype == work or (half_ok and d.dtype == np.float16):
        return d
    if d.dtype not in (np.float16, np.float32, np.float64):
        raise TypeError(f"GPU arrays must be float16, float32 or float64, got {d.dtype}")
    out = call.empty(tuple(d.shape), work)
    if d.size:
        _elementwise_launch("identity", False, call, (flat(d), flat(out)))
    return out


def _with_grad(call: Call, grad, x, name="x", grad_shape=None, half_ok=True):
    """(x, grad, compute dtype, result dtype) on the device, grad checked against grad_shape (default x's)."""
    d, g = call.device(x, name), call.device(grad, "grad")
    want = tuple(d.shape) if grad_shape is None else grad_shape(tuple(d.shape))
    if tuple(g.shape) != want:
        raise ValueError(f"grad has shape {tuple(g.shape)} but {name} has shape {tuple(d.shape)}; "
                         f"grad must have shape {want}")
    work, final = _dtypes(d.dtype, g.dtype)
    half_ok = half_ok and d.dtype == g.dtype  # a kernel reads float16 only where both are
    return _as_work(call, d, work, half_ok), _as_work(call, g, work, half_ok), work, final


# ---------------------------------------------------------------------------------------------------- bias + act
# forward: the column c of element i0 is tracked as i0 advances (one modulo per thread, not one per element)
_BIAS_FORWARD = ("x, bias, y, cols{p}",
                 "    n = U(x.size)\n    ucols = U(cols)\n    c = i0 % ucols\n    step = stride % ucols\n",
                 "        a{k} = C(x[i{k}]) + C(bias[c])\n"
                 "        c += step\n        c = c - ucols if c >= ucols else c\n",
                 "        y[i{k}] = f(a{k}{p})\n")

# the same over 4-element vectors (_vector_source), for rows of a multiple of 4 columns and data aligned to 4 items:
# a vector lies in one row, c is its column's vector (no element is left over for the last part)
_BIAS_VECTOR = ("x, bias, y, cols{p}", "    ucv = U(cols) // U(4)\n    c = v % ucv\n    step = stride % ucv\n",
                "        x0, x1, x2, x3 = load4(x, v)\n        b0, b1, b2, b3 = load4(bias, c)\n"
                "        c += step\n        c = c - ucv if c >= ucv else c\n",
                "O(f(C(x{j}) + C(b{j}){p}))", "O(f(C(x[i]) + C(bias[i % U(cols)]){p}))")

_BIAS_BACKWARD = '''
def backward(g, x, bias, dx, partial, rows, n, rows_per_chunk{p}):
    # block (32, 8) covers 32 columns of one chunk of rows; partial[chunk, col] in float64, fixed order
    sm = cuda.shared.array((8, 32), np.float64)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    col = cuda.blockIdx.x * 32 + tx
    chunk = cuda.blockIdx.y
    acc = 0.0
    if col < n:
        b = C(bias[col])
        r = chunk * rows_per_chunk + ty
        end = min(rows, chunk * rows_per_chunk + rows_per_chunk)
        while r + 24 < end:  # rows r, r + 8, r + 16, r + 24: the loads first
            i0 = r * n + col
            i1 = i0 + 8 * n
            i2 = i1 + 8 * n
            i3 = i2 + 8 * n
            g0, x0, g1, x1 = C(g[i0]), C(x[i0]), C(g[i1]), C(x[i1])
            g2, x2, g3, x3 = C(g[i2]), C(x[i2]), C(g[i3]), C(x[i3])
            v0, v1 = O(g0 * d(x0 + b{p})), O(g1 * d(x1 + b{p}))
            v2, v3 = O(g2 * d(x2 + b{p})), O(g3 * d(x3 + b{p}))
            dx[i0], dx[i1], dx[i2], dx[i3] = v0, v1, v2, v3
            acc += np.float64(v0)  # dbias sums dx as stored, in row order
            acc += np.float64(v1)
            acc += np.float64(v2)
            acc += np.float64(v3)
            r += 32
        while r < end:
            i = r * n + col
            v = O(C(g[i]) * d(C(x[i]) + b{p}))
            dx[i] = v
            acc += np.float64(v)
            r += 8
    sm[ty, tx] = acc
    cuda.syncthreads()
    if ty == 0 and col < n:
        s = sm[0, tx]
        for k in range(1, 8):
            s += sm[k, tx]
        partial[chunk, col] = s
'''


_BIAS_BACKWARD_WIDE = '''
def backward(g, x, bias, dx, partial, rows, n, rows_per_chunk{p}):
    # a block takes THREADS·{k} adjacent columns (thread t: t, t + THREADS, ...) of one chunk of rows, so each
    # row's span is read contiguously; partial[chunk, col] sums the column's dx as stored, in row order
    un = U(n)
    c0 = U(cuda.blockIdx.x) * U(THREADS * {k}) + U(cuda.threadIdx.x)
    chunk = U(cuda.blockIdx.y)
    r = chunk * U(rows_per_chunk)
    end = min(U(rows), r + U(rows_per_chunk))
    acc = cuda.local.array({k}, np.float64)
    b = cuda.local.array({k}, C)
    for q in range({k}):
        acc[q] = 0.0
        b[q] = C(bias[min(c0 + U(q * THREADS), un - U(1))])
    gv = cuda.local.array({r} * {k}, C)
    xv = cuda.local.array({r} * {k}, C)
    if c0 + U(({k} - 1) * THREADS) < un:  # all the thread's columns: unconditional loads, {r} rows at a time
        while r + U({r} - 1) < end:
            for h in range({r}):
                i = (r + U(h)) * un + c0
                for q in range({k}):
                    gv[h * {k} + q], xv[h * {k} + q] = C(g[i + U(q * THREADS)]), C(x[i + U(q * THREADS)])
            for h in range({r}):
                i = (r + U(h)) * un + c0
                for q in range({k}):
                    v = O(gv[h * {k} + q] * d(xv[h * {k} + q] + b[q]{p}))
                    dx[i + U(q * THREADS)] = v
                    acc[q] += np.float64(v)
            r += U({r})
    while r < end:
        for q in range({k}):
            c = c0 + U(q * THREADS)
            if c < un:
                i = r * un + c
                v = O(C(g[i]) * d(C(x[i]) + b[q]{p}))
                dx[i] = v
                acc[q] += np.float64(v)
        r += U(1)
    for q in range({k}):
        if c0 + U(q * THREADS) < un:
            partial[chunk, c0 + U(q * THREADS)] = acc[q]
'''
BIAS_SPAN = 4  # columns a thread takes in the wide dbias kernel (rows of at least THREADS·BIAS_SPAN columns) ...
BIAS_ROWS = 2  # ... and rows it loads at a time


@lru_cache(maxsize=None)
def _bias_kernel(key: str, backward: bool, dt: str, span: int = 0, rows: int = 1, vector: bool = False):
    """The fused bias kernels; the backward's `span` columns a thread in the wide layout (0: the (32, 8) blocks),
    `rows` rows loaded at a time; the forward over 4-element vectors if `vector`."""
    from numba import types

    decl = REGISTRY[key]
    work = _dtypes(dt)[0]
    p = _params_src(decl)
    if backward:
        wide = _BIAS_BACKWARD_WIDE.replace("{k}", str(span)).replace("{r}", str(rows))
        src = (wide if span else _BIAS_BACKWARD).replace("{p}", p)
    elif vector:
        gpu_vector.register_cuda()
        src = _vector_source("forward", *(part.replace("{p}", p) for part in _BIAS_VECTOR))
    else:
        src = _unrolled("forward", *(part.replace("{p}", p) for part in _BIAS_FORWARD))
    names = {"f": device_function(decl.forward_py), "d": device_function(decl.derivative_py), "C": work.type,
             "O": np.dtype(dt).type, "THREADS": THREADS, "load4": gpu_vector.load4, "store4": gpu_vector.store4}
    ps = [_nbtype(work)] * len(decl.params)
    a = _arr(dt)
    if backward:
        sig = types.void(a, a, _arr(work), a, types.float64[:, ::1], types.int64, types.int64, types.int64, *ps)
    else:
        sig = types.void(a, _arr(work), a, types.int64, *ps)
    return _compile(src, names, "backward" if backward else "forward", sig)


def _bias_of(call, bias, d, work):
    """bias on the device in the compute dtype, checked against x's last axis."""
    if d.ndim == 0:
        raise ValueError("x must have at least one dimension (bias runs along its last axis)")
    n = tuple(d.shape)[-1]
    b = call.device(bias, "bias", dtype=work)
    if tuple(b.shape) != (n,):
        raise ValueError(f"bias must have shape ({n},) (x.shape[-1]), got {tuple(b.shape)}")
    return _as_work(call, b, work, half_ok=False)


def bias_act_forward(decl, x, bias, out, values):
    call = Call(x, bias, out)
    d = call.device(x, "x")
    work, final = _dtypes(d.dtype)
    d = _as_work(call, d, work)
    b = _bias_of(call, bias, d, work)
    _check_out(out, tuple(d.shape), final)
    y = _out_device(call, out, tuple(d.shape), final)
    total, cols = d.size, tuple(d.shape)[-1]
    if total:
        arrays = (flat(d), flat(b), flat(y))
        vector = cols % 4 == 0 and _vectorizable(arrays)
        k = _bias_kernel(decl.key, False, _name(d.dtype), vector=vector)
        launch(k, _grid(total), THREADS, call, *arrays, cols, *(work.type(v) for v in values))
    return call.result(y, out)


_SCRATCH: dict = {}  # CUDA context -> the float64 partial sums' buffer of the legacy default stream
_SCRATCH_LOCK = threading.Lock()


def _legacy_stream(stream) -> bool:
    """Whether `stream` is the legacy default stream, which every call on it, from any thread, shares in order."""
    from numba.cuda.core import config

    legacy = _STREAMS.get(1) if config.CUDA_PER_THREAD_DEFAULT_STREAM else _STREAMS.get(0)
    return legacy is not None and stream is legacy


@contextmanager
def partials(call: Call, shape: tuple):
    """A float64 device array of `shape` for the partial sums that the kernels launched inside the block write and
    read. On the legacy default stream (Numba arrays) one buffer per context is kept and grown: a Numba
    allocation costs tens of µs (cuMemAlloc), the stream runs calls in order and the lock keeps one call's
    kernels together on it. Elsewhere (other streams, CuPy or PyTorch pools), a new array each call."""
    key = _context_key() if call.owner is None and _legacy_stream(call.stream) else None
    if key is None:
        yield call.empty(shape, np.float64)
        return
    size = math.prod(shape)
    with _SCRATCH_LOCK:
        buf = _SCRATCH.get(key)
        if buf is None or buf.size < size:
            buf = _SCRATCH[key] = call.empty((max(size, 1),), np.float64)
        yield buf[:size].reshape(shape)


ROWS_PER_CHUNK = 256  # rows summed by one block into one partial of dbias (more where the grid would be too tall)
_MAX_GRID_Y = 65535  # CUDA's limit on a grid's y and z dimensions


def _chunks(count: int, per: int) -> tuple[int, int]:
    """(items per chunk, chunks) for `count` items cut in chunks of at least `per`, at most _MAX_GRID_Y chunks
    (one grid row each). A function of the shape only, so the order of the partial sums is too."""
    per = max(per, -(-count // _MAX_GRID_Y))
    return per, max(1, -(-count // per))


def bias_act_backward(decl, grad, x, bias, out, values):
    call = Call(grad, x, bias, out)
    d, g, work, final = _with_grad(call, grad, x)
    b = _bias_of(call, bias, d, work)
    _check_out(out, tuple(d.shape), final)
    dx = _out_device(call, out, tuple(d.shape), final)
    n = tuple(d.shape)[-1]
    rows = d.size // n if n else 0
    if not d.size:  # no rows: dbias is 0
        return call.result(dx, out), call.result(call.device(np.zeros(n, final), "bias"))
    per_chunk, chunks = _chunks(rows, ROWS_PER_CHUNK)
    dbias = call.empty((n,), final)
    span = BIAS_SPAN if n >= THREADS * BIAS_SPAN else 0
    k = _bias_kernel(decl.key, True, _name(d.dtype), span, BIAS_ROWS if span else 1)
    grid, block = ((-(-n // (THREADS * span)), chunks), THREADS) if span else ((-(-n // 32), chunks), (32, 8))
    with partials(call, (chunks, n)) as partial:
        launch(k, grid, block, call, flat(g), flat(d), b, flat(dx), partial, rows, n, per_chunk,
               *(work.type(v) for v in values))
        _sum_columns(call, partial, dbias)
    return call.result(dx, out), call.result(dbias)


COLUMN_LANES = 32  # the second stage's blocks: 32 columns × up to 32 lanes, each lane summing every 32nd partial


@lru_cache(maxsize=None)
def _column_sum(dt_out: str):
    """out[c] = Σ_k partial[k, c], the deterministic second stage of dbias and dweight: in a block of 32 columns ×
    `lanes` (blockDim.y, a power of two), lane l sums partials l, l + lanes, ... in order, then the lanes are
    added in a fixed tree. The order depends on the number of partials only (through `lanes`)."""
    from numba import types

    _numba_cuda()

    bounds = {} if _simulated() else {"launch_bounds": (COLUMN_LANES * 32, 1)}  # blocks of up to 1,024 threads

    @cuda.jit(types.void(types.float64[:, ::1], _arr(dt_out)), **bounds)
    def column_sum(partial, out):
        sm = cuda.shared.array((COLUMN_LANES, 32), np.float64)
        tx, ty, lanes = cuda.threadIdx.x, cuda.threadIdx.y, cuda.blockDim.y
        col = cuda.blockIdx.x * 32 + tx
        s = 0.0
        if col < out.size:
            for k in range(ty, partial.shape[0], lanes):
                s += partial[k, col]
        sm[ty, tx] = s
        cuda.syncthreads()
        step = lanes // 2
        while step > 0:
            if ty < step:
                sm[ty, tx] += sm[ty + step, tx]
            cuda.syncthreads()
            step //= 2
        if ty == 0 and col < out.size:
            out[col] = sm[0, tx]

    return column_sum


def _sum_columns(call: "Call", partial, out) -> None:
    """out = partial's column sums (_column_sum): a block per 32 columns, so that more than a few SMs read the
    partials (a thread per column ran a 1,024 × 1,024 dbias reduction on 4 SMs)."""
    chunks, n = partial.shape
    lanes = min(COLUMN_LANES, 1 << max(0, chunks - 1).bit_length())
    launch(_column_sum(_name(out.dtype)), -(-n // 32), (32, lanes), call, partial, out)


# ---------------------------------------------------------------------------------------------------- gated
# y[r, j] = fa(x[r, j])·fb(x[r, h + j]): element i's column j and the index ia of x[r, j] are tracked as i
# advances by the stride (one division per thread, none per element)
_GATED_SETUP = ("    uh = U(h)\n    r = i0 // uh\n    j = i0 - r * uh\n    ia = r * U(2) * uh + j\n"
                "    rs = stride // uh\n    js = stride - rs * uh\n    ias = rs * U(2) * uh + js\n    n = U({n}.size)\n")
_GATED_INDEX = ("        ia{k} = ia\n        a{k} = C(x[ia{k}])\n        b{k} = C(x[ia{k} + uh])\n"
                "        j += js\n        wrap = j >= uh\n        j = j - uh if wrap else j\n"
                "        ia = ia + ias + uh if wrap else ia + ias\n")
_GATED = {
    "forward": ("x, y, h{pa}{pb}", _GATED_SETUP.replace("{n}", "y"), _GATED_INDEX,
                "        y[i{k}] = fa(a{k}{pa}) * fb(b{k}{pb})\n"),
    "backward": ("g, x, dx, h{pa}{pb}", _GATED_SETUP.replace("{n}", "g"), _GATED_INDEX + "        g{k} = C(g[i{k}])\n",
                 "        dx[ia{k}] = g{k} * da(a{k}{pa}) * fb(b{k}{pb})\n"
                 "        dx[ia{k} + uh] = g{k} * fa(a{k}{pa}) * db(b{k}{pb})\n"),
}


@lru_cache(maxsize=None)
def _gated_kernel(a: str, b: str, backward: bool, dt: str):
    from numba import types

    da_, db_ = REGISTRY[a], REGISTRY[b]
    work = _dtypes(dt)[0]
    kernel = "backward" if backward else "forward"
    pa, pb = _params_src(da_, "a_"), _params_src(db_, "b_")
    src = _unrolled(kernel, *(part.replace("{pa}", pa).replace("{pb}", pb) for part in _GATED[kernel]))
    names = {"fa": device_function(da_.forward_py), "da": device_function(da_.derivative_py),
             "fb": device_function(db_.forward_py), "db": device_function(db_.derivative_py), "C": work.type}
    ps = [_nbtype(work)] * (len(da_.params) + len(db_.params))
    arr = _arr(dt)
    arrays = [arr, arr, arr] if backward else [arr, arr]
    return _compile(src, names, kernel, types.void(*arrays, types.int64, *ps))


def _gated_params(a, b, work):
    return [work.type(v) for key in (a, b) for _, v in REGISTRY[key].params]


def gated_forward(a, b, x, out):
    call = Call(x, out)
    d = call.device(x, "x")
    if d.ndim == 0 or tuple(d.shape)[-1] % 2:
        raise ValueError(f"the last axis of x must have even length, got shape {tuple(d.shape)}")
    work, final = _dtypes(d.dtype)
    d = _as_work(call, d, work)
    h = tuple(d.shape)[-1] // 2
    shape = tuple(d.shape)[:-1] + (h,)
    _check_out(out, shape, final)
    y = _out_device(call, out, shape, final)
    total = y.size
    if total:
        k = _gated_kernel(a, b, False, _name(d.dtype))
        launch(k, _grid(total), THREADS, call, flat(d), flat(y), h, *_gated_params(a, b, work))
    return call.result(y, out)


def gated_backward(a, b, grad, x, out):
    call = Call(grad, x, out)
    d = call.device(x, "x")
    if d.ndim == 0 or tuple(d.shape)[-1] % 2:
        raise ValueError(f"the last axis of x must have even length, got shape {tuple(d.shape)}")
    d, g, work, final = _with_grad(call, grad, d, grad_shape=lambda shape: shape[:-1] + (shape[-1] // 2,))
    h = tuple(d.shape)[-1] // 2
    _check_out(out, tuple(d.shape), final)
    dx = _out_device(call, out, tuple(d.shape), final)
    total = g.size
    if total:
        k = _gated_kernel(a, b, True, _name(d.dtype))
        launch(k, _grid(total), THREADS, call, flat(g), flat(d), flat(dx), h,
               *_gated_params(a, b, work))
    return call.result(dx, out)


# ---------------------------------------------------------------------------------------------------- prelu
# element i = q·inner + r of x (outer, channels, inner) has channel q % channels; r and the channel are tracked
# as i advances by the stride (one division per thread, none per element)
_PRELU_SETUP = ("    n = U(x.size)\n    uin = U(inner)\n    uch = U(channels)\n    q = i0 // uin\n    r = i0 - q * uin\n"
                "    ch = q % uch\n    qs = stride // uin\n    rs = stride - qs * uin\n    chs = qs % uch\n")
_PRELU_TRACK = ("        ch{k} = ch\n        r += rs\n        wrap = r >= uin\n        r = r - uin if wrap else r\n"
                "        ch += chs + U(1) if wrap else chs\n        ch = ch - uch if ch >= uch else ch\n")
_PRELU = {
    "forward": ("x, w, y, channels, inner", _PRELU_SETUP,
                _PRELU_TRACK + "        a{k} = x[i{k}]\n        s{k} = w[ch{k}]\n", "        y[i{k}] = lrelu_f(a{k}, s{k})\n"),
    "backward": ("g, x, w, dx, channels, inner", _PRELU_SETUP,
                 _PRELU_TRACK + "        g{k} = g[i{k}]\n        a{k} = x[i{k}]\n        s{k} = w[ch{k}]\n",
                 "        dx[i{k}] = g{k} * lrelu_d(a{k}, s{k})\n"),
}


@lru_cache(maxsize=None)
def _prelu_kernels(work: str, final: str):
    """forward, backward and the dweight partial sums for x in the compute dtype `work` and results in `final`."""
    from numba import types

    _numba_cuda()
    a, y, i = _arr(work), _arr(final), types.int64
    lrelu_f = device_function(REGISTRY["leaky_relu"].forward_py)
    lrelu_d = device_function(REGISTRY["leaky_relu"].derivative_py)

    names = {"lrelu_f": lrelu_f, "lrelu_d": lrelu_d}
    forward = _compile(_unrolled("forward", *_PRELU["forward"]), names, "forward", types.void(a, a, y, i, i))
    backward = _compile(_unrolled("backward", *_PRELU["backward"]), names, "backward", types.void(a, a, a, y, i, i))

    @cuda.jit(types.void(a, a, types.float64[:, ::1], i, i, i, i))
    def dweight(g, x, partial, outer, channels, inner, per_chunk):
        # block (channel, chunk): Σ g·x over x <= 0 of that channel's elements in the chunk, float64
        # element e of the channel is x[o, ch, r] (e = o·inner + r); r and its index are tracked as e advances
        sm = cuda.shared.array(256, np.float64)
        ch = cuda.blockIdx.x
        chunk = cuda.blockIdx.y
        t = cuda.threadIdx.x
        uin, uch = np.uint64(inner), np.uint64(channels)
        e = np.uint64(chunk) * np.uint64(per_chunk) + np.uint64(t)
        end = min(np.uint64(outer) * uin, np.uint64(chunk) * np.uint64(per_chunk) + np.uint64(per_chunk))
        o = e // uin
        r = e - o * uin
        i = (o * uch + np.uint64(ch)) * uin + r
        os = np.uint64(256) // uin
        rs = np.uint64(256) - os * uin
        istep = os * uch * uin + rs  # i's advance when r does not wrap
        acc = 0.0
        while e < end:
            xv = x[i]
            acc += np.float64(g[i]) * np.float64(xv) if not xv > 0 else 0.0
            e += np.uint64(256)
            r += rs
            wrap = r >= uin
            r = r - uin if wrap else r
            i = i + istep + (uch - np.uint64(1)) * uin if wrap else i + istep
        sm[t] = acc
        cuda.syncthreads()
        step = 128
        while step > 0:
            if t < step:
                sm[t] += sm[t + step]
            cuda.syncthreads()
            step //= 2
        if t == 0:
            partial[chunk, ch] = sm[0]

    return forward, backward, dweight


def _prelu_inputs(call, x, weight, grad=None):
    if grad is None:
        d = call.device(x, "x")
        work, final = _dtypes(d.dtype)
        d, g = _as_work(call, d, work, half_ok=False), None
    else:
        d, g, work, final = _with_grad(call, grad, x, half_ok=False)
    channels = tuple(d.shape)[1] if d.ndim >= 2 else 1
    w = call.device(weight, "weight", dtype=work)
    if w.size not in (1, channels):
        raise ValueError(f"weight must have 1 or x.shape[1] = {channels} elements, got {w.size}")
    w = _as_work(call, w.reshape(w.size), work, half_ok=False)
    if w.size != channels:  # one shared slope
        host = np.full(channels, w.copy_to_host(stream=call.stream)[0], dtype=work)
        w = _numba_cuda().to_device(host, stream=call.stream)
    outer = tuple(d.shape)[0] if d.ndim >= 2 else 1
    inner = int(np.prod(tuple(d.shape)[2:])) if d.ndim >= 2 else d.size
    return d, g, w, work, final, (outer, channels, inner)


def prelu_forward(x, weight, out):
    call = Call(x, weight, out)
    d, _, w, work, final, (outer, channels, inner) = _prelu_inputs(call, x, weight)
    _check_out(out, tuple(d.shape), final)
    y = _out_device(call, out, tuple(d.shape), final)
    if d.size:
        fwd = _prelu_kernels(_name(work), _name(final))[0]
        launch(fwd, _grid(d.size), THREADS, call, flat(d), w, flat(y), channels, max(inner, 1))
    return call.result(y, out)


def prelu_backward(grad, x, weight):
    call = Call(grad, x, weight)
    d, g, w, work, final, (outer, channels, inner) = _prelu_inputs(call, x, weight, grad)
    dx = call.empty(tuple(d.shape), final)
    wshape = tuple(getattr(weight, "shape", np.shape(weight)))
    if not d.size:  # no elements: dweight is 0
        return call.result(dx), call.result(call.device(np.zeros(wshape, work), "weight"))
    per_chunk, chunks = _chunks(outer * inner, 65536)
    _, bwd, dw = _prelu_kernels(_name(work), _name(final))
    launch(bwd, _grid(d.size), THREADS, call, flat(g), flat(d), w, flat(dx), channels, max(inner, 1))
    shared = int(np.prod(wshape)) == 1 and channels != 1  # one slope: the sum of every partial, in order
    dweight = call.empty((1 if shared else channels,), work)
    with partials(call, (chunks, channels)) as partial:
        launch(dw, (channels, chunks), 256, call, flat(g), flat(d), partial, outer, channels, max(inner, 1),
               per_chunk)
        total = partial.reshape(chunks * channels, 1) if shared else partial
        _sum_columns(call, total, dweight)
    return call.result(dx), call.result(dweight.reshape(wshape))
