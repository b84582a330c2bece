"""Placement on sparse traffic (neurocomp.mapping.place, chips): the same slots as from the dense
matrix, and its traffic x hops equal to an independent dense count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from neurocomp.mapping.chips import place_on_board
from neurocomp.mapping.place import slot_coords
from neurocomp.target import load_target


def _dense_cost(traffic: np.ndarray, slots: np.ndarray, coords: np.ndarray) -> float:
    xy = coords[slots][:, :2]
    hops = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2)
    return float((traffic * hops).sum())


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 300), st.floats(0.002, 0.2), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_sparse_and_dense_traffic_place_alike(n, density, chips, seed):
    rng = np.random.default_rng(seed)
    t = sparse.random(n, n, density=density, random_state=rng, format="csr") * 50
    t.setdiag(0)
    t.eliminate_zeros()
    spec = load_target("reference", chips=max(chips, -(-n // 128)))
    slots_s, rep_s = place_on_board(t, spec)
    slots_d, rep_d = place_on_board(t.toarray(), spec)
    assert np.array_equal(slots_s, slots_d) and rep_s == rep_d
    assert len(set(slots_s.tolist())) == n  # one core per slot
    coords = slot_coords(spec)
    assert rep_s["traffic_hops"] == pytest.approx(_dense_cost(t.toarray(), slots_s, coords))
    assert rep_s["traffic_hops"] <= rep_s["greedy_traffic_hops"]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(0, 200), st.integers(0, 2**32 - 1))
def test_pair_hops_are_the_hop_matrices_entries(n, pairs, seed):
    """`PairHops` (what energy counting indexes per traffic edge) equals the dense matrices."""
    from neurocomp.mapping.place import PairHops, hop_matrices

    rng = np.random.default_rng(seed)
    coords = rng.integers(0, 12, (n, 3))
    a, b = rng.integers(0, n, pairs), rng.integers(0, n, pairs)
    for axis, dense in enumerate(hop_matrices(coords)):
        got = PairHops(coords, axis)[a, b]
        assert got.dtype == dense.dtype
        assert np.array_equal(got, dense[a, b])
