"""Block sizing: the compiled per-size maxima (neurocomp.mapping.kernels) equal the direct
count of every block (block_stats), and numpy's path gives the same."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from neurocomp.mapping import kernels, sizing
from neurocomp.mapping.split import LayerSynapses, block_stats
from neurocomp.target import load_target


def _layer(seed: int, n: int, axons: int, p: float, two: bool, delayed: bool, kernel: bool):
    rng = np.random.default_rng(seed)
    sources = {"a": sparse.csr_matrix((rng.random((n, axons)) < p).astype(np.int32))}
    if two:  # a second source, some pairs reached by two projections (multiplicity 2)
        b = (rng.random((n, axons // 2 + 1)) < p).astype(np.int32)
        b += (rng.random(b.shape) < p / 2) & (b > 0)
        sources["b"] = sparse.csr_matrix(b)
    spec = load_target("loihi2" if seed % 2 else "reference")
    delay = frozenset({"a"}) if delayed else frozenset()
    shared = {"b": 640} if two and kernel else {}
    layer = LayerSynapses(spec, "x", sources, delay, shared, n, by_neuron=seed % 4 == 0)
    return spec, sources, delay, shared, layer


def _direct(spec, sources, delay, shared, n, size, whole):
    """The most bits and axons of one block, counted block by block."""
    starts = range(0, n if whole or n % size == 0 else n - size + 1, size)
    stats = [block_stats(spec, "x", a, min(a + size, n), sources, delay, shared) for a in starts]
    return size, max(s.synapse_bits for s in stats), max(s.input_axons for s in stats)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 90),
    st.integers(1, 70),
    st.floats(0.02, 1.0),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_measured_maxima_equal_the_direct_count(n, axons, p, two, delayed, kernel, whole, seed):
    spec, sources, delay, shared, layer = _layer(seed, n, axons, p, two, delayed, kernel)
    sizes = sorted({1, n, *np.random.default_rng(seed).integers(1, n + 1, 5).tolist()})
    got = sizing.measure(layer, sizes, whole)
    assert got == [_direct(spec, sources, delay, shared, n, s, whole) for s in sizes]


@pytest.mark.skipif(not kernels.available(), reason="numba not installed or NEUROCOMP_NO_JIT")
def test_compiled_and_numpy_paths_agree_on_a_banded_layer(monkeypatch):
    rng = np.random.default_rng(3)
    n, fan = 3000, 40
    cols = np.sort(
        np.clip(np.arange(n)[:, None] + rng.integers(-60, 60, (n, fan)), 0, n - 1), axis=1
    )
    w = sparse.csr_matrix((np.ones(n * fan), (np.repeat(np.arange(n), fan), cols.ravel())))
    w.data[:] = 1
    w.sum_duplicates()
    w.data = w.data.astype(np.int32)
    spec = load_target("reference")
    layer = LayerSynapses(spec, "x", {"a": w}, frozenset(), {}, n)
    sizes = sizing._grid(1, 1024)
    compiled = sizing.measure(layer, sizes, False)
    monkeypatch.setattr(kernels, "available", lambda: False)
    assert sizing.measure(layer, sizes, False) == compiled


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=60))  # bits: whole numbers
def test_partition_min_compiled_equals_numpy(values):
    from neurocomp.mapping import bound

    single = np.array([0.0, *values], dtype=np.float64)
    want = bound.partition_min_py(single)
    assert np.array_equal(bound._partition_min(single), want)
    for k in range(1, min(len(single), 9)):  # brute force over the partitions of small k
        assert want[k] == min(sum(single[m] for m in p) for p in _partitions(k))


def _partitions(k: int, most: int | None = None):
    most = k if most is None else most
    if k == 0:
        yield ()
        return
    for m in range(min(k, most), 0, -1):
        for rest in _partitions(k - m, m):
            yield (m, *rest)


def _block_words_loop(n, s, ms, umax, spec, entry, dense):
    """The definition, one block size at a time (the loop `_block_words` vectorises)."""
    from neurocomp.mapping.bound import LINE_FRACTIONS

    f = spec.synapse_format
    out = np.zeros(len(ms))
    for i, m in enumerate(ms):
        u = max(1, min(umax, int(m)))
        c = np.arange(1, u + 1, dtype=np.int64)
        dense_w = -(-(f.header_bits + int(m) * dense) // f.word_bits)
        phi = np.minimum(-(-(f.header_bits + c * entry) // f.word_bits), dense_w).astype(float)
        lists = max(float(n[i]), np.ceil(s[i] / u))
        best = 0.0
        for t in LINE_FRACTIONS:
            alpha = t * phi[0]
            beta = max(0.0, float(np.min((phi - alpha) / c)))
            best = max(best, alpha * lists + beta * s[i])
        out[i] = best
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 900), st.integers(0, 2**32 - 1))
def test_block_words_equals_its_definition(top, umax, seed):
    from neurocomp.mapping import bound

    rng = np.random.default_rng(seed)
    spec = load_target("loihi2" if seed % 2 else "reference")
    ms = bound._grid(top, bound.EXACT_COUNTS, bound.GRID_STEP)
    n = rng.integers(0, 50, len(ms)).astype(np.float64)
    s = np.sort(rng.random(len(ms)) * 5000)
    entry, dense = (18, 8) if seed % 3 else (24, 14)
    want = _block_words_loop(n, s, ms, umax, spec, entry, dense)
    assert np.array_equal(bound._block_words(n, s, ms, umax, spec, entry, dense), want)
