"""The configuration LP's core bound (neurocomp.mapping.bound): never above the fewest cores of
any split into contiguous blocks and any packing (found by exhaustive search on tiny networks),
never below the simple bound, and below what the mapper uses on real networks."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from neurocomp.ir.integer import IntNetwork, IntPopulation, IntProjection
from neurocomp.mapping import bound, lower_bound, lower_bound_lp
from neurocomp.mapping.split import (
    block_stats,
    conv_sources,
    delayed_sources,
    incoming_by_source,
    neuron_order,
)
from neurocomp.program.folder import _toml_shape
from neurocomp.target import load_target, spec_from_dict
from neurocomp.target.spec import TargetSpec


def _chip(neurons: int, words: int, axons: int, out: int) -> TargetSpec:
    raw = _toml_shape(load_target("reference").to_dict())
    raw["mesh"].update(tiles_x=8, tiles_y=1, cores_per_tile=4)
    raw["core"].update(
        neurons=neurons, synapse_memory_bits=64 * words, input_axons=axons, output_axons=out
    )
    raw["name"] = "tiny"
    return spec_from_dict(raw, "tiny.toml")


def _pop(name: str, n: int) -> IntPopulation:
    z = np.zeros(n, np.int64)
    return IntPopulation(name, "LIF", (n,), z, z, z, np.ones(n), threshold=z + 1)


def _conv_net(
    rng: np.random.Generator, c_in: int, c_out: int, out_hw: tuple[int, int], k: int, pad: int
) -> IntNetwork:
    """input (c_in, H, W) -> one conv layer (c_out, *out_hw), stride 1, kernel k x k with random
    zero taps, expanded to its synapses (the pattern the split sees)."""
    oh, ow = out_hw
    ih, iw = oh + k - 1 - 2 * pad, ow + k - 1 - 2 * pad
    taps = rng.random((c_out, c_in, k, k)) < 0.7
    taps[:, 0, pad, pad] = True  # every output has an input
    w = np.zeros((c_out, oh, ow, c_in, ih, iw), dtype=np.int64)
    for o, ci, dy, dx in zip(*np.nonzero(taps), strict=True):
        for y in range(oh):
            for x in range(ow):
                yy, xx = y + dy - pad, x + dx - pad
                if 0 <= yy < ih and 0 <= xx < iw:
                    w[o, y, x, ci, yy, xx] = 1
    n = c_out * oh * ow
    z = np.zeros(n, np.int64)
    pop = IntPopulation("c", "LIF", (c_out, oh, ow), z, z, z, np.ones(n), threshold=z + 1)
    proj = IntProjection("w", "in", "c", sparse.csr_matrix(w.reshape(n, -1)))
    return IntNetwork({"in": (c_in, ih, iw)}, (pop,), (proj,), {"out": "c"}, 12)


def _net(rng: np.random.Generator, n_in: int, sizes: list[int], p: float) -> IntNetwork:
    pops, projs, prev, prev_n = [], [], "in", n_in
    for k, n in enumerate(sizes):
        w = (rng.random((n, prev_n)) < p).astype(np.int64)
        w[np.arange(n), rng.integers(0, prev_n, n)] = 1  # every neuron has an input
        pops.append(_pop(f"p{k}", n))
        projs.append(IntProjection(f"w{k}", prev, f"p{k}", sparse.csr_matrix(w)))
        prev, prev_n = f"p{k}", n
    return IntNetwork({"in": (n_in,)}, tuple(pops), tuple(projs), {"out": prev}, 12)


def _partitions(n: int):
    """Every set partition of range(n), as the part of each item (restricted growth strings)."""

    def grow(prefix: list[int], top: int):
        if len(prefix) == n:
            yield list(prefix)
            return
        for part in range(top + 2):
            yield from grow([*prefix, part], max(top, part))

    yield from grow([], -1)


def _fewest_cores(net: IntNetwork, spec: TargetSpec) -> int | None:
    """The fewest cores over every split into contiguous blocks and every packing of the
    blocks, by the mapper's own block count (block_stats) and output axons (distinct cores a
    neuron has synapses on); None where nothing fits."""
    lim = spec.core
    per_layer = []
    for pop in net.populations:
        order = neuron_order(pop)
        sources = {k: w[order] for k, w in incoming_by_source(net, pop).items()}
        delayed, kernels = delayed_sources(net, pop), conv_sources(net, pop, spec)
        options = []
        for cuts in itertools.product([False, True], repeat=pop.size - 1):
            bounds = [0, *(i + 1 for i, c in enumerate(cuts) if c), pop.size]
            options.append(
                [
                    block_stats(spec, pop.name, a, b, sources, delayed, kernels)
                    for a, b in zip(bounds[:-1], bounds[1:], strict=True)
                ]
            )
        per_layer.append(options)
    targets = {  # per (population, neuron): the (population, neuron) pairs it reaches
        (pr.pre, j): [(pr.post, int(i)) for i in pr.weight.getcol(j).nonzero()[0]]
        for pr in net.projections
        if pr.pre in {p.name for p in net.populations}
        for j in range(pr.weight.shape[1])
    }
    best = None
    for blocks in itertools.product(*per_layer):
        flat = [b for layer in blocks for b in layer]
        for part in _partitions(len(flat)):
            n_cores = max(part) + 1
            if best is not None and n_cores >= best:
                continue
            where = {}
            use = np.zeros((n_cores, 3), dtype=np.int64)
            for b, c in zip(flat, part, strict=True):
                use[c] += (b.neurons, b.synapse_bits, b.input_axons)
                for i in range(b.start, b.stop):
                    where[(b.population, i)] = c
            if np.any(use > [lim.neurons, lim.synapse_memory_bits, lim.input_axons]):
                continue
            out = np.zeros(n_cores, dtype=np.int64)
            for key, reach in targets.items():
                out[where[key]] += len({where[t] for t in reach})
            if np.all(out <= lim.output_axons):
                best = n_cores
    return best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 4),
    st.lists(st.integers(1, 3), min_size=1, max_size=2),
    st.floats(0.2, 1.0),
    st.integers(1, 4),
    st.integers(1, 8),
    st.integers(1, 6),
    st.integers(1, 8),
    st.integers(0, 2**32 - 1),
)
def test_the_lp_bound_is_below_every_split_and_packing(
    n_in, sizes, p, neurons, words, axons, out, seed
):
    net = _net(np.random.default_rng(seed), n_in, sizes, p)
    spec = _chip(neurons, words, axons, out)
    fewest = _fewest_cores(net, spec)
    lp = lower_bound_lp(net, spec)
    simple = lower_bound(net, spec)["cores"]
    assert lp.cores >= simple
    if fewest is not None:
        assert simple <= fewest
        assert lp.cores <= fewest, (lp, fewest)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 2),
    st.sampled_from([(1, 1, 4), (1, 2, 3), (2, 1, 3), (2, 2, 1), (1, 3, 2), (1, 1, 6)]),
    st.sampled_from([(2, 0), (3, 1)]),
    st.integers(1, 4),
    st.integers(1, 8),
    st.integers(1, 12),
    st.integers(0, 2**32 - 1),
)
def test_the_lp_bound_is_below_every_split_of_a_conv_layer(
    c_in, shape, kernel, neurons, words, axons, seed
):
    """Conv layers (position-major block order, halos, borders): exhaustive over every
    contiguous split and packing."""
    c_out, oh, ow = shape
    net = _conv_net(np.random.default_rng(seed), c_in, c_out, (oh, ow), *kernel)
    spec = _chip(neurons, words, axons, 8)
    fewest = _fewest_cores(net, spec)
    lp = lower_bound_lp(net, spec)
    assert lp.cores >= lower_bound(net, spec)["cores"]
    if fewest is not None:
        assert lp.cores <= fewest, (lp, fewest)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 9), st.floats(0.05, 0.9), st.integers(0, 2**32 - 1))
def test_window_floors_are_the_least_over_every_window(size, n_axons, p, seed):
    rng = np.random.default_rng(seed)
    w = sparse.csr_matrix((rng.random((size, n_axons)) < p).astype(np.int64))
    src = bound._Source(np.diff(w.indptr), np.zeros(0, np.int64), 1, 1, None, w)
    ms = np.arange(1, size + 1)
    dense = w.toarray() != 0
    brute = [min(int(dense[a : a + m].any(axis=0).sum()) for a in range(size - m + 1)) for m in ms]
    assert list(bound._window_axons(bound._runs([src]), size, ms)) == brute
    fan = dense.sum(axis=1)
    least = [min(int(fan[a : a + m].sum()) for a in range(size - m + 1)) for m in ms]
    assert list(bound._window_synapses(fan, ms)) == least


def test_halos_raise_the_lp_bound():
    """A 1-d 3-tap conv over 8 positions, 4 neurons and 4 input axons per core: m consecutive
    neurons need m + 2 axons (m + 1 at a border), so a core holds at most 3: the LP says 3
    where the simple bound (8 / 4) says 2; the exhaustive fewest is 3."""
    w = sparse.csr_matrix(sum(np.eye(8, k=d, dtype=np.int64) for d in (-1, 0, 1)))
    z = np.zeros(8, np.int64)
    pop = IntPopulation("c", "LIF", (8,), z, z, z, np.ones(8), threshold=z + 1)
    net = IntNetwork({"in": (8,)}, (pop,), (IntProjection("w", "in", "c", w),), {"o": "c"}, 12)
    spec = _chip(neurons=4, words=64, axons=4, out=8)
    lp = lower_bound_lp(net, spec)
    assert (lower_bound(net, spec)["cores"], lp.cores, _fewest_cores(net, spec)) == (2, 3, 3)


def test_the_lp_bound_can_beat_the_simple_one():
    """input -> 3 -> 3, all to all, 3 neurons and 1 output axon per core: the simple bound
    counts neurons (6 / 3 = 2); every neuron of the first layer sends to at least one core, so
    a core holds at most one of them (the LP's floors): 3; the exhaustive fewest is 4."""
    net = _net(np.random.default_rng(0), 2, [3, 3], 1.0)
    spec = _chip(neurons=3, words=8, axons=8, out=1)
    lp = lower_bound_lp(net, spec)
    assert (lower_bound(net, spec)["cores"], lp.cores, _fewest_cores(net, spec)) == (2, 3, 4)
    assert lp.method == "configuration LP"


def test_the_lp_bound_on_real_networks_is_between_the_simple_bound_and_the_cores_used():
    import neurocomp as nc

    from conftest import zoo_file

    for target in ("reference", "loihi2"):
        prog = nc.compile(nc.load(zoo_file("cnn_sinabs.nir"), framework="nir"), target=target)
        s = prog.summary
        assert s.cores_lower_bound <= s.cores_lower_bound_lp <= s.cores_used
        # 1.1e6 synapses: the compile's LP leaves out the window floors, lower_bound_lp not
        assert s.cores_lower_bound_lp_method == "configuration LP (without the window floors)"
        assert prog.mapping.lower_bound["lp"] == s.cores_lower_bound_lp
        tight = lower_bound_lp(prog.net, prog.target)
        assert tight.method == "configuration LP"
        assert s.cores_lower_bound_lp <= tight.cores <= s.cores_used


def test_a_network_of_many_layers_keeps_the_simple_bound_and_says_so():
    net = _net(np.random.default_rng(1), 3, [2] * 25, 0.5)
    spec = _chip(neurons=4, words=8, axons=8, out=8)
    lp = lower_bound_lp(net, spec)
    assert lp.cores == lower_bound(net, spec)["cores"]
    assert lp.method == "simple (LP skipped: 25 > 24 layers)"


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 9),
    st.floats(0.05, 0.9),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_window_words_are_the_least_over_every_window(size, n_axons, p, delayed, seed):
    from neurocomp.mapping.split import _entry_bits, list_bits

    rng = np.random.default_rng(seed)
    w = sparse.csr_matrix((rng.random((size, n_axons)) < p).astype(np.int64))
    spec = _chip(4, 8, 8, 8)
    dense_bits = spec.format.weight_bits + (spec.synapse_format.delay_bits if delayed else 0)
    src = bound._Source(
        np.diff(w.indptr), np.zeros(0, np.int64), _entry_bits(spec, delayed), dense_bits, None, w
    )
    ms = np.arange(1, size + 1)
    a = w.toarray()
    brute = [
        min(list_bits(a[s : s + m].sum(axis=0), spec, m, delayed) for s in range(size - m + 1))
        // spec.synapse_format.word_bits
        for m in ms
    ]
    assert list(bound._window_words([src, src], size, ms, spec)) == [2 * b for b in brute]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 9),
    st.integers(1, 6),
    st.floats(0.1, 0.9),
    st.integers(1, 5),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
)
def test_the_split_bits_are_below_every_split(size, n_in, p, neurons, words, seed):
    """`LayerCosts.split_bits` (the layer's least synapse bits over every split into blocks
    that fit a core) against every contiguous split, by `block_stats`."""
    net = _net(np.random.default_rng(seed), n_in, [size], p)
    spec = _chip(neurons, words, 64, 64)
    pop = net.populations[0]
    lc = bound.layer_costs(net, spec, pop)
    sources = incoming_by_source(net, pop)
    best = None
    for cuts in itertools.product([False, True], repeat=size - 1):
        ends = [0, *(i + 1 for i, c in enumerate(cuts) if c), size]
        blocks = [
            block_stats(spec, "p0", a, b, sources) for a, b in zip(ends[:-1], ends[1:], strict=True)
        ]
        if all(
            b.neurons <= neurons and b.synapse_bits <= spec.core.synapse_memory_bits for b in blocks
        ):
            total = sum(b.synapse_bits for b in blocks)
            best = total if best is None else min(best, total)
    if best is not None:
        assert lc.split_bits <= best
    assert lc.split_bits > 0 or best is None or best == 0


def test_a_compile_takes_the_window_floors_up_to_its_synapse_cap(monkeypatch):
    import neurocomp as nc
    import neurocomp.mapping as mapping

    net = nc.load(_conv_stack_graph())
    prog = nc.compile(net)
    assert prog.summary.cores_lower_bound_lp_method == "configuration LP"
    assert prog.summary.cores_lower_bound_lp == lower_bound_lp(prog.net, prog.target).cores
    monkeypatch.setattr(mapping, "COMPILE_WINDOW_SYNAPSES", prog.net.synapses - 1)
    fast = nc.compile(net).summary
    assert fast.cores_lower_bound_lp_method == "configuration LP (without the window floors)"
    assert prog.summary.cores_lower_bound <= fast.cores_lower_bound_lp
    assert fast.cores_lower_bound_lp <= prog.summary.cores_lower_bound_lp


def _conv_stack_graph():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from generate import conv_stack

    return conv_stack(4, 8, 2)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 12), min_size=1, max_size=30),
    st.lists(st.integers(1, 12), min_size=0, max_size=30),
)
def test_axon_floors_at_every_count_equal_the_count_by_count_rule(indeg, outdeg):
    """`_axons` (vectorised over the counts) against the rule applied to one count at a time:
    the k-th smallest in-degree, and the fewest axons whose reach min(out-degree, k) covers the
    k smallest in-degrees' synapses."""
    o = -np.sort(-np.array(outdeg, dtype=np.int64))
    src = bound._Source(np.array(indeg, np.int64), o, 1, 1, None, sparse.csr_matrix((1, 1)))
    ks = np.arange(1, len(indeg) + 1)
    got = bound._axons(src, ks)
    ind = np.sort(indeg)
    for k, g in zip(ks, got, strict=True):
        need = int(ind[:k].sum())
        if not o.size:
            assert g == 0
            continue
        reach = np.cumsum(np.minimum(o, k))
        fewest = int(np.searchsorted(reach, need, side="left")) + (1 if need > 0 else 0)
        fewest = min(fewest if need > 0 else 0, o.size)
        assert g == max(int(ind[k - 1]), fewest), (k, g)


def test_stopping_at_the_simple_bound_gives_the_full_generations_cores():
    """Column generation stops once the master's value rounds up to at most the simple bound;
    the cores are those of generation run to its end (simple 0: no early stop) on networks
    where the LP ends at the simple bound (conv stacks, banded) and where it rises above it."""
    import sys
    from pathlib import Path

    import neurocomp as nc
    from neurocomp.mapping import _layer_totals

    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from generate import banded, conv_stack

    from conftest import zoo_file

    nets = [
        nc.load(conv_stack(8, 12, 2)),
        banded([600, 500, 400], 30),
        nc.load(zoo_file("cnn_sinabs.nir")),
    ]
    stopped = 0
    for net in nets:
        prog = nc.compile(net)
        spec, inet = prog.target, prog.net
        simple = lower_bound(inet, spec)["cores"]
        totals = _layer_totals(inet, spec)
        full = bound.lp_bound(inet, spec, 0, totals, windows=False)
        early = bound.lp_bound(inet, spec, simple, totals, windows=False)
        assert early.cores == max(simple, full.cores)
        stopped += early.columns < full.columns
    assert stopped  # the early stop happened somewhere
