"""The quantize pass's chunked weight rounding against the whole-matrix formula it replaces."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from neurocomp.passes import quantize


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(0, 30),
    cols=st.integers(1, 30),
    density=st.floats(0.0, 1.0),
    chunk=st.integers(1, 40),
    one_scale=st.booleans(),
    qmax=st.sampled_from([1, 7, 127]),
    seed=st.integers(0, 2**31 - 1),
)
def test_chunked_weight_rounding_equals_the_whole_matrix_rounding(
    rows, cols, density, chunk, one_scale, qmax, seed
):
    rng = np.random.default_rng(seed)
    w = sparse.csr_matrix(sparse.random(rows, cols, density, format="csr", random_state=rng))
    w.data = w.data * 20 - 10
    s = np.full(rows, 0.07) if one_scale else rng.uniform(0.03, 0.3, rows)
    old, quantize.ROW_CHUNK = quantize.ROW_CHUNK, chunk  # chunks of a few synapses
    try:
        got, clipped = quantize._quantized(w, s, qmax)
    finally:
        quantize.ROW_CHUNK = old
    per = np.repeat(s, np.diff(w.indptr))
    steps = np.round(w.data / per)
    assert clipped == int(np.count_nonzero(np.abs(steps) > qmax))
    assert np.array_equal(got, np.clip(steps, -qmax, qmax) * per)  # bit for bit
