"""Compilation settings shared by every CPU kernel."""
import functools

import numba

# Contraction to FMA only: no nnan/ninf (they break NaN propagation and masks), no reassoc (it breaks the
# Cody-Waite range reductions in vecmath).
FASTMATH = {"contract"}
# Reductions may be reordered so that they vectorize; still no nnan/ninf.
FASTMATH_REDUCE = {"contract", "reassoc", "nsz"}

JIT_OPTIONS = {"fastmath": FASTMATH, "error_model": "numpy"}
cpu_jit = functools.partial(numba.njit, cache=True, nogil=True, **JIT_OPTIONS)
