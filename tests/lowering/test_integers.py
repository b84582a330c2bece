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
    one_scale=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_chunked_rounding_equals_whole_matrix_rounding(rows, cols, density, chunk, one_scale, seed):
    rng = np.random.default_rng(seed)
    w = sparse.csr_matrix(sparse.random(rows, cols, density, format="csr", random_state=rng))
    w.data = w.data * 20 - 10  # signed, some rounding to zero
    scale = np.full(rows, 0.7) if one_scale else rng.uniform(0.3, 3.0, rows)
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


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(0, 30),
    cols=st.integers(1, 30),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_integers_written_over_the_float_weights_are_the_same(rows, cols, density, seed):
    rng = np.random.default_rng(seed)
    w = sparse.csr_matrix(sparse.random(rows, cols, density, format="csr", random_state=rng))
    w.data = w.data * 20 - 10  # signed, some rounding to zero (then the indices are copied)
    scale = rng.uniform(0.3, 3.0, rows)
    want = integers.int_weights(w, scale)
    got = integers.int_weights(w.copy(), scale, reuse=True)
    assert got.dtype == np.int64 and got.shape == want.shape
    for a, b in ((got.indptr, want.indptr), (got.indices, want.indices), (got.data, want.data)):
        assert np.array_equal(a, b)


def test_compile_writes_integers_over_its_own_float_weights_only():
    """compile lowers in place into the quantize pass's weights: the caller's network is
    untouched, a second compile of it gives the same program, and weights tied between two
    projections are read before either is overwritten."""
    import neurocomp as nc
    from neurocomp.ir.network import Network, NeuronParams, Population, Projection
    from neurocomp.ir.ops import Matrix
    from neurocomp.lowering import to_integers
    from neurocomp.passes import Quantize
    from neurocomp.passes.base import PassContext
    from neurocomp.target.spec import load_target

    rng = np.random.default_rng(0)
    w = sparse.random(40, 30, 0.3, format="csr", random_state=rng)
    w.data = w.data - 0.3
    params = NeuronParams(np.full(40, 0.1), np.ones(40), np.zeros(40), np.zeros(40), np.ones(40))
    op = Matrix(w, (30,), (40,))
    net = Network(
        {"x": (30,)},
        (Population("a", (40,), "LIF", params), Population("b", (40,), "LIF", params)),
        (Projection("p", "x", "a", (op,)), Projection("q", "x", "b", (op,))),  # tied
        {"out": "b"},
        dt=1e-3,
    )
    before = w.copy()
    first, second = nc.compile(net), nc.compile(net)
    assert np.array_equal(w.data, before.data) and np.array_equal(w.indices, before.indices)
    for a, b in zip(first.net.projections, second.net.projections, strict=True):
        assert (a.weight != b.weight).nnz == 0
    spec = load_target("reference")
    quantized = Quantize().run(net, PassContext(options={"format": spec.format})).network
    p, q = quantized.projections
    tied = dataclasses.replace(quantized, projections=(p, dataclasses.replace(q, ops=p.ops)))
    plain, _ = to_integers(tied, spec)
    reused, _ = to_integers(tied, spec, reuse_weights=True)
    for a, b in zip(plain.projections, reused.projections, strict=True):
        assert (a.weight != b.weight).nnz == 0 and a.weight.nnz == b.weight.nnz


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


def test_lowering_in_place_only_where_no_held_network_shares_the_weights():
    from neurocomp.compiler import _owns_weights
    from neurocomp.ir.network import Network, NeuronParams, Population, Projection
    from neurocomp.ir.ops import Matrix

    w = sparse.random(5, 4, 0.5, format="csr", random_state=np.random.default_rng(1))
    params = NeuronParams(np.ones(5), np.ones(5), np.zeros(5), np.zeros(5), np.ones(5))

    def net(m: sparse.csr_matrix) -> Network:
        pr = Projection("p", "x", "a", (Matrix(m, (4,), (5,)),))
        return Network({"x": (4,)}, (Population("a", (5,), "LIF", params),), (pr,), {}, 1e-3)

    held = net(w)
    assert not _owns_weights(held, (held,))  # the same network
    assert not _owns_weights(net(w), (held,))  # the same matrix
    view = sparse.csr_matrix((w.data[:], w.indices, w.indptr), shape=w.shape, copy=False)
    assert not _owns_weights(net(view), (held,))  # views of its arrays
    assert _owns_weights(net(w.copy()), (held,))
