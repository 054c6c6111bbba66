"""Scalar helpers that the declarations use and every target (CPU, CUDA, simulator) can compile."""
import numpy as np
from numba.core import types
from numba.extending import overload


def K(x, value):
    """`value` as a constant of x's float type, so float32 code stays float32."""
    return type(x)(value)


@overload(K, target="generic")
def _K(x, value):
    if x == types.float32:
        return lambda x, value: np.float32(value)
    if x == types.float64:
        return lambda x, value: np.float64(value)
    return None
