"""Integer weights rounded in chunks, and the conv-kernel check done one channel at a time,
against the direct whole-matrix computations they replace."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from neurocomp.ir.ops import Conv
from neurocomp.lowering import integers


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(0, 30),
    cols=st.integers(1, 30),
    density=st.floats(0.0, 1.0),
    chunk=st.integers(1, 40),
    seed=st.integers(0, 2**31 - 1),
)
def test_chunked_rounding_equals_whole_matrix_rounding(rows, cols, density, chunk, seed):
    rng = np.random.default_rng(seed)
    w = sparse.csr_matrix(sparse.random(rows, cols, density, format="csr", random_state=rng))
    w.data = w.data * 20 - 10  # signed, some rounding to zero
    scale = rng.uniform(0.3, 3.0, rows)
    old = integers.ROUND_CHUNK
    integers.ROUND_CHUNK = chunk  # chunks of a few synapses; rows longer than a chunk too
    try:
        got = integers.int_weights(w, scale)
    finally:
        integers.ROUND_CHUNK = old
    want = sparse.csr_matrix(
        (np.round(w.data / np.repeat(scale, np.diff(w.indptr))).astype(np.int64), w.indices,
         w.indptr), shape=w.shape,
    )  # fmt: skip
    want.eliminate_zeros()
    assert got.dtype == np.int64
    for a, b in ((got.indptr, want.indptr), (got.indices, want.indices), (got.data, want.data)):
        assert np.array_equal(a, b)
    assert got.indices is not w.indices  # the program owns its arrays


def _conv(groups: int, rng: np.random.Generator) -> Conv:
    kernel = rng.integers(-3, 4, (4, 4 // groups, 3, 3)).astype(np.int64)
    return Conv(kernel, stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=groups)


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_check_accepts_the_expansion_and_refuses_any_change(groups):
    rng = np.random.default_rng(groups)
    conv, shape = _conv(groups, rng), (4, 5, 6)
    weight = sparse.csr_matrix(conv.matrix(shape)).astype(np.int64)
    assert integers._expands_to(conv, shape, weight)
    pruned = weight.copy()
    pruned.data[7] = 0  # one synapse pruned on its own
    pruned.eliminate_zeros()
    assert not integers._expands_to(conv, shape, pruned)
    changed = weight.copy()
    changed.data[-1] += 1
    assert not integers._expands_to(conv, shape, changed)
    other = dataclasses.replace(conv, weight=conv.weight[::-1].copy())  # channels swapped
    assert integers._expands_to(other, shape, weight) == np.array_equal(other.weight, conv.weight)
