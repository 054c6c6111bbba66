"""Input checking, dtype rules and output handling shared by every public function."""
from __future__ import annotations

import numbers
import os

import numpy as np

# Arrays with at least this many elements run multi-threaded. Measured with `python bench/threshold.py`
# (serial vs parallel sigmoid/relu/gelu on this class of machine); override with FASTACT_PARALLEL_THRESHOLD.
PARALLEL_THRESHOLD = int(os.environ.get("FASTACT_PARALLEL_THRESHOLD", "32768"))

DEVICES = ("auto", "cpu", "cuda")


def parallel(size: int) -> bool:
    return size >= PARALLEL_THRESHOLD


_GPU_TYPES: dict = {}  # type -> True (always on a GPU), "torch" (ask the tensor) or False (ask the instance)


def is_device_array(obj) -> bool:
    """True for arrays that live on a GPU (anything exposing __cuda_array_interface__, or the CUDA simulator's).

    Decided per type where possible: `hasattr(obj, "__cuda_array_interface__")` builds the interface's dict (a few
    µs for a Numba device array), which every call would pay several times."""
    t = type(obj)
    if t is np.ndarray:
        return False
    kind = _GPU_TYPES.get(t)
    if kind is None:
        if t.__module__.split(".")[0] == "torch":
            kind = "torch"  # torch.Tensor has the attribute on the class, and raises it for CPU tensors
        else:
            kind = hasattr(t, "__cuda_array_interface__") or t.__name__ == "FakeCUDAArray"
        _GPU_TYPES[t] = kind
    if kind == "torch":
        return bool(getattr(obj, "is_cuda", False))
    return kind or hasattr(obj, "__cuda_array_interface__")


def check_device(device, *arrays) -> str:
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    on_gpu = [is_device_array(a) for a in arrays if a is not None]
    if device == "cpu" and any(on_gpu):
        raise TypeError("device='cpu' was given an array that lives on a GPU; copy it to the host first")
    if any(on_gpu) or device == "cuda":
        if any(on_gpu) and not all(on_gpu):
            raise TypeError("arguments mix GPU and host arrays; put them all on the same device")
        return "cuda"
    return "cpu"


def compute_dtype(dtype: np.dtype, name: str) -> np.dtype:
    """float32/float64 compute as themselves, float16 in float32; bool and integers are promoted to float64."""
    if dtype.kind == "f":
        if dtype.itemsize > 8:
            raise TypeError(f"{name} has dtype {dtype}; fastact supports float16, float32 and float64")
        return np.dtype(np.float32) if dtype.itemsize <= 4 else np.dtype(np.float64)
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(f"{name} must be a real numeric array, got dtype {dtype}")


def with_grad(grad, x, name: str = "x", grad_shape=None):
    """(x, grad) as arrays with grad's shape checked (default: x's), and the (compute, result) dtypes of a
    backward: float16 only when both are float16."""
    xa = as_array(x, name)
    ga = as_array(grad, "grad")
    want = xa.shape if grad_shape is None else grad_shape(xa.shape)
    if ga.shape != want:
        raise ValueError(f"grad has shape {ga.shape} but {name} has shape {xa.shape}; grad must have shape {want}")
    work = np.promote_types(compute_dtype(xa.dtype, name), compute_dtype(ga.dtype, "grad"))
    final = np.dtype(np.float16) if xa.dtype == ga.dtype == np.float16 else work
    return xa, ga, work, final


def result_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float16) if dtype == np.float16 else compute_dtype(dtype, "x")


def as_array(a, name: str) -> np.ndarray:
    if is_device_array(a):
        raise TypeError(f"{name} lives on a GPU; pass device arrays only to the CUDA path")
    try:
        arr = np.asarray(a)
    except Exception as exc:  # noqa: BLE001 - report any conversion failure as a TypeError on the argument
        raise TypeError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr


def contiguous(arr: np.ndarray, dtype: np.dtype, like: np.ndarray | None = None) -> np.ndarray:
    """arr in `dtype`, contiguous; in the memory order of `like` when given (so flat views line up)."""
    if like is not None and like.ndim > 1:
        order = "C" if like.flags.c_contiguous else "F"
        ok = arr.flags.c_contiguous if order == "C" else arr.flags.f_contiguous
        return arr if ok and arr.dtype == dtype else np.array(arr, dtype=dtype, order=order)
    if arr.dtype != dtype:
        arr = arr.astype(dtype, order="K")
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        arr = np.ascontiguousarray(arr)
    return arr


def flat(arr: np.ndarray) -> np.ndarray:
    """The 1-D view of a contiguous array, in memory order."""
    return arr.ravel(order="K")


def same_layout(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and (a.ndim < 2 or (a.flags.c_contiguous and b.flags.c_contiguous)
                                   or (a.flags.f_contiguous and b.flags.f_contiguous))


def check_out(out, shape, dtype: np.dtype) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"out has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


def check_param(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


class Output:
    """Where a kernel writes: straight into `out` when its layout allows, else into a temporary copied back."""

    def __init__(self, out, like: np.ndarray, dtype: np.dtype, work_dtype: np.dtype, inputs=()):
        self.out = out
        direct = (out is not None and out.dtype == work_dtype and out.flags.writeable
                  and (out.flags.c_contiguous or out.flags.f_contiguous) and same_layout(out, like)
                  and not any(_overlaps_differently(flat(out), flat(a)) for a in inputs))
        if direct:
            self.buffer = out
        else:
            self.buffer = np.empty_like(like, dtype=work_dtype) if like.ndim else np.empty((), work_dtype)
        self.final_dtype = dtype

    @property
    def flat(self) -> np.ndarray:
        return flat(self.buffer)

    def result(self) -> np.ndarray:
        if self.out is None:
            return self.buffer if self.buffer.dtype == self.final_dtype else self.buffer.astype(self.final_dtype)
        if self.buffer is not self.out:
            np.copyto(self.out, self.buffer, casting="unsafe")
        return self.out


def _overlaps_differently(out: np.ndarray, a: np.ndarray) -> bool:
    """True if out and a share memory other than element-for-element (in-place on the same view is fine)."""
    if not np.may_share_memory(out, a):
        return False
    same = (out.__array_interface__["data"][0] == a.__array_interface__["data"][0]
            and out.strides == a.strides and out.dtype.itemsize == a.dtype.itemsize)
    return not same
