"""The CUDA path: every operation forward and backward, and the dispatch rules, against the float64 reference.

Runs on a real GPU as it is (with large shapes too), and in CI under Numba's CUDA simulator through
test_cuda_simulator.py (NUMBA_ENABLE_CUDASIM=1 must be set before numba is imported, hence a subprocess).
Under the simulator the kernels run as Python threads with Python's float64 math, so shapes stay small and
inputs moderate (Python's math.exp raises where CUDA's would give inf).
"""
import sys

import numpy as np
import pytest
from numba import config, cuda

import _tools
from _tools import CASE_IDS, CASES, check_backward, check_forward, fast, ref

import fastact
from fastact import gpu, reference
from fastact._arrays import is_device_array

SIM = bool(config.ENABLE_CUDASIM)
if SIM:
    # The simulator's block manager busy-polls its threads at every barrier; with Python's default 5 ms switch
    # interval each barrier waits on dozens of switches (measured: 10x slower softmax tests).
    sys.setswitchinterval(1e-4)
pytestmark = pytest.mark.skipif(not cuda.is_available(),
                                reason="no GPU here; test_cuda_simulator.py runs this file under the CUDA simulator")
SHAPES = [(3, 5), (2, 3, 8)] + ([] if SIM else [(1 << 20,), (4096, 1024)])
ELEMENTWISE = [(n, p) for n, p in CASES if n != "prelu"]
ELEMENTWISE_IDS = [i for i, (n, _) in zip(CASE_IDS, CASES) if n != "prelu"]


@pytest.fixture(autouse=True)
def gpu_tolerance(monkeypatch):
    """CUDA's libdevice functions are within 1-2 ULP each (the CPU path uses fastact's own, within 1-3), and
    their errors compose differently: the forward bounds are doubled on the GPU."""
    cpu = _tools.fwd_tolerance
    monkeypatch.setattr(_tools, "fwd_tolerance", lambda *args: 2.0 * cpu(*args))


def _sample(shape, dtype, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 4).astype(dtype)


def _host(a):
    return a if isinstance(a, np.ndarray) else a.copy_to_host()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", ELEMENTWISE, ids=ELEMENTWISE_IDS)
def test_elementwise_on_device_arrays(name, params, dtype):
    f, b = fast(name)
    rf, rb = ref(name)
    for shape in SHAPES:
        x, g = _sample(shape, dtype), _sample(shape, dtype, seed=1)
        dxa, dga = cuda.to_device(x), cuda.to_device(g)
        y = f(dxa, **params)
        assert is_device_array(y) and not isinstance(y, np.ndarray)  # device array in, device array out
        y = _host(y)
        assert y.dtype == dtype and y.shape == shape
        check_forward(name, params, x, y, rf(x, **params))
        dx = _host(b(dga, dxa, **params))
        assert dx.dtype == dtype
        check_backward(name, params, x, g, dx, rb(g, x, **params))


def test_dispatch_rules():
    x = _sample((4, 6), np.float32)
    y = fastact.sigmoid(x, device="cuda")  # NumPy in, device="cuda": runs there, NumPy back
    assert isinstance(y, np.ndarray)
    check_forward("sigmoid", {}, x, y, reference.sigmoid(x))
    d = cuda.to_device(x)
    with pytest.raises(TypeError, match="device='cpu'"):
        fastact.relu(d, device="cpu")
    with pytest.raises(TypeError, match="mix"):
        fastact.bias_act(d, np.zeros(6, np.float32))
    out = cuda.device_array((4, 6), np.float32)
    assert fastact.tanh(d, out=out) is out
    check_forward("tanh", {}, x, out.copy_to_host(), reference.tanh(x))
    host_out = np.empty((4, 6), np.float32)
    assert fastact.silu(x, device="cuda", out=host_out) is host_out
    with pytest.raises(ValueError, match="out has shape"):
        fastact.relu(d, out=cuda.device_array((6, 4), np.float32))
    h = fastact.gelu(cuda.to_device(x.astype(np.float16)))
    assert _host(h).dtype == np.float16
    np.testing.assert_allclose(_host(h), reference.gelu(x.astype(np.float16)), rtol=2e-3, atol=1e-3)
    assert fastact.relu(np.arange(4), device="cuda").dtype == np.float64  # integers promoted, as on the CPU


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", [("relu", {}), ("gelu", {}), ("softplus", {"beta": 2.0})])
def test_elementwise_unrolled_loop(name, params, dtype):
    """2,000 elements: some threads take 4 elements a stride apart (the unrolled loop), the others the tail
    (the shapes above are all tail under the simulator, and all unrolled loop on a GPU)."""
    f, b = fast(name)
    rf, rb = ref(name)
    x, g = _sample((25, 80), dtype), _sample((25, 80), dtype, seed=1)
    check_forward(name, params, x, _host(f(cuda.to_device(x), **params)), rf(x, **params))
    check_backward(name, params, x, g, _host(b(cuda.to_device(g), cuda.to_device(x), **params)), rb(g, x, **params))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_elementwise_vector_kernels_and_misaligned_views(dtype, monkeypatch):
    """Arrays whose data is aligned to 4 items take the kernel over 4-element vectors (one 16-byte access for
    float32), with the last n % 4 elements one by one; a view one element in (x, grad or out) takes the
    element-wise kernel. Both give the reference's values. One block: its threads loop over 2 vectors or 8
    elements."""
    monkeypatch.setattr(gpu, "_MAX_BLOCKS", 1)
    used = []
    real = gpu._elementwise_kernel
    monkeypatch.setattr(gpu, "_elementwise_kernel", lambda *a: used.append(a[4]) or real(*a))
    n = 2003  # 500 vectors and 3 more
    x, g = _sample(n + 1, dtype), _sample(n + 1, dtype, seed=1)
    dx, dg = cuda.to_device(x), cuda.to_device(g)
    out = cuda.device_array(n + 1, dtype)
    cases = [(dx[:n], dg[:n], out[:n], (True, True)), (dx[1:], dg[:n], out[:n], (False, False)),
             (dx[:n], dg[1:], out[:n], (True, False)), (dx[:n], dg[:n], out[1:], (False, False))]
    for xd, gd, od, vector in cases:  # vector: (forward, backward)
        xh, gh = _host(xd), _host(gd)
        used.clear()
        y = _host(fastact.silu(xd, out=od))
        grad = _host(fastact.silu_backward(gd, xd, out=od))
        assert tuple(used) == vector
        want, want_grad = reference.silu(xh), reference.silu_backward(gh, xh)
        if dtype == np.float16:
            np.testing.assert_allclose(y, want, rtol=2e-3, atol=1e-3)
            np.testing.assert_allclose(grad, want_grad, rtol=4e-3, atol=4e-3)
        else:
            check_forward("silu", {}, xh, y, want)
            check_backward("silu", {}, xh, gh, grad, want_grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prelu(dtype, monkeypatch):
    # (7, 3, 101): 2,121 elements, so that threads run the unrolled loop and their tracked channel moves on; with
    # one block (max_blocks 1), each thread takes 8 or 9 elements
    w = np.array([0.1, 0.25, -0.5], dtype)
    for shape, max_blocks in (((5, 3, 4), gpu._MAX_BLOCKS), ((7, 3, 101), gpu._MAX_BLOCKS), ((7, 3, 101), 1)):
        monkeypatch.setattr(gpu, "_MAX_BLOCKS", max_blocks)
        x, g = _sample(shape, dtype), _sample(shape, dtype, seed=2)
        y = _host(fastact.prelu(cuda.to_device(x), cuda.to_device(w)))
        np.testing.assert_array_equal(y, fastact.prelu(x, w))
        dx, dw = fastact.prelu_backward(cuda.to_device(g), cuda.to_device(x), cuda.to_device(w))
        rdx, rdw = reference.prelu_backward(g, x, w)
        np.testing.assert_allclose(_host(dx), rdx, rtol=4 * np.finfo(dtype).eps)
        mag = (np.abs(g.astype(np.float64) * x) * (x <= 0)).sum(axis=(0, 2))  # a sum's rounding: relative to this
        assert np.all(np.abs(_host(dw) - rdw) <= 16 * np.finfo(dtype).eps * mag), (_host(dw), rdw)
    dx1, dw1 = fastact.prelu_backward(g, x, np.array([0.2], dtype), device="cuda")
    assert dw1.shape == (1,)
    np.testing.assert_allclose(dw1, reference.prelu_backward(g, x, np.array([0.2]))[1], rtol=1e-5)


# (shape, axis, layout). Under the simulator the layout thresholds are shrunk (small_layouts) so that small shapes
# reach every layout; on a GPU the real thresholds apply and large shapes are added.
SMALL_CASES = [((4, 7), -1, "rows"), ((6, 1), -1, "rows"), ((5, 30), -1, "rows"), ((3, 100), -1, "block"),
               ((3, 300), -1, "block"), ((2, 1100), -1, "split"), ((3, 5, 6), 1, "columns"), ((6, 5), 0, "columns")]
SOFTMAX_CASES = SMALL_CASES + (
    [] if SIM else [((4096, 8), -1, "rows"), ((1000, 3), -1, "rows"), ((2000, 200), -1, "rows"),
                    ((32768, 1024), -1, "rows"), ((500, 3000), -1, "rows"),
                    ((300, 16384), -1, {"float32": "rows", "float64": "block"}),
                    ((200, 20000), -1, "block"), ((64, 65536), -1, "split"),
                    ((8, 100003), -1, "split"), ((1024, 4096), 0, "columns")])


@pytest.fixture
def small_layouts(monkeypatch):
    if SIM:
        from fastact import gpu_softmax

        # rows past 64 elements (float64: 32) leave the registers, rows of 512 or more split (in chunks of 256: each thread
        # takes the unrolled step), rows of 512 float32 stay in shared memory
        monkeypatch.setattr(gpu_softmax, "ROWS_MAX", 64)
        monkeypatch.setattr(gpu_softmax, "UNROLL", 4)  # rows of 300 reach the unrolled loads (64 threads a block)
        monkeypatch.setattr(gpu_softmax, "SPLIT_CHUNK", 256)
        monkeypatch.setattr(gpu_softmax, "ROW_CACHE", 2048)
        monkeypatch.setattr(gpu_softmax, "THREADS", 64)  # two warps a block: each simulated barrier is slow


def _layout(shape, axis, dtype=np.float32):
    from fastact import gpu_softmax
    from fastact.softmax import _split

    outer, n, inner = _split(shape, axis % len(shape))
    return gpu_softmax.layout(outer * inner, n, inner, np.dtype(dtype).itemsize)


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax(log, dtype, small_layouts):
    f = fastact.log_softmax if log else fastact.softmax
    fb = fastact.log_softmax_backward if log else fastact.softmax_backward
    rf = reference.log_softmax if log else reference.softmax
    rb = reference.log_softmax_backward if log else reference.softmax_backward
    rtol = 8 * np.finfo(dtype).eps
    for shape, axis, kind in SOFTMAX_CASES:
        if SIM or (shape, axis, kind) not in SMALL_CASES:  # the case covers the layout it is meant to
            kind = kind[np.dtype(dtype).name] if isinstance(kind, dict) else kind
            assert _layout(shape, axis, dtype) == kind
        x, g = _sample(shape, dtype), _sample(shape, dtype, seed=3)
        y = _host(f(cuda.to_device(x), axis=axis, scale=0.5))
        np.testing.assert_allclose(y, rf(x, axis=axis, scale=0.5), rtol=rtol, atol=rtol, err_msg=kind)
        dx = _host(fb(cuda.to_device(g), cuda.to_device(y), axis=axis))
        terms = 1 + np.abs(g.astype(np.float64)).sum(axis=axis).max()
        np.testing.assert_allclose(dx, rb(g, y.astype(np.float64), axis=axis), rtol=rtol, atol=rtol * terms,
                                   err_msg=kind)
        if kind == "split":  # the row's chunks merged in a fixed order: the same bits every time
            np.testing.assert_array_equal(_host(f(cuda.to_device(x), axis=axis, scale=0.5)), y)


def _special_rows(n, rng):
    """Rows with NaN, +inf and -inf in different places, and a mask that keeps all, some or none of a row."""
    x = rng.standard_normal((8, n)).astype(np.float32) * 3
    x[1, n - 1] = np.nan
    x[2, n // 2] = np.inf
    x[3, :] = -np.inf
    x[4, : n - 1] = -np.inf  # one finite value
    x[5, ::2] = -np.inf
    x[6, 0] = 1e30
    x[7, 1 % n] = -1e30
    keep = np.ones((8, n), bool)
    keep[0, ::3] = False
    keep[1, n - 1] = False  # the NaN masked away
    keep[4, :] = False  # fully masked
    keep[5, 1::2] = False  # only -inf kept
    return x, keep


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_special_rows_match_the_cpu(log, small_layouts):
    """NaN, ±inf, ±1e30, masks keeping all, some, none or only -inf: the GPU gives the CPU path's result, in
    every layout (the CPU follows PyTorch; masked positions give 0, log-softmax -inf)."""
    f = fastact.log_softmax if log else fastact.softmax
    rng = np.random.default_rng(7)
    for n, axis in [(7, -1), (100, -1), (300, -1), (600, -1), (7, 0)]:
        x, keep = _special_rows(n, rng)
        if axis == 0:
            x, keep = np.ascontiguousarray(x.T), np.ascontiguousarray(keep.T)
        kind = _layout(x.shape, axis)
        for mask in (None, keep):
            want = f(x, axis=axis, mask=mask)
            got = _host(f(cuda.to_device(x), axis=axis, mask=None if mask is None else cuda.to_device(mask)))
            np.testing.assert_allclose(got, want, rtol=4e-6, atol=0, equal_nan=True, err_msg=f"{kind} {mask is None}")
    y = f(np.array([[1.0, 2.0, 3.0]], np.float32), device="cuda", mask=np.array([True, False, True]))  # broadcast
    np.testing.assert_allclose(y, f(np.array([[1.0, 2.0, 3.0]], np.float32), mask=np.array([True, False, True])),
                               rtol=4e-6)


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_rows_wider_than_a_warp(log, small_layouts, monkeypatch):
    """The rows layout where a row's lanes span warps (their max and sum meet in shared memory), without and with
    a stash in shared memory: special rows and masks as the CPU path, the backward as the reference."""
    from fastact import gpu_softmax

    if SIM:  # rows of 300 and 600 on 2 warps (64 lanes of 8 elements; at 600, 8 more each in shared memory)
        monkeypatch.setattr(gpu_softmax, "ROWS_MAX", 1024)
        monkeypatch.setattr(gpu_softmax, "STASH_ROW", 400)
        monkeypatch.setattr(gpu_softmax, "SPLIT_CHUNK", 4096)
    f = fastact.log_softmax if log else fastact.softmax
    fb = fastact.log_softmax_backward if log else fastact.softmax_backward
    rng = np.random.default_rng(11)
    for n in (300, 600) if SIM else (3000, 12000):
        width, _, stash = gpu_softmax._rows_shape(n, False)
        assert width > gpu_softmax.WARP and (stash > 0) == (n > gpu_softmax.STASH_ROW)
        x, keep = _special_rows(n, rng)
        assert _layout(x.shape, -1) == "rows"
        for mask in (None, keep):
            got = _host(f(cuda.to_device(x), mask=None if mask is None else cuda.to_device(mask), scale=0.5))
            np.testing.assert_allclose(got, f(x, mask=mask, scale=0.5), rtol=4e-6, atol=0, equal_nan=True)
        x = _sample((3, n), np.float64)
        y, g = f(x), _sample((3, n), np.float64, seed=2)
        rtol = 8 * np.finfo(np.float64).eps
        np.testing.assert_allclose(_host(f(cuda.to_device(x))), y, rtol=rtol, atol=0)
        dx = _host(fb(cuda.to_device(g), cuda.to_device(y)))
        rb = reference.log_softmax_backward if log else reference.softmax_backward
        np.testing.assert_allclose(dx, rb(g, y), rtol=rtol, atol=rtol * (1 + np.abs(g).sum(axis=-1).max()))


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_block_keeps_part_of_a_row_in_shared_memory(log, small_layouts, monkeypatch):
    """The block layout's forward keeps a row's first elements in shared memory and reads the rest again: rows
    kept whole, in part and not at all give the CPU path's result, special values and masks on both sides."""
    from fastact import gpu_softmax

    if SIM:  # 400 bytes: 100 float32 (64 in part of a longer row, one per thread), no float64 of a longer row
        monkeypatch.setattr(gpu_softmax, "ROW_CACHE", 400)
        monkeypatch.setattr(gpu_softmax, "SPLIT_ROWS", 2)
    f = fastact.log_softmax if log else fastact.softmax
    rng = np.random.default_rng(5)
    seen = set()
    for n, dtype in [(100, np.float32), (300, np.float32), (300, np.float64)] if SIM else \
            [(20000, np.float32), (70000, np.float32), (70000, np.float64)]:
        x, keep = _special_rows(n, rng)
        reps = 2 if SIM else 17  # on a GPU the block layout takes SPLIT_ROWS rows or more
        x, keep = np.concatenate([x] * reps).astype(dtype), np.concatenate([keep] * reps)
        x[8, 1] = x[9, n - 2] = np.nan  # one in the kept part, one read again
        assert _layout(x.shape, -1) == "block"
        name = np.dtype(dtype).name
        _, threads, cache = gpu_softmax._block_plan((name, name), n, np.dtype(dtype).itemsize)
        seen.add("whole" if cache == n else "part" if cache else "none")
        assert cache % threads == 0 or cache == n
        for mask in (None, keep):
            got = _host(f(cuda.to_device(x), mask=None if mask is None else cuda.to_device(mask), scale=0.5))
            np.testing.assert_allclose(got, f(x, mask=mask, scale=0.5), rtol=8 * np.finfo(dtype).eps, atol=0,
                                       equal_nan=True, err_msg=f"{n} {dtype.__name__} cache {cache}")
    assert seen >= ({"whole", "part", "none"} if SIM else {"whole", "part"}), seen


def test_softmax_block_plan_uses_the_shared_memory_a_gpu_allows(monkeypatch):
    """With an H100's limits (227 KiB a block after opting in, 228 KiB an SM, 1 KiB reserved a block): rows that
    fit in half an SM run two blocks of 512 threads an SM, whole; longer ones one block of 1,024, most of the row
    kept; where the driver refuses to opt in, what needs no opting in."""
    from fastact import gpu_softmax

    monkeypatch.setattr(gpu, "shared_room", lambda kernel, blocks: min(232448, 233472 // blocks - 1024) - 384)
    allowed = []
    monkeypatch.setattr(gpu, "allow_shared", lambda kernel, nbytes: allowed.append(nbytes) or True)
    monkeypatch.setattr(gpu_softmax, "_PLANS", {})
    dt = ("float32", "float32")
    assert gpu_softmax._block_plan(dt, 20000, 4)[1:] == (512, 20000)
    assert gpu_softmax._block_plan(dt, 65536, 4)[1:] == (1024, 57344)  # 87.5% of the row
    assert gpu_softmax._block_plan(dt, 65536, 8)[1:] == (1024, 28672)
    assert max(allowed) == 57344 * 4
    assert gpu_softmax._block_plan(dt, 65536, 4)[1:] == (1024, 57344) and len(allowed) == 3  # worked out once
    monkeypatch.setattr(gpu, "allow_shared", lambda kernel, nbytes: nbytes <= 48 * 1024)
    monkeypatch.setattr(gpu_softmax, "_PLANS", {})
    threads, cache = gpu_softmax._block_plan(dt, 65536, 4)[1:]
    assert threads == gpu_softmax.THREADS and cache * 4 <= gpu_softmax.ROW_CACHE and cache % threads == 0


def test_opting_in_to_shared_memory(monkeypatch):
    """shared_room and allow_shared against a stand-in for Numba's function object and the driver (an H100's
    figures): the room per block count, one cuKernelSetAttribute per larger size (with the carveout asked for),
    False where the driver refuses, None where the device does not say."""
    from types import SimpleNamespace

    from cuda.bindings import driver as drv

    calls = []
    dev = SimpleNamespace(id=0, MAX_SHARED_MEMORY_PER_BLOCK_OPTIN=232448, MAX_SHARED_MEMORY_PER_MULTIPROCESSOR=233472,
                          RESERVED_SHARED_MEMORY_PER_BLOCK=1024)
    fn = SimpleNamespace(device=dev, attrs=SimpleNamespace(shared=384), handle="kernel handle",
                         set_shared_memory_carveout=lambda c: calls.append(("carveout", c)))
    monkeypatch.setattr(gpu, "_simulated", lambda: False)
    monkeypatch.setattr(gpu, "_cufunc", lambda kernel: fn)
    monkeypatch.setattr(gpu, "_SHARED", {})
    monkeypatch.setattr(gpu, "_OPTED", {})
    monkeypatch.setattr(drv, "cuKernelSetAttribute", lambda *a: calls.append(a) or (drv.CUresult.CUDA_SUCCESS,))
    assert gpu.shared_room("k", 1) == 232448 - 384
    assert gpu.shared_room("k", 2) == 233472 // 2 - 1024 - 384
    assert gpu.allow_shared("k", 40000) and not calls  # under 48 KiB: nothing to ask
    assert gpu.allow_shared("k", 100000) and gpu.allow_shared("k", 90000) and gpu.allow_shared("k", 200000)
    attr = drv.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    assert calls == [(attr, 100000, "kernel handle", 0), ("carveout", 100),
                     (attr, 200000, "kernel handle", 0), ("carveout", 100)]

    monkeypatch.setattr(drv, "cuKernelSetAttribute", lambda *a: (drv.CUresult.CUDA_ERROR_INVALID_VALUE,))
    assert not gpu.allow_shared("other kernel", 100000)
    monkeypatch.setattr(gpu, "_SHARED", {})
    fn.device = SimpleNamespace(id=1)  # a driver without the attributes
    assert gpu.shared_room("k", 1) is None


def test_softmax_float16_and_mixed_dtypes(small_layouts):
    x = _sample((3, 100), np.float16)
    y = fastact.softmax(cuda.to_device(x))
    assert _host(y).dtype == np.float16
    np.testing.assert_allclose(_host(y), reference.softmax(x), rtol=2e-3, atol=1e-4)
    g = _sample((3, 100), np.float32, seed=1)
    dx = _host(fastact.softmax_backward(cuda.to_device(g), y))  # float16 y with a float32 grad
    assert dx.dtype == np.float32
    np.testing.assert_allclose(dx, reference.softmax_backward(g, _host(y).astype(np.float64)), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act,params", [("relu", {}), ("gelu", {}), ("gelu", {"approximate": "tanh"}),
                                        ("silu", {}), ("softplus", {"beta": 2.0})])
def test_bias_act(act, params, dtype):
    # (3, 1100) takes the wide dbias kernel (THREADS·BIAS_SPAN columns a block): a pair of rows, a last row, and a
    # block with columns past the row's end
    for shape in [(5, 7), (300, 40), (3, 1100)] + ([] if SIM else [(32768, 1024), (1000, 3000)]):
        x, g = _sample(shape, dtype), _sample(shape, dtype, seed=4)
        b = _sample(shape[-1], dtype, seed=5)
        z = x + b
        y = _host(fastact.bias_act(cuda.to_device(x), cuda.to_device(b), act, **params))
        check_forward(act, params, z, y, getattr(reference, act)(z, **params))
        dx, db = fastact.bias_act_backward(cuda.to_device(g), cuda.to_device(x), cuda.to_device(b), act, **params)
        dx, db = _host(dx), _host(db)
        check_backward(act, params, z, g, dx, getattr(reference, act + "_backward")(g, z, **params))
        exact = dx.astype(np.float64).reshape(-1, shape[-1]).sum(axis=0)
        np.testing.assert_allclose(db, exact, rtol=4 * np.finfo(dtype).eps,
                                   atol=1e-12 * np.abs(dx).sum())
        again = _host(fastact.bias_act_backward(g, x, b, act, device="cuda", **params)[1])
        np.testing.assert_array_equal(again, db)  # deterministic


@pytest.mark.parametrize("chunks", [1, 3, 37])
def test_column_sums_of_partials(chunks):
    """The second stage of dbias/dweight: 32 columns a block, up to 32 lanes each summing every 32nd partial, then
    a tree over the lanes (37 partials: 32 lanes, 5 of them with a second partial; 3: 4 lanes, one empty)."""
    partial = np.random.default_rng(chunks).standard_normal((chunks, 40))
    out = cuda.device_array(40, np.float64)
    gpu._sum_columns(gpu.Call(), cuda.to_device(partial), out)
    np.testing.assert_allclose(out.copy_to_host(), partial.sum(axis=0), rtol=1e-14, atol=1e-14)


def test_bias_act_vector_kernel_and_its_fallbacks(monkeypatch):
    """bias_act's forward takes 4-element vectors for rows of a multiple of 4 columns and aligned data, else the
    element-by-element kernel; both give the reference's values. One block: its threads loop over 2 vectors
    (the column tracked across rows) or 5 elements."""
    monkeypatch.setattr(gpu, "_MAX_BLOCKS", 1)
    used = []
    real = gpu._bias_kernel
    monkeypatch.setattr(gpu, "_bias_kernel", lambda *a, **k: used.append(k.get("vector", False)) or real(*a, **k))
    x = _sample(30 * 41 + 1, np.float32)
    b = _sample(41, np.float32, seed=5)
    dx, db = cuda.to_device(x), cuda.to_device(b)
    out = cuda.device_array(30 * 41 + 1, np.float32)
    cases = [(dx[:1200].reshape(30, 40), db[:40], out[:1200].reshape(30, 40), True),  # 300 vectors, 10 a row
             (dx[:1230].reshape(30, 41), db, out[:1230].reshape(30, 41), False),  # 41 columns
             (dx[1:1201].reshape(30, 40), db[:40], out[:1200].reshape(30, 40), False),  # x one element in
             (dx[:1200].reshape(30, 40), db[1:], out[:1200].reshape(30, 40), False),  # bias one element in
             (dx[:1200].reshape(30, 40), db[:40], out[1:1201].reshape(30, 40), False)]  # out one element in
    for xd, bd, od, vector in cases:
        used.clear()
        y = _host(fastact.bias_act(xd, bd, "silu", out=od))
        assert used == [vector]
        z = _host(xd) + _host(bd)
        check_forward("silu", {}, z, y, reference.silu(z))


def test_partial_sums_reuse_one_buffer_on_the_default_stream():
    """dbias and dweight's partial sums: on the legacy default stream one buffer is kept, grown and reused (a
    smaller call after a larger one, bias_act and prelu alike, each still exact); on another stream each call
    gets its own (under the simulator arrays do not carry their stream, so partials() is asked directly); no
    rows give zeros, not a previous call's partial sums."""
    from numba.cuda.core import config

    gpu._SCRATCH.clear()
    rng = np.random.default_rng(9)
    x, g, b = (rng.standard_normal(s).astype(np.float32) for s in ((600, 9), (600, 9), 9))
    dev = [cuda.to_device(a) for a in (g, x, b)]
    for rows, act in ((5, "relu"), (600, "silu"), (5, "gelu")):  # 1 chunk of 256 rows, then 3, then 1
        dx, db = (_host(a) for a in fastact.bias_act_backward(*(cuda.to_device(a[:rows]) for a in (g, x)), dev[2],
                                                              act))
        np.testing.assert_allclose(db, dx.astype(np.float64).sum(axis=0), rtol=4e-7)
        if config.CUDA_PER_THREAD_DEFAULT_STREAM:  # pragma: no cover - numba's default stream is then per thread
            assert not gpu._SCRATCH
            return
        if rows == 600:
            (buf,) = gpu._SCRATCH.values()
            assert buf.size >= 3 * 9  # grown
    w = np.full(9, 0.1, np.float32)
    dw = _host(fastact.prelu_backward(cuda.to_device(g), cuda.to_device(x), cuda.to_device(w))[1])
    np.testing.assert_allclose(dw, reference.prelu_backward(g, x, w.astype(np.float64))[1], rtol=1e-5)
    assert list(gpu._SCRATCH.values()) == [buf]  # reused, not reallocated
    empty = fastact.bias_act_backward(cuda.to_device(g[:0]), cuda.to_device(x[:0]), dev[2], "silu")[1]
    np.testing.assert_array_equal(_host(empty), np.zeros(9, np.float32))
    np.testing.assert_array_equal(_host(fastact.prelu_backward(g[:0], x[:0], w, device="cuda")[1]),
                                  np.zeros(9, np.float32))
    call = gpu.Call(dev[0])
    for stream, shared in ((call.stream, True), (cuda.stream(), False)):
        buf.copy_to_device(np.full(buf.size, np.nan))
        call.stream = stream
        with gpu.partials(call, (2, 3)) as p:
            p.copy_to_device(np.zeros((2, 3)))
        assert list(gpu._SCRATCH.values()) == [buf]
        assert np.isnan(buf.copy_to_host()[:6]).all() != shared  # the default stream's buffer, else a new one


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", [("glu", {}), ("swiglu", {}), ("geglu", {}),
                                         ("geglu", {"approximate": "tanh"})])
def test_gated(name, params, dtype):
    # (25, 160): 2,000 results, so that threads run the unrolled loop (4 elements a stride of 512 apart) and
    # their tracked column wraps past h = 80
    for shape in [(3, 8), (2, 3, 10), (25, 160)] + ([] if SIM else [(32768, 1024), (1000, 3002)]):
        x = _sample(shape, dtype)
        g = _sample(shape[:-1] + (shape[-1] // 2,), dtype, seed=6)
        y = _host(getattr(fastact, name)(cuda.to_device(x), **params))
        rtol = 64 * np.finfo(dtype).eps
        np.testing.assert_allclose(y, getattr(reference, name)(x, **params), rtol=rtol, atol=rtol)
        dx = _host(getattr(fastact, name + "_backward")(cuda.to_device(g), cuda.to_device(x), **params))
        np.testing.assert_allclose(dx, getattr(reference, name + "_backward")(g, x, **params), rtol=rtol,
                                   atol=rtol * (1 + np.abs(x).max()) * np.abs(g).max())


MIXED = [(np.float16, np.float32), (np.float32, np.float16), (np.float32, np.float64), (np.float64, np.float16),
         (np.float16, np.float16)]


@pytest.mark.parametrize("x_dtype,g_dtype", MIXED, ids=lambda d: np.dtype(d).name)
def test_backward_with_mixed_dtypes(x_dtype, g_dtype):
    """x and grad of different dtypes (float16 beside float32, say): computed in the wider one, with the dtype
    and values of the CPU path."""
    x, b = _sample((6, 8), x_dtype), _sample(8, x_dtype, seed=5)
    g, gh = _sample((6, 8), g_dtype, seed=1), _sample((6, 4), g_dtype, seed=2)
    w = np.array([0.25], x_dtype)
    calls = {
        "sigmoid": lambda dev, m: fastact.sigmoid_backward(m(g), m(x)),
        "bias_act": lambda dev, m: fastact.bias_act_backward(m(g), m(x), m(b), "silu")[0],
        "dbias": lambda dev, m: fastact.bias_act_backward(m(g), m(x), m(b), "silu")[1],
        "glu": lambda dev, m: fastact.glu_backward(m(gh), m(x)),
        "prelu": lambda dev, m: fastact.prelu_backward(m(g), m(x), m(w))[0],
        "softmax": lambda dev, m: fastact.softmax_backward(m(g), m(x)),
    }
    tol = 2e-3 if np.float16 in (x_dtype, g_dtype) else 1e-6
    for name, f in calls.items():
        want = f("cpu", lambda a: a)
        got = _host(f("cuda", cuda.to_device))
        assert got.dtype == want.dtype, name
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max(), err_msg=name)


@pytest.mark.skipif(SIM, reason="CuPy needs a real GPU")
def test_cupy_in_cupy_out():
    cp = pytest.importorskip("cupy")
    x = cp.linspace(-3, 3, 1000, dtype=cp.float32)
    pool = cp.get_default_memory_pool()
    before = pool.used_bytes()
    y = fastact.gelu(x)
    assert isinstance(y, cp.ndarray)
    assert pool.used_bytes() - before >= y.nbytes  # the result comes from CuPy's pool
    check_forward("gelu", {}, cp.asnumpy(x), cp.asnumpy(y), reference.gelu(cp.asnumpy(x)))


@pytest.mark.skipif(SIM, reason="PyTorch CUDA tensors need a real GPU")
def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA here")
    t = torch.linspace(-3, 3, 1000, device="cuda")
    before = torch.cuda.memory_allocated()
    y = fastact.silu(t)
    assert isinstance(y, torch.Tensor) and y.is_cuda
    assert torch.cuda.memory_allocated() - before >= y.numel() * y.element_size()  # from PyTorch's allocator
    dx, dw = fastact.prelu_backward(torch.ones_like(t), t, torch.full((1,), 0.25, device="cuda"))
    assert dw.shape == (1,) and isinstance(dw, torch.Tensor)
    torch.testing.assert_close(y, torch.nn.functional.silu(t), rtol=1e-6, atol=1e-6)
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        u = torch.randn(4096, 512, device="cuda")
        v = fastact.softmax(u)  # launched on the producer's stream
    s.synchronize()
    torch.testing.assert_close(v, torch.softmax(u, -1), rtol=1e-5, atol=1e-7)


@pytest.mark.skipif(not SIM, reason="a check of fastact's fix to the simulator")
def test_simulator_threads_share_one_shared_array():
    """The simulator's cuda.shared.array, called by a block's threads at once, gives them all one array (without
    fastact's lock two threads could each make their own, and a block reduction read unwritten memory)."""
    import threading

    from numba.cuda.simulator.kernelapi import FakeCUDAShared

    gpu._numba_cuda()  # fills the simulator's gaps
    for _ in range(20):
        shared, got = FakeCUDAShared(0), []
        start = threading.Barrier(32)

        def thread():
            start.wait()
            got.append(shared.array(256, np.float64))

        threads = [threading.Thread(target=thread) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(got) == 32 and all(a is got[0] for a in got)


@pytest.mark.skipif(not SIM, reason="a check of fastact's fix to the simulator")
def test_simulator_checks_launches_as_a_gpu_does():
    """A launch whose arguments do not match the kernel's signature, or whose grid is out of CUDA's limits,
    fails under the simulator as it would on a GPU."""
    k = gpu._column_sum("float32")
    partial, out = cuda.to_device(np.ones((3, 4))), cuda.device_array(4, np.float32)
    k[1, 32](partial, out)
    assert np.array_equal(out.copy_to_host(), np.full(4, 3, np.float32))
    with pytest.raises(TypeError, match="column_sum: no matching definition"):
        k[1, 32](partial, cuda.device_array(4, np.float64))  # float64 out for a float32 kernel
    with pytest.raises(TypeError, match="no matching definition"):
        k[1, 32](cuda.to_device(np.ones(12)), out)  # 1-D partial for a 2-D parameter
    with pytest.raises(ValueError, match="out of CUDA's limits"):
        k[(1, 65536), 32](partial, out)
    with pytest.raises(ValueError, match="out of CUDA's limits"):
        k[1, 2048](partial, out)


@pytest.mark.parametrize("count,per", [(0, 256), (1000, 256), (65535 * 256, 256), (65535 * 256 + 1, 256),
                                       (1 << 34, 256), (1 << 33, 65536)])
def test_partial_sum_chunks_fit_the_grid(count, per):
    """dbias and dweight cut their rows in chunks, one grid row each: never more than CUDA's 65,535."""
    size, chunks = gpu._chunks(count, per)
    assert 1 <= chunks <= 65535 and size >= per and size * chunks >= count
    assert size * (chunks - 1) < max(count, 1)  # no empty chunk


def test_gpu_benchmark_times_every_case():
    """`fastact bench --device cuda`: every activation row both passes, the softmax shapes and bias_act, each
    with a time and a fraction of the copy bandwidth, the host costs, and the table with a line per row."""
    from fastact import benchmark_gpu
    from fastact.benchmark import ACTIVATION_ROWS

    n = 1024 if SIM else 1 << 20
    bw, costs, rows = benchmark_gpu.run(n, np.float32, repeat=1)
    assert bw > 0 and len(costs) == 2 and all(t > 0 for t in costs.values())
    timed = {(r["name"], r["pass"]) for r in rows}
    assert {(row, p) for row in ACTIVATION_ROWS for p in ("forward", "backward")} <= timed
    assert any(name.startswith("softmax") for name, _ in timed)
    assert any(name.startswith("bias_act") for name, _ in timed)
    assert all(r["ms"] > 0 and r["copy_frac"] > 0 for r in rows)
    table = benchmark_gpu.format_table(bw, costs, rows, n, np.float32)
    assert all(label in table for label in costs)
    assert len(table.splitlines()) == 1 + 2 + len(rows) + 1  # header, column names and rule, rows, footnote
