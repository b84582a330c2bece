"""The vectorised splitter: block costs equal the per-block reference count (block_stats), and
every split covers each neuron once with every block within a core."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from neurocomp.mapping.split import LayerSynapses, block_stats, split_layer
from neurocomp.target import load_target


def _sources(seed: int, n: int, axons: int, p: float, two: bool) -> dict[str, sparse.csr_matrix]:
    rng = np.random.default_rng(seed)
    a = sparse.csr_matrix((rng.random((n, axons)) < p).astype(np.int32))
    out = {"a": a}
    if two:  # a second source, some pairs reached by two projections (multiplicity 2)
        b = (rng.random((n, axons // 2 + 1)) < p).astype(np.int32)
        b += (rng.random(b.shape) < p / 2) & (b > 0)
        out["b"] = sparse.csr_matrix(b)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 80),
    st.integers(1, 70),
    st.floats(0.02, 1.0),
    st.booleans(),
    st.booleans(),
    st.lists(st.integers(1, 80), max_size=6),
    st.integers(0, 2**32 - 1),
)
def test_block_costs_equal_the_reference_count(n, axons, p, two, delayed, cuts, seed):
    spec = load_target("loihi2" if seed % 2 else "reference")
    sources = _sources(seed, n, axons, p, two)
    delay = frozenset({"a"}) if delayed else frozenset()
    kernels = {"b": 640} if two and seed % 3 == 0 else {}
    layer = LayerSynapses(spec, "x", sources, delay, kernels, n)
    bounds = np.array(sorted({0, n, *(c % n for c in cuts)}))
    got = layer.evaluate(bounds).blocks("x")
    for blk, (a, b) in zip(got, zip(bounds[:-1], bounds[1:], strict=True), strict=True):
        want = block_stats(spec, "x", int(a), int(b), sources, delay, kernels)
        assert blk == want


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 120),
    st.integers(1, 90),
    st.floats(0.02, 1.0),
    st.integers(1, 120),
    st.integers(4, 40),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
)
def test_split_covers_every_neuron_once_within_every_limit(n, axons, p, size, neurons, unit, seed):
    base = load_target("reference")
    core = dataclasses.replace(
        base.core, neurons=neurons, synapse_memory_bits=64 * 40, input_axons=60
    )
    spec = dataclasses.replace(base, core=core)
    sources = _sources(seed, n, axons, p, seed % 2 == 0)
    layer = LayerSynapses(spec, "x", sources, frozenset(), {}, n)
    arr, violations = split_layer(layer, spec, size, None, unit)
    if arr is None:  # only when one neuron alone exceeds a core
        assert violations
        alone = layer.evaluate(np.arange(n + 1))
        assert not alone.fits(core, core.neurons).all()
        return
    assert not violations
    blocks = arr.blocks("x")
    assert blocks[0].start == 0 and blocks[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(blocks[:-1], blocks[1:], strict=True))
    for blk in blocks:
        assert blk == block_stats(spec, "x", blk.start, blk.stop, sources)
        assert blk.neurons <= core.neurons
        assert blk.synapse_bits <= core.synapse_memory_bits
        assert blk.input_axons <= core.input_axons


def test_lower_bound_from_the_split_lists_equals_the_direct_one():
    """map_network takes the network bound from the lists the split sorts (no second pass)."""
    import neurocomp as nc
    from neurocomp.mapping import lower_bound, split_network

    from conftest import zoo_file

    for target in ("reference", "loihi2"):
        prog = nc.compile(nc.load(zoo_file("cnn_sinabs.nir"), framework="nir"), target=target)
        split, _ = split_network(prog.net, prog.target)
        assert split.bound == lower_bound(prog.net, prog.target)
        assert prog.mapping.lower_bound["cores"] == split.bound["cores"]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 40),
    cols=st.integers(1, 40),
    density=st.floats(0.0, 1.0),
    dtype=st.sampled_from([np.int8, np.int32, np.float64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_transpose_equals_scipys_tocsc(rows, cols, density, dtype, seed):
    from neurocomp.mapping.split import transpose

    rng = np.random.default_rng(seed)
    w = sparse.random(rows, cols, density, format="csr", random_state=rng)
    w = sparse.csr_matrix(((w.data * 9).astype(dtype), w.indices, w.indptr), shape=w.shape)
    got, want = transpose(w), w.tocsc()
    assert got.shape == want.shape and got.dtype == want.dtype and got.has_sorted_indices
    for a, b in ((got.indptr, want.indptr), (got.indices, want.indices), (got.data, want.data)):
        assert a.dtype == b.dtype and np.array_equal(a, b)
