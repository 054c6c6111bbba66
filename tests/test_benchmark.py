"""`fastact bench` on tiny arrays: every suite runs, every row is complete, bad names are refused."""
import math

import numpy as np
import pytest

import fastact
from fastact import benchmark, cli

N = 1 << 15  # softmax shapes need n divisible by 1024


def test_every_suite_gives_complete_rows():
    rows = list(benchmark.run(tuple(benchmark.SUITES), n=N, repeat=1))
    names = {(r["suite"], r["name"], r["pass"]) for r in rows}
    for label in benchmark.ACTIVATION_ROWS:
        assert ("activations", label, "forward") in names and ("activations", label, "backward") in names
    assert "gelu erf" in benchmark.ACTIVATION_ROWS and "prelu" not in benchmark.ACTIVATION_ROWS
    assert {r["suite"] for r in rows} == set(benchmark.SUITES)
    for r in rows:
        for key in ("ms_out", "ms", "gbs", "copy_frac", "copy_gbs"):
            assert math.isfinite(r[key]) and r[key] > 0, (r["name"], key, r[key])
        if r["suite"] == "activations":
            assert r["numpy_ms"] > 0 and r["vs_numpy"] > 0
    table = benchmark.format_table(rows, N, np.float32)
    assert table.count("\n") >= len(rows) + 2 and "× copy BW" in table and "gelu erf | forward" in table


def test_gelu_erf_row_times_the_exact_form():
    case = next(c for c in benchmark.activation_cases(["gelu erf"], 1024, np.float32) if c.kind == "forward")
    x = benchmark._data(1024, np.float32)[0]
    np.testing.assert_array_equal(case.allocating(), fastact.gelu(x))
    assert not np.array_equal(case.allocating(), fastact.gelu(x, approximate="tanh"))
    np.testing.assert_allclose(case.numpy(), fastact.gelu(x), rtol=1e-6, atol=1e-30)


def test_cli_bench_runs_and_refuses_unknown_names(capsys):
    assert cli.main(["bench", "--size", str(N), "--repeat", "1", "--quiet", "--only", "sigmoid,gelu erf"]) == 0
    out = capsys.readouterr().out
    assert "sigmoid | forward" in out and "gelu erf | backward" in out
    assert cli.main(["bench", "--size", str(N), "--only", "nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err
    assert cli.main(["bench", "--size", str(N), "--suite", "nosuch"]) == 2


def test_comparison_libraries_compute_float64_in_float64():
    """JAX computes float64 input in float32 unless told otherwise: the bench would time it on half the bytes."""
    libs = benchmark.comparisons()
    if not libs:
        pytest.skip("neither PyTorch nor JAX is installed")
    for lib, (convert, fns) in libs.items():
        a = convert(np.linspace(-3, 3, 64))
        out = fns["gelu erf"][0](a)
        assert "float64" in str(out.dtype), (lib, out.dtype)
        np.testing.assert_allclose(np.asarray(out), fastact.gelu(np.linspace(-3, 3, 64)), rtol=1e-12, atol=1e-300)
