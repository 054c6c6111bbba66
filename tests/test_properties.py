"""Hypothesis: random shapes, strides and values against the reference."""
import numpy as np
from _tools import CASES, check_backward, check_forward, fast, ref
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOATS32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


@st.composite
def strided_arrays(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9))
    base = draw(hnp.arrays(dtype, shape, elements=FLOATS32))
    if base.ndim:
        steps = tuple(draw(st.sampled_from([1, 2, -1])) for _ in shape)
        base = base[tuple(slice(None, None, s) for s in steps)]
        if draw(st.booleans()):
            base = base.T
    return base


@settings(max_examples=150, deadline=None)
@given(x=strided_arrays(), case=st.sampled_from(CASES))
def test_random_arrays_match_reference(x, case):
    name, params = case
    f, b = fast(name)
    rf, rb = ref(name)
    keep = x.copy()
    with np.errstate(all="ignore"):
        want = rf(x, **params)
        dwant = rb(np.ones_like(x), x, **params)
    y = f(x, **params)
    assert y.shape == x.shape and y.dtype == x.dtype
    check_forward(name, params, x, y, want)
    check_backward(name, params, x, np.ones_like(x), b(np.ones_like(x), x, **params), dwant)
    np.testing.assert_array_equal(x, keep)
