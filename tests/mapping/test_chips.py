"""Boards of several chips: cores shared among chips so that few messages cross between them,
the crossing messages counted as the bit-accurate engine counts them."""

from __future__ import annotations

import math
import warnings

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

import neurocomp as nc
from neurocomp.compiler import compile_network
from neurocomp.mapping.chips import _refine, assign_chips, crossing, messages_between_chips
from neurocomp.program.folder import _toml_shape
from neurocomp.target import load_target
from neurocomp.target.spec import spec_from_dict

from graphs import affine, lif

LAYER = 20  # neurons per layer = neurons per core of the tiny chip


def tiny_board_chip(cores_per_chip: int = 2):
    """The reference chip with cores of LAYER neurons, `cores_per_chip` cores per chip."""
    raw = _toml_shape(load_target("reference").to_dict())
    raw["mesh"].update(tiles_x=1, tiles_y=1, cores_per_tile=cores_per_chip)
    raw["core"]["neurons"] = LAYER
    return spec_from_dict(raw, "tiny-board.toml")


def two_chains(depth: int = 3, seed: int = 0) -> nc.Network:
    """Two independent chains of `depth` LIF layers from one input; the layers come in network
    order a0, b0, a1, b1, ..., so cores filling chips in order put the chains side by side."""
    rng = np.random.default_rng(seed)
    nodes: dict[str, nir.NIRNode] = {"in": nir.Input(input_type=np.array([8]))}
    edges = []
    for br in "ab":
        prev, n_prev = "in", 8
        for k in range(depth):
            nodes[f"f{br}{k}"] = affine(LAYER, n_prev, rng, 2.0)
            nodes[f"{br}{k}"] = lif(LAYER, rng)
            edges += [(prev, f"f{br}{k}"), (f"f{br}{k}", f"{br}{k}")]
            prev, n_prev = f"{br}{k}", LAYER
        nodes[f"out{br}"] = nir.Output(output_type=np.array([LAYER]))
        edges.append((prev, f"out{br}"))
    return nc.load(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=1e-4)


def _inputs(steps: int = 30, batch: int = 3, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, batch, 8)) < 0.3).astype(np.float32)


@pytest.fixture(scope="module")
def programs():
    net, spec, x = two_chains(), tiny_board_chip(), _inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        return {
            p: compile_network(net, spec, None, x[:, :2], None, 4, p) for p in ("greedy", "auto")
        }, x


def _independent_crossing(prog, x) -> int:
    """Messages over chip links counted from the recorded spikes: each spike of a neuron, one
    message per destination core on another chip (loops, not the library's count)."""
    m = prog.mapping
    spikes = prog.run(x, record=True, count=False).spikes
    total = 0
    for src, d in m.destinations.items():
        if src not in m.neuron_core:
            continue
        per_neuron = spikes[src].sum(axis=(0, 1)).reshape(-1)
        d = d.tocsr()
        for i in range(d.shape[0]):
            own = m.core_chip[m.neuron_core[src][i]]
            row = slice(d.indptr[i], d.indptr[i + 1])
            cores = d.indices[row][d.data[row] > 0]
            total += int(per_neuron[i]) * int((m.core_chip[cores] != own).sum())
    return total


def test_assignment_beats_cores_filling_chips_in_order(programs):
    progs, x = programs
    counted = {p: _independent_crossing(prog, x) for p, prog in progs.items()}
    assert 0 < counted["auto"] < counted["greedy"]
    for prog in progs.values():
        m, spec = prog.mapping, prog.target
        assert m.core_chip is not None and len(m.core_chip) == m.cores_used
        assert ((m.core_chip >= 0) & (m.core_chip < spec.chips)).all()
        assert np.bincount(m.core_chip).max() <= spec.mesh.cores_per_chip
        # the mapping's chip of a core is where its slot lies, as the usage table says
        assert list(m.core_chip) == [r["chip"] for r in m.usage_table(spec)]
        rep = m.placement
        assert rep["chips_used"] == math.ceil(m.cores_used / spec.mesh.cores_per_chip)
        assert rep["chip_links"] >= 1
    # the traffic model (calibration activity) agrees on the order
    auto, greedy = progs["auto"].mapping.placement, progs["greedy"].mapping.placement
    assert auto["chip_messages"] < auto["chip_messages_naive"] == greedy["chip_messages"]


def test_crossing_messages_equal_the_engine_counters(programs):
    progs, x = programs
    for prog in progs.values():
        m = prog.mapping
        rep = prog.energy(x).to_dict()
        spikes = prog.run(x, record=True, count=False).spikes
        per_neuron = {k: v.sum(axis=(0, 1)) for k, v in spikes.items()}
        counted = messages_between_chips(m.destinations, m.neuron_core, m.core_chip, per_neuron)
        assert rep["messages_chip"] == counted == _independent_crossing(prog, x)


def test_assignment_is_deterministic():
    net, spec, x = two_chains(), tiny_board_chip(), _inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        a, b = (compile_network(net, spec, None, x, None, 4).mapping for _ in range(2))
    assert (a.slots == b.slots).all() and a.placement == b.placement


def test_one_chip_board_keeps_the_single_chip_placement():
    net, x = two_chains(), _inputs()
    spec = tiny_board_chip(cores_per_chip=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        m = compile_network(net, spec, None, x, None, None).mapping
    assert set(m.core_chip) == {0} and "chips_used" not in m.placement


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 14),
    cap=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    density=st.floats(0.05, 0.8),
)
def test_assignment_respects_capacity_and_never_loses_to_the_naive_order(n, cap, seed, density):
    rng = np.random.default_rng(seed)
    traffic = rng.random((n, n)) * (rng.random((n, n)) < density)
    np.fill_diagonal(traffic, 0.0)
    a = assign_chips(traffic, cap)
    k = math.ceil(n / cap)
    assert a.chips_used == k and a.chip.shape == (n,)
    assert set(a.chip.tolist()) == set(range(k))  # every chip in use, numbered 0..k-1
    assert np.bincount(a.chip, minlength=k).max() <= cap
    naive = np.arange(n) // cap
    assert a.naive_crossing == pytest.approx(crossing(traffic, naive))
    assert a.crossing == pytest.approx(crossing(traffic, a.chip))
    assert a.crossing <= a.naive_crossing + 1e-9
    # no single move to a chip with room, nor swap of two cores, lowers what crosses
    for i in range(n):
        for q in range(k):
            if q == a.chip[i] or np.sum(a.chip == q) >= cap:
                continue
            moved = a.chip.copy()
            moved[i] = q
            assert crossing(traffic, moved) >= a.crossing - 1e-9
        for j in range(i + 1, n):
            swapped = a.chip.copy()
            swapped[i], swapped[j] = a.chip[j], a.chip[i]
            assert crossing(traffic, swapped) >= a.crossing - 1e-9


def test_refinement_swaps_cores_between_full_chips():
    # every chip full (6 cores, 3 per chip): no move is possible, only swaps improve
    traffic = np.zeros((6, 6))
    for group in ((0, 2, 4), (1, 3, 5)):
        for i in group:
            for j in group:
                traffic[i, j] = 5.0 if i != j else 0.0
    sym = sparse.csr_matrix(traffic + traffic.T)
    naive = np.arange(6) // 3
    refined, changed = _refine(sym, naive, 3, 2)
    assert changed and crossing(traffic, naive) == 40.0 and crossing(traffic, refined) == 0.0
    assert np.bincount(refined).tolist() == [3, 3]


def test_two_clusters_split_exactly():
    # two cliques of 3 cores joined by one light edge, cores interleaved in network order
    traffic = np.zeros((6, 6))
    for group in ((0, 2, 4), (1, 3, 5)):
        for i in group:
            for j in group:
                traffic[i, j] = 5.0 if i != j else 0.0
    traffic[0, 1] = 1.0
    a = assign_chips(traffic, 3)
    assert a.crossing == 1.0 and a.naive_crossing == crossing(traffic, np.arange(6) // 3) > 1
    assert a.chip[0] == a.chip[2] == a.chip[4] != a.chip[1] == a.chip[3] == a.chip[5]
