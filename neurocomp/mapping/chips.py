"""Assign cores to the chips of a board so that the fewest spike messages cross chips.

A message between chips goes over a chip-to-chip link (dearer in energy and time than a hop on
the mesh, `[board] chip_link_j`, `chip_link_s`), so on a board of several chips the cores are
first shared among the fewest chips that hold them, minimising the messages per step between
chips (the traffic matrix: calibration activity where the compiler has it, else the synapse
fan-out), then each chip's cores are placed on its mesh (`place.place`, one chip at a time).

The assignment: two starts, cores filling chips in network order ("naive") and a k-way METIS
partition of the traffic graph repaired to the chips' capacity, each refined by moving or
swapping single cores while that lowers the crossing traffic; the lower wins (the naive one on a
tie). Chips are then ordered along the board (side by side along x) to shorten the hops of what
crosses. Everything is deterministic. A board of one chip, or `placement="greedy"`, keeps
the naive order: core i in slot i.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from ..target.spec import TargetSpec
from .place import Traffic, as_sparse, cost, place, slot_coords

REFINE_PASSES = 20
SWAP_LIMIT = 2000  # cores; above it only moves refine (a swap pass costs O(cores^2))
BRUTE_FORCE_CHIPS = 8  # chip orders tried exhaustively up to this many chips (8! = 40320)
_EPS = 1e-9


@dataclass(frozen=True)
class ChipAssignment:
    """Which chip each core is on (0 .. chips_used - 1, in board order) and what crosses."""

    chip: np.ndarray  # (cores,)
    chips_used: int
    crossing: float  # messages per step between cores on different chips
    naive_crossing: float  # the same with cores filling chips in network order
    links: int  # ordered pairs of chips that carry messages
    method: str  # "naive" or "metis" (the start that won), "+refined" where moves helped


def crossing(traffic: Traffic, chip: np.ndarray) -> float:
    """Messages per step between cores on different chips (traffic[a, b]: a to b)."""
    t = as_sparse(traffic).tocoo()
    return float(t.data[chip[t.row] != chip[t.col]].sum())


def chip_links(traffic: Traffic, chip: np.ndarray) -> int:
    """Ordered chip pairs (a != b) with messages from a to b."""
    t = as_sparse(traffic).tocoo()
    a, b = chip[t.row], chip[t.col]
    other = a != b
    return int(np.unique(a[other] * (int(chip.max()) + 1) + b[other]).size) if other.any() else 0


def _connections(sym: sparse.csr_matrix, chip: np.ndarray, k: int) -> np.ndarray:
    """conn[i, q]: traffic between core i and the cores on chip q (dense: cores x chips)."""
    onehot = sparse.csr_matrix(
        (np.ones(len(chip)), (np.arange(len(chip)), chip)), shape=(len(chip), k)
    )
    return np.asarray((sym @ onehot).todense())


def _refine(sym: sparse.csr_matrix, chip: np.ndarray, cap: int, k: int) -> tuple[np.ndarray, bool]:
    """Move or swap single cores between chips while that cuts the crossing traffic.

    A move costs O(chips + the core's edges); swaps (O(cores) per core) only up to SWAP_LIMIT
    cores."""
    chip = chip.copy()
    conn = _connections(sym, chip, k)
    count = np.bincount(chip, minlength=k)
    dense = sym.toarray() if len(chip) <= SWAP_LIMIT else None
    changed = False
    for _ in range(REFINE_PASSES):
        improved = False
        for a in range(len(chip)):
            p = int(chip[a])
            gain = conn[a] - conn[a, p]
            gain[count >= cap] = -np.inf  # only chips with room take a move
            gain[p] = -np.inf
            q = int(np.argmax(gain))
            if gain[q] > _EPS:
                _move(conn, sym, count, chip, a, q)
                improved = True
                continue
            if dense is None:
                continue
            # swap a with a core b on another chip
            cb = chip
            swap = conn[a, cb] - conn[a, p] + conn[:, p] - conn[np.arange(len(chip)), cb]
            swap -= 2 * dense[a]
            swap[cb == p] = -np.inf
            b = int(np.argmax(swap))
            if swap[b] > _EPS:
                q = int(chip[b])
                _move(conn, sym, count, chip, a, q)
                _move(conn, sym, count, chip, b, p)
                improved = True
        changed |= improved
        if not improved:
            break
    return chip, changed


def _move(
    conn: np.ndarray, sym: sparse.csr_matrix, count: np.ndarray, chip: np.ndarray, a: int, q: int
) -> None:
    p = int(chip[a])
    lo, hi = sym.indptr[a], sym.indptr[a + 1]  # symmetric: row a is column a
    idx, w = sym.indices[lo:hi], sym.data[lo:hi]
    conn[idx, p] -= w
    conn[idx, q] += w
    count[p] -= 1
    count[q] += 1
    chip[a] = q


def _metis(sym: sparse.csr_matrix, k: int, cap: int) -> np.ndarray | None:
    """A k-way METIS partition of the traffic graph, repaired so that no chip holds more than
    `cap` cores (None where the graph has no edges)."""
    graph = as_sparse(sym - sparse.diags(sym.diagonal()))
    graph.data[graph.data < 0] = 0.0
    graph.eliminate_zeros()
    if not graph.nnz:
        return None
    import pymetis

    scale = 1000.0 / graph.data.max()
    weights = np.maximum(1, np.round(graph.data * scale).astype(np.int64)).tolist()
    _, parts = pymetis.part_graph(
        k,
        pymetis.CSRAdjacency(graph.indptr.tolist(), graph.indices.tolist()),
        eweights=weights,
    )
    chip = np.asarray(parts, dtype=np.int64)
    conn = _connections(sym, chip, k)
    count = np.bincount(chip, minlength=k)
    while count.max() > cap:  # move the core that loses least from an over-full chip
        p = int(np.argmax(count))
        cand = np.flatnonzero(chip == p)
        room = np.flatnonzero(count < cap)
        gain = conn[np.ix_(cand, room)] - conn[cand, p][:, None]
        i, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
        _move(conn, sym, count, chip, int(cand[i]), int(room[j]))
    return chip


def _order_chips(traffic: sparse.csr_matrix, chip: np.ndarray, k: int) -> np.ndarray:
    """Renumber chips (positions along the board's x) to shorten the chip distance of what
    crosses: every order for up to BRUTE_FORCE_CHIPS chips, else by mean core index."""
    onehot = sparse.csr_matrix(
        (np.ones(len(chip)), (np.arange(len(chip)), chip)), shape=(len(chip), k)
    )
    between = np.asarray((onehot.T @ traffic @ onehot).todense())
    between = between + between.T
    if k <= BRUTE_FORCE_CHIPS:
        perms = np.array(list(itertools.permutations(range(k))))  # perms[i, chip] = position
        dist = np.abs(perms[:, :, None] - perms[:, None, :])
        position = perms[int(np.argmin((dist * between).sum(axis=(1, 2))))]
    else:
        count = np.bincount(chip, minlength=k)
        total = np.bincount(chip, weights=np.arange(len(chip)), minlength=k)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)  # empty chips last
        position = np.argsort(np.argsort(mean, kind="stable"), kind="stable")
    return position[chip]


def assign_chips(traffic: Traffic, cores_per_chip: int, greedy: bool = False) -> ChipAssignment:
    """Chip of every core on the fewest chips of `cores_per_chip` cores, with the fewest
    messages per step crossing chips (see the module docstring)."""
    traffic = as_sparse(traffic)
    n = traffic.shape[0]
    k = max(1, math.ceil(n / cores_per_chip))
    naive = np.arange(n, dtype=np.int64) // cores_per_chip
    base = crossing(traffic, naive)
    if k == 1 or greedy:
        return ChipAssignment(naive, k, base, base, chip_links(traffic, naive), "naive")
    sym = as_sparse(traffic + traffic.T)
    sym = as_sparse(sym - sparse.diags(sym.diagonal()))
    best, best_cost, method = naive, base, "naive"
    starts = [("naive", naive), ("metis", _metis(sym, k, cores_per_chip))]
    for name, start in starts:
        if start is None:
            continue
        refined, changed = _refine(sym, start, cores_per_chip, k)
        c = crossing(traffic, refined)
        if c < best_cost - _EPS:
            best, best_cost, method = refined, c, name + ("+refined" if changed else "")
    chip = _order_chips(traffic, best, k)
    return ChipAssignment(chip, k, best_cost, base, chip_links(traffic, chip), method)


def place_on_board(
    traffic: Traffic, spec: TargetSpec, method: str = "auto"
) -> tuple[np.ndarray, dict[str, Any]]:
    """Slot of every core on a board of several chips, and the placement report with the chip
    assignment's figures. A one-chip board goes straight to `place.place` (unchanged)."""
    traffic = as_sparse(traffic)
    if spec.chips == 1:
        return place(traffic, spec, method)
    n = traffic.shape[0]
    per = spec.mesh.cores_per_chip
    assign = assign_chips(traffic, per, greedy=method == "greedy")
    one_chip = dataclasses.replace(spec, mesh=dataclasses.replace(spec.mesh, chips_per_board=1))
    slots = np.zeros(n, dtype=np.int64)
    methods = set()
    for q in range(assign.chips_used):
        idx = np.flatnonzero(assign.chip == q)
        local, rep = place(traffic[idx][:, idx], one_chip, method)
        slots[idx] = q * per + local
        methods.add(str(rep["method"]))
    # the slots in use only, not a whole board's (a 256-chip board: 32768 slots, MBs)
    coords = slot_coords(spec, int(max(slots.max(initial=0), n - 1)) + 1)
    report: dict[str, Any] = {
        "greedy_traffic_hops": cost(traffic, np.arange(n), coords),
        "method": "+".join(sorted(methods)),
        "traffic_hops": cost(traffic, slots, coords),
        "chip_method": assign.method,
        "chips_used": assign.chips_used,
        "chip_messages": assign.crossing,
        "chip_messages_naive": assign.naive_crossing,
        "chip_links": assign.links,
    }
    return slots, report


BOARD_KEYS = ("chips_used", "chip_messages", "chip_messages_naive", "chip_links")


def board_summary(placement: dict[str, Any]) -> dict[str, Any]:
    """The chip assignment's figures from a placement report (none on a one-chip board)."""
    return {k: placement[k] for k in BOARD_KEYS if k in placement}


def messages_between_chips(
    destinations: dict[str, sparse.csr_matrix],
    neuron_core: dict[str, np.ndarray],
    core_chip: np.ndarray,
    spikes: dict[str, np.ndarray],
) -> int:
    """Messages over chip links for the given spikes per neuron (source -> counts): each spike
    of a neuron sends one message to each core it targets on another chip."""
    total = 0
    for src, d in destinations.items():
        if src not in neuron_core or src not in spikes:
            continue
        coo = (d > 0).tocoo()
        other = core_chip[coo.col] != core_chip[neuron_core[src][coo.row]]
        per_neuron = np.bincount(coo.row[other], minlength=d.shape[0])
        total += int(np.asarray(spikes[src], np.int64).reshape(-1) @ per_neuron)
    return total


__all__ = [
    "BOARD_KEYS",
    "ChipAssignment",
    "assign_chips",
    "board_summary",
    "chip_links",
    "crossing",
    "messages_between_chips",
    "place_on_board",
]
