"""Place cores on the mesh to minimise spike traffic x hops.

Slots are numbered chip by chip, tile by tile (row-major), core by core within a tile. A message
between cores of one tile costs no hop; otherwise the hops are the Manhattan distance between
tiles on the board (chips side by side along x). `greedy` puts core i in slot i; `metis`
recursively bisects the core traffic graph with METIS (pymetis) along the longer side of the
mesh region, then improves by pairwise swaps. The better of the two is kept and both are reported.
"""

from __future__ import annotations

import numpy as np

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


def cost(traffic: np.ndarray, placement: np.ndarray, coords: np.ndarray) -> float:
    """Sum of traffic[a, b] * hops between the slots of cores a and b (nonzero traffic only)."""
    a, b = np.nonzero(traffic)
    pa, pb = coords[placement[a]], coords[placement[b]]
    hops = np.abs(pa[:, 0] - pb[:, 0]) + np.abs(pa[:, 1] - pb[:, 1])
    return float((traffic[a, b] * hops).sum())


def _bisect(
    cores: list[int], slots: list[int], sym: np.ndarray, coords: np.ndarray, out: np.ndarray
) -> None:
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
    parts = _metis_halves(cores, sym, n_left)
    left = [c for c, p in zip(cores, parts, strict=True) if p == 0]
    right = [c for c, p in zip(cores, parts, strict=True) if p == 1]
    _bisect(left, left_slots, sym, coords, out)
    _bisect(right, right_slots, sym, coords, out)


def _metis_halves(cores: list[int], sym: np.ndarray, n_left: int) -> list[int]:
    """Split `cores` into exactly n_left | rest, minimising the traffic cut (METIS + repair)."""
    n = len(cores)
    sub = sym[np.ix_(cores, cores)]
    parts = [0] * n_left + [1] * (n - n_left)
    if n > 2 and sub.any():
        import pymetis

        # The traffic graph in CSR form, rows in order, neighbours ascending, no self loops.
        off = sub.copy()
        np.fill_diagonal(off, 0)
        rows, cols = np.nonzero(off)
        xadj = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]).tolist()
        adjncy = cols.tolist()
        weights = np.maximum(1, np.round(off[rows, cols]).astype(np.int64)).tolist()
        if adjncy:
            frac = n_left / n
            _, metis_parts = pymetis.part_graph(
                2,
                pymetis.CSRAdjacency(xadj, adjncy),
                eweights=weights,
                tpwgts=[frac, 1 - frac],
            )
            parts = list(metis_parts)
    # Repair sizes: move the cores with the least affinity to their side.
    parts_arr = np.array(parts)
    while (parts_arr == 0).sum() != n_left:
        src = 0 if (parts_arr == 0).sum() > n_left else 1
        cand = np.flatnonzero(parts_arr == src)
        gain = sub[np.ix_(cand, np.flatnonzero(parts_arr != src))].sum(axis=1) - sub[
            np.ix_(cand, cand)
        ].sum(axis=1)
        parts_arr[cand[int(np.argmax(gain))]] = 1 - src
    return [int(p) for p in parts_arr]


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
    traffic: np.ndarray, placement: np.ndarray, coords: np.ndarray, passes: int = 3
) -> np.ndarray:
    """Pairwise swaps of cores' slots, best swap per core, while they lower the cost.

    Swapping a and b changes the cost by sum_k (S[a,k] - S[b,k]) (D[b,k] - D[a,k])
    + 2 S[a,b] D[a,b] (S symmetric traffic, D hops between current slots)."""
    best = placement.copy()
    n = len(best)
    if n > SWAP_LIMIT:
        return best
    sym = traffic + traffic.T
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
    traffic: np.ndarray, spec: TargetSpec, method: str = "auto"
) -> tuple[np.ndarray, dict[str, float | str]]:
    """Slot of every core, and the traffic x hops of the greedy and partitioned placements."""
    n = traffic.shape[0]
    coords = slot_coords(spec)
    greedy = np.arange(n)
    report: dict[str, float | str] = {"greedy_traffic_hops": cost(traffic, greedy, coords)}
    if method == "greedy" or n <= 1:
        report.update(method="greedy", traffic_hops=report["greedy_traffic_hops"])
        return greedy, report
    sym = traffic + traffic.T
    part = np.full(n, -1, dtype=np.int64)
    _bisect(list(range(n)), compact_region(spec, n, coords), sym, coords, part)
    part = _swap_improve(traffic, part, coords)
    greedy_cost, metis_cost = float(report["greedy_traffic_hops"]), cost(traffic, part, coords)
    report["metis_traffic_hops"] = metis_cost
    if metis_cost <= greedy_cost:
        report.update(method="metis", traffic_hops=metis_cost)
        return part, report
    report.update(method="greedy", traffic_hops=greedy_cost)
    return greedy, report
