"""Packing blocks into cores: the exact packing is optimal (against brute force), every
packing holds every limit, and the reported lower bound never exceeds the cores found."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurocomp as nc
from neurocomp.mapping.pack import pack_blocks, simple_bound, spread

from conftest import zoo_file

LIMITS = np.array([10, 10, 10])


def _fits(use: np.ndarray, core: np.ndarray, limits: np.ndarray) -> bool:
    used = np.zeros((int(core.max()) + 1, use.shape[1]), dtype=np.int64)
    np.add.at(used, core, use)
    return bool(np.all(used <= limits))


def _brute_force(use: np.ndarray, limits: np.ndarray) -> int:
    """The fewest cores over every assignment of the blocks (small cases only)."""
    n = len(use)
    for cores in range(1, n + 1):
        for assign in itertools.product(range(cores), repeat=n):
            if assign[0] == 0 and _fits(use, np.array(assign), limits):
                return cores
    return n


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 10)] * 3), min_size=1, max_size=7))
def test_packing_is_optimal_on_small_cases(rows):
    use = np.array(rows, dtype=np.int64)
    p = pack_blocks(use, LIMITS, np.zeros(len(use), dtype=np.int64))
    assert _fits(use, p.core, LIMITS)
    assert p.cores == int(p.core.max()) + 1 == _brute_force(use, LIMITS)
    assert simple_bound(use, LIMITS) <= p.lower_bound <= p.cores


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(*[st.integers(0, 10)] * 3), min_size=1, max_size=120),
    st.integers(1, 4),
)
def test_every_packing_holds_the_limits_and_the_bound_holds(rows, layers):
    use = np.array(rows, dtype=np.int64)
    group = np.arange(len(use)) * layers // len(use)
    p = pack_blocks(use, LIMITS, group)
    assert _fits(use, p.core, LIMITS)
    assert simple_bound(use, LIMITS) <= p.lower_bound <= p.cores
    even = spread(use, LIMITS, group, p.cores)
    if even is not None:
        assert _fits(use, even, LIMITS)
        for g in np.unique(group):  # each layer in contiguous runs, in core order
            assert np.all(np.diff(even[group == g]) >= 0)


def test_zoo_cnn_packing_bound_is_reported_and_below_the_cores():
    prog = nc.compile(nc.load(zoo_file("cnn_sinabs.nir"), framework="nir"))
    lb = prog.mapping.lower_bound
    assert lb["cores"] <= lb["packing"] <= prog.summary.cores_used
    assert prog.summary.cores_lower_bound_packing == lb["packing"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=40),
    st.integers(1, 6),
    st.booleans(),
    st.integers(0, 2**31 - 1),
)
def test_first_fit_skipping_full_cores_chooses_as_the_plain_first_fit(
    blocks, window, shuffled, seed
):
    from neurocomp.mapping import pack

    use = np.array(blocks, dtype=np.int64)
    limits = np.array([6, 6], dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(use)) if shuffled else np.arange(len(use))
    old, pack.FIRST_FIT_WINDOW = pack.FIRST_FIT_WINDOW, window
    try:
        got = pack.first_fit_order(use, limits, order)
    finally:
        pack.FIRST_FIT_WINDOW = old
    want = np.full(len(use), -1)
    used: list[np.ndarray] = []
    for i in order:  # every open core of the latest `window`, the first that fits
        lo = max(0, len(used) - window)
        k = next((k for k in range(lo, len(used)) if np.all(used[k] + use[i] <= limits)), None)
        if k is None:
            k = len(used)
            used.append(np.zeros(2, dtype=np.int64))
        used[k] += use[i]
        want[i] = k
    assert np.array_equal(got, want)


@pytest.mark.parametrize("name", ["cnn_sinabs.nir", "braille_noDelay_bias_zero.nir"])
def test_compiled_destinations_equal_the_sparse_products(name, monkeypatch):
    """`destinations` compiled (two passes over the synapses) and by scipy's sparse products:
    the same matrices, dtypes included (a recurrent net: two projections from one source)."""
    from neurocomp.mapping import kernels, pack

    if not kernels.available():
        pytest.skip("numba not installed or NEUROCOMP_NO_JIT")
    prog = nc.compile(nc.load(zoo_file(name)))
    where, n = prog.mapping.neuron_core, prog.mapping.cores_used
    got = pack.destinations(prog.net, where, n)
    monkeypatch.setattr(kernels, "available", lambda: False)
    want = pack.destinations(prog.net, where, n)
    assert got.keys() == want.keys()
    for key, w in want.items():
        g = got[key]
        assert g.shape == w.shape and g.has_sorted_indices
        for a, b in ((g.indptr, w.indptr), (g.indices, w.indices), (g.data, w.data)):
            assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("name", ["cnn_sinabs.nir", "braille_noDelay_bias_zero.nir"])
def test_destinations_merged_from_blocks_equal_those_of_the_cores(name):
    """The packing's destinations from the destinations per block (what repeated packings for
    output axons reuse): the same matrices as counted from the synapses for those cores."""
    from neurocomp.mapping import pack

    prog = nc.compile(nc.load(zoo_file(name)))
    cores = prog.mapping.cores
    blocks = [b for c in cores for b in c.blocks]
    core_of = np.array([c.index for c in cores for _ in c.blocks])
    alone = pack.neuron_cores(prog.net, [pack.Core(i, [b]) for i, b in enumerate(blocks)])
    by_block = pack.destinations(prog.net, alone, len(blocks))
    got = pack.merge_destinations(by_block, core_of, len(cores))
    want = pack.destinations(prog.net, prog.mapping.neuron_core, len(cores))
    assert got.keys() == want.keys()
    for key, w in want.items():
        g = got[key]
        assert g.shape == w.shape
        for a, b in ((g.indptr, w.indptr), (g.indices, w.indices), (g.data, w.data)):
            assert a.dtype == b.dtype and np.array_equal(a, b)
