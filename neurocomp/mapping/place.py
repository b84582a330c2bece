"""Place cores on the mesh to minimise spike traffic x hops.

Slots are numbered chip by chip, tile by tile (row-major), core by core within a tile. A message
between cores of one tile costs no hop; otherwise the hops are the Manhattan distance between
tiles on the board (chips side by side along x). `greedy` puts core i in slot i; `metis`
recursively bisects the core traffic graph with METIS (pymetis) along the longer side of the
mesh region, then improves by pairwise swaps. The better of the two is kept and both are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from scipy import sparse

from ..target.spec import TargetSpec


def slot_coords(spec: TargetSpec, n_slots: int | None = None) -> np.ndarray:
    """(slot, 3) array: global tile x, tile y, tile id (unique per tile on the board)."""
    m = spec.mesh
    n = n_slots if n_slots is not None else spec.cores_available
    k = np.arange(n)
    chip, within = k // m.cores_per_chip, k % m.cores_per_chip
    tile = within // m.cores_per_tile
    tx, ty = tile % m.tiles_x + chip * m.tiles_x, tile // m.tiles_x
    return np.stack([tx, ty, chip * m.tiles_x * m.tiles_y + tile], axis=1)


def hop_matrices(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """East-west and north-south hops between every pair of the given slots."""
    ew = np.abs(coords[:, None, 0] - coords[None, :, 0])
    ns = np.abs(coords[:, None, 1] - coords[None, :, 1])
    return ew, ns


@dataclass(frozen=True)
class PairHops:
    """The entries of a hop matrix without the matrix: `hops[a, b]` (index arrays a, b) is
    |coords[a, axis] - coords[b, axis]|, as `hop_matrices(coords)[axis][a, b]`, in memory linear
    in the pairs asked for, not quadratic in the cores."""

    coords: np.ndarray
    axis: int

    def __getitem__(self, pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        a, b = pair
        c = self.coords[:, self.axis]
        return np.abs(c[a] - c[b])


Traffic: TypeAlias = "np.ndarray | sparse.spmatrix"  # messages per step, core a to core b


def as_sparse(traffic: Traffic) -> sparse.csr_matrix:
    """The traffic as CSR, explicit zeros dropped, indices sorted (a dense array is accepted)."""
    t = sparse.csr_matrix(traffic, dtype=np.float64)
    t.eliminate_zeros()
    t.sort_indices()
    return t


def cost(traffic: Traffic, placement: np.ndarray, coords: np.ndarray) -> float:
    """Sum of traffic[a, b] * hops between the slots of cores a and b (nonzero traffic only)."""
    t = as_sparse(traffic).tocoo()
    pa, pb = coords[placement[t.row]], coords[placement[t.col]]
    hops = np.abs(pa[:, 0] - pb[:, 0]) + np.abs(pa[:, 1] - pb[:, 1])
    return float((t.data * hops).sum())


@dataclass(frozen=True)
class _Graph:
    """Symmetric traffic among n cores as edge arrays sorted by (u, v): cheap to cut into the
    subgraphs of a bisection (no sparse-matrix objects per level)."""

    n: int
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray

    @classmethod
    def of(cls, sym: sparse.csr_matrix) -> _Graph:
        coo = sym.tocoo()
        order = np.lexsort((coo.col, coo.row))
        return cls(sym.shape[0], coo.row[order], coo.col[order], coo.data[order])

    def sub(self, keep: np.ndarray) -> _Graph:
        """The subgraph of the cores `keep` (ascending), renumbered in their order."""
        local = np.full(self.n, -1, dtype=np.int64)
        local[keep] = np.arange(len(keep))
        m = (local[self.u] >= 0) & (local[self.v] >= 0)
        return _Graph(len(keep), local[self.u[m]], local[self.v[m]], self.w[m])

    def times(self, x: np.ndarray) -> np.ndarray:
        """The traffic matrix times x."""
        return np.bincount(self.u, weights=self.w * x[self.v], minlength=self.n)


def _bisect(
    cores: list[int], slots: list[int], graph: _Graph, coords: np.ndarray, out: np.ndarray
) -> None:
    """Cores into slots by recursive bisection; `graph`: the traffic among `cores` (in their
    order), cut with them, so that each level takes time linear in its edges."""
    if len(cores) <= 1 or len(slots) <= 1 or len({coords[s, 2] for s in slots}) == 1:
        for c, s in zip(cores, slots, strict=False):
            out[c] = s
        return
    xs, ys = coords[slots, 0], coords[slots, 1]
    axis = 0 if np.ptp(xs) >= np.ptp(ys) else 1
    order = sorted(slots, key=lambda s: (coords[s, axis], coords[s, 1 - axis], s))
    half = len(order) // 2
    left_slots, right_slots = order[:half], order[half:]
    share = round(len(cores) * len(left_slots) / len(slots))
    n_left = min(len(left_slots), max(len(cores) - len(right_slots), share))
    parts = _metis_halves(graph, n_left)
    li, ri = np.flatnonzero(parts == 0), np.flatnonzero(parts == 1)
    _bisect([cores[i] for i in li], left_slots, graph.sub(li), coords, out)
    _bisect([cores[i] for i in ri], right_slots, graph.sub(ri), coords, out)


def _metis_halves(graph: _Graph, n_left: int) -> np.ndarray:
    """Split the cores of `graph` into exactly n_left | rest (side 0 | 1 of each), minimising
    the traffic cut (METIS + repair)."""
    n = graph.n
    side = np.array([0] * n_left + [1] * (n - n_left))
    off = graph.u != graph.v
    if n > 2 and graph.w.size and off.any():
        import pymetis

        # The traffic graph in CSR form, rows in order, neighbours ascending, no self loops.
        xadj = np.concatenate([[0], np.cumsum(np.bincount(graph.u[off], minlength=n))])
        weights = np.maximum(1, np.round(graph.w[off]).astype(np.int64))
        frac = n_left / n
        _, metis_parts = pymetis.part_graph(
            2,
            pymetis.CSRAdjacency(xadj.tolist(), graph.v[off].tolist()),
            eweights=weights.tolist(),
            tpwgts=[frac, 1 - frac],
        )
        side = np.asarray(metis_parts, dtype=np.int64)
    if (side == 0).sum() == n_left:
        return side
    # Repair sizes: move the cores with the least affinity to their side, the affinities kept
    # up to date from the moved core's edges.
    ptr = np.concatenate([[0], np.cumsum(np.bincount(graph.u, minlength=n))])
    to = np.stack([graph.times((side == 0).astype(float)), graph.times((side == 1).astype(float))])
    while (side == 0).sum() != n_left:
        src = 0 if (side == 0).sum() > n_left else 1
        cand = np.flatnonzero(side == src)
        m = int(cand[int(np.argmax(to[1 - src, cand] - to[src, cand]))])
        side[m] = 1 - src
        nb, w = graph.v[ptr[m] : ptr[m + 1]], graph.w[ptr[m] : ptr[m + 1]]
        to[src, nb] -= w
        to[1 - src, nb] += w
    return side


def compact_region(spec: TargetSpec, n_cores: int, coords: np.ndarray) -> list[int]:
    """Slots of the most square block of tiles (from the origin) that holds n_cores."""
    m = spec.mesh
    width_max = m.tiles_x * m.chips_per_board
    tiles = -(-n_cores // m.cores_per_tile)
    w = min(width_max, max(1, int(np.ceil(np.sqrt(tiles)))))
    h = -(-tiles // w)
    if h > m.tiles_y:
        h = m.tiles_y
        w = min(width_max, -(-tiles // h))
    inside = np.flatnonzero((coords[:, 0] < w) & (coords[:, 1] < h))
    return [int(s) for s in inside]


SWAP_LIMIT = 400  # cores; each pass costs O(n^3) operations


def _swap_improve(
    traffic: sparse.csr_matrix, placement: np.ndarray, coords: np.ndarray, passes: int = 3
) -> np.ndarray:
    """Pairwise swaps of cores' slots, best swap per core, while they lower the cost (up to
    SWAP_LIMIT cores: dense matrices there).

    Swapping a and b changes the cost by sum_k (S[a,k] - S[b,k]) (D[b,k] - D[a,k])
    + 2 S[a,b] D[a,b] (S symmetric traffic, D hops between current slots)."""
    best = placement.copy()
    n = len(best)
    if n > SWAP_LIMIT:
        return best
    sym = (traffic + traffic.T).toarray()
    for _ in range(passes):
        pos = coords[best]
        dist = np.abs(pos[:, None, 0] - pos[None, :, 0]) + np.abs(pos[:, None, 1] - pos[None, :, 1])
        improved = False
        for a in range(n):
            delta = ((sym[a][None, :] - sym) * (dist - dist[a][None, :])).sum(axis=1)
            delta += 2 * sym[a] * dist[a]
            delta[a] = 0.0
            b = int(np.argmin(delta))
            if delta[b] < -1e-9:
                best[a], best[b] = best[b], best[a]
                dist[[a, b]] = dist[[b, a]]
                dist[:, [a, b]] = dist[:, [b, a]]
                improved = True
        if not improved:
            break
    return best


def place(
    traffic: Traffic, spec: TargetSpec, method: str = "auto"
) -> tuple[np.ndarray, dict[str, float | str]]:
    """Slot of every core, and the traffic x hops of the greedy and partitioned placements.

    `traffic` (cores x cores, sparse or dense) is only read through its nonzero entries: time
    linear in them (plus the bisection's sorting of slots) above SWAP_LIMIT cores."""
    t = as_sparse(traffic)
    n = t.shape[0]
    coords = slot_coords(spec)
    greedy = np.arange(n)
    report: dict[str, float | str] = {"greedy_traffic_hops": cost(t, greedy, coords)}
    if method == "greedy" or n <= 1:
        report.update(method="greedy", traffic_hops=report["greedy_traffic_hops"])
        return greedy, report
    sym = as_sparse(t + t.T)
    part = np.full(n, -1, dtype=np.int64)
    _bisect(list(range(n)), compact_region(spec, n, coords), _Graph.of(sym), coords, part)
    part = _swap_improve(t, part, coords)
    greedy_cost, metis_cost = float(report["greedy_traffic_hops"]), cost(t, part, coords)
    report["metis_traffic_hops"] = metis_cost
    if metis_cost <= greedy_cost:
        report.update(method="metis", traffic_hops=metis_cost)
        return part, report
    report.update(method="greedy", traffic_hops=greedy_cost)
    return greedy, report
