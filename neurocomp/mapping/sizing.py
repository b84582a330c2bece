"""Block sizes per layer, chosen before the one split: the sizes whose blocks pack into the
fewest cores.

A block's synapse memory is not proportional to its neurons: an input axon pays a list header
per block, and a dense list (a weight for every neuron of the block) beats a sparse one (weight
and index per synapse) only in small blocks. So the cheapest neurons per core of a layer can
come from several small blocks per core rather than one large one, and layers bound by
different resources (a wide conv by neurons, the next by synapse memory) fill each other's
cores only with blocks small enough to share. Each layer's blocks are measured on a sample of
the layer (its middle rows) for a grid of sizes; for every k, the largest size of which k blocks
fit one core is a candidate; the combination of candidates is chosen by packing the blocks each
implies (first fit decreasing over identical blocks, exact for them) layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..ir.integer import IntNetwork, IntPopulation
from ..target.spec import TargetSpec
from . import kernels
from .pack import SPREAD_TRIES
from .split import LayerSynapses, block_unit

SAMPLE_SYNAPSES = 1 << 18  # synapses of the sample each size is measured on
GRID = 40  # sizes measured per layer (all multiples of the unit where fewer)
ROUNDS = 3  # coordinate-descent rounds over the layers
MAX_COMBINATIONS = 1 << 20  # combinations of sizes ranked by their fluid bound
MAX_ESTIMATES = 300  # packings estimated per network (a work bound: deterministic)


@dataclass(frozen=True)
class Candidate:
    """Blocks of `size` neurons: their count and the most of each resource one of them uses."""

    size: int
    blocks: int
    use: tuple[int, int, int]  # neurons, synapse bits, input axons


def _grid(unit: int, top: int) -> list[int]:
    steps = top // unit
    if steps <= GRID:
        return [unit * k for k in range(1, steps + 1)]
    geo = np.unique(np.round(np.geomspace(1, steps, GRID)).astype(np.int64))
    return [int(unit * k) for k in geo]


def candidates(net: IntNetwork, spec: TargetSpec, pop: IntPopulation) -> list[Candidate]:
    """Sizes worth trying for `pop`: for each k, the largest of which k blocks fit one core."""
    lim = spec.core
    unit = min(block_unit(pop), lim.neurons)
    n = pop.size
    incoming = sum(int(pr.weight.nnz) for pr in net.projections_into(pop.name))
    per_neuron = max(1.0, incoming / max(n, 1))
    rows = max(2 * lim.neurons, int(SAMPLE_SYNAPSES / per_neuron))
    rows = min(n, rows - rows % unit if rows > unit else rows)
    start = (n - rows) // 2
    start -= start % unit
    whole = rows == n
    sample = None if whole else np.arange(start, start + rows)
    layer = LayerSynapses.of(net, spec, pop, sample, by_neuron=True)
    measured = measure(layer, _grid(unit, min(lim.neurons, rows)), whole)
    out: dict[int, Candidate] = {}
    for k in range(1, lim.neurons + 1):
        fit = [
            m
            for m in measured
            if k * m[0] <= lim.neurons
            and k * m[1] <= lim.synapse_memory_bits
            and k * m[2] <= lim.input_axons
        ]
        if not fit:
            break
        top, bits, axons = max(fit)
        out.setdefault(top, Candidate(top, -(-n // top), (top, bits, axons)))
    if not out:  # not even one block of one unit fits: the split reports why
        size = unit
        out[size] = Candidate(size, -(-n // size), (size, 0, 0))
    return sorted(out.values(), key=lambda c: -c.size)


def measure(layer: LayerSynapses, sizes: list[int], whole: bool) -> list[tuple[int, int, int]]:
    """(size, most synapse bits, most input axons) of one block of `layer` split into blocks
    of each size; the last, shorter block left out unless `whole` (the layer, not a sample).
    Compiled where numba is (`neurocomp.mapping.kernels`: the same integers), else one
    `evaluate` per size."""
    rows = layer.size
    full = np.array([not whole and rows % s != 0 for s in sizes], dtype=bool)
    if kernels.available():
        f = layer.spec.synapse_format
        lists = [(x.indptr, x.rows, x.mult, x.entry, x.dense, x.kernel) for x in layer.lists]
        by_neuron = layer.by_neuron
        if by_neuron is None:  # the same patterns by neuron, from the lists by axon
            by_neuron = [
                sparse.csc_matrix(
                    (
                        np.ones(len(x.rows), np.int32) if x.mult is None else x.mult,
                        x.rows,
                        x.indptr,
                    ),
                    shape=(rows, len(x.indptr) - 1),
                ).tocsr()
                for x in layer.lists
            ]
        bits, axons = kernels.size_maxima(
            np.array(sizes, dtype=np.int64),
            rows,
            full,
            lists,
            [(w.indptr, w.indices, w.data) for w in by_neuron],
            f.header_bits,
            f.word_bits,
        )
        return [(s, int(b), int(a)) for s, b, a in zip(sizes, bits, axons, strict=True)]
    out = []
    for size, drop in zip(sizes, full, strict=True):
        arr = layer.evaluate(np.append(np.arange(0, rows, size, dtype=np.int64), rows))
        keep = slice(0, -1) if drop else slice(None)
        out.append((size, int(arr.synapse_bits[keep].max()), int(arr.input_axons[keep].max())))
    return out


def pack_identical(groups: list[tuple[np.ndarray, int]], limits: np.ndarray) -> int:
    """Cores that first fit, in the order given, packs `count` identical blocks of each
    (use, count) group into: each group fills the open cores in order, then new ones."""
    free = np.zeros((0, len(limits)), dtype=np.int64)
    for use, count in groups:
        use = np.asarray(use, dtype=np.int64)
        pos = use > 0
        if count <= 0:
            continue
        if not pos.any():
            continue
        if free.shape[0]:
            room = np.min(free[:, pos] // use[pos], axis=1)
            take = np.minimum(room, np.maximum(0, count - (np.cumsum(room) - room)))
            free -= take[:, None] * use
            count -= int(take.sum())
        if count > 0:
            per_core = int(np.min(limits[pos] // use[pos]))
            full, rest = divmod(count, per_core)
            new = np.repeat(limits[None, :] - per_core * use, full, axis=0)
            if rest:
                new = np.vstack([new, limits - rest * use])
            free = np.vstack([free, new])
    return int(free.shape[0])


def spread_identical(groups: list[tuple[np.ndarray, int]], limits: np.ndarray, cores: int) -> bool:
    """Whether the even spread (neurocomp.mapping.pack.spread) of identical blocks over
    `cores` cores fits."""
    used = np.zeros((cores, len(limits)), dtype=np.int64)
    offset = 0
    for use, count in groups:
        q, rem = divmod(count, cores)
        extra = (np.arange(cores) - offset) % cores < rem
        used += (q + extra.astype(np.int64))[:, None] * np.asarray(use, dtype=np.int64)
        offset = (offset + rem) % cores
    return bool(np.all(used <= limits))


def estimate(choice: list[Candidate], limits: np.ndarray) -> tuple[int, int]:
    """(cores, blocks) of a choice of candidates: the fewer cores of first fit decreasing and
    the even spread of every layer (the two packings `pack` tries that matter here)."""
    groups = [(np.array(c.use), c.blocks) for c in choice]
    share = [max(u / lim for u, lim in zip(c.use, limits, strict=True)) for c in choice]
    order = sorted(range(len(choice)), key=lambda i: (-share[i], i))
    cores = pack_identical([groups[i] for i in order], limits)
    total = np.sum([np.asarray(u) * k for u, k in groups], axis=0)
    low = max(1, int(np.max(-(-total // limits))))
    for c in range(low, min(cores, low + SPREAD_TRIES)):
        if spread_identical(groups, limits, c):
            cores = c
            break
    return cores, sum(c.blocks for c in choice)


def _fluid(options: list[list[Candidate]], limits: np.ndarray) -> np.ndarray:
    """max over resources of total / limit for every combination (one candidate per layer),
    as an array with one axis per layer."""
    total = np.zeros([len(o) for o in options] + [len(limits)])
    for i, opts in enumerate(options):
        per = np.array([np.asarray(c.use, dtype=np.float64) * c.blocks for c in opts])
        shape = [1] * len(options) + [len(limits)]
        shape[i] = len(opts)
        total = total + per.reshape(shape)
    return np.max(total / limits, axis=-1)


def choose(options: list[list[Candidate]], spec: TargetSpec) -> list[Candidate]:
    """One candidate per layer, fewest estimated cores then fewest blocks.

    Combinations are estimated in order of their fluid bound (max over resources of total /
    limit) until that bound reaches the best estimate (no later one can beat it) or
    MAX_ESTIMATES were made; with more than MAX_COMBINATIONS, coordinate descent instead."""
    lim = spec.core
    limits = np.array([lim.neurons, lim.synapse_memory_bits, lim.input_axons], dtype=np.int64)
    n_combos = int(np.prod([len(o) for o in options], dtype=np.float64))
    if n_combos <= MAX_COMBINATIONS:
        fluid = _fluid(options, limits)
        order = np.argsort(fluid, axis=None, kind="stable")
        best: tuple[int, int] | None = None
        choice: list[Candidate] = []
        for flat in order[:MAX_ESTIMATES]:
            if best is not None and np.ceil(fluid.flat[flat] - 1e-9) >= best[0]:
                break
            idx = np.unravel_index(flat, fluid.shape)
            trial = [opts[int(k)] for opts, k in zip(options, idx, strict=True)]
            score = estimate(trial, limits)
            if best is None or score < best:
                best, choice = score, trial
        return choice
    return _descend(options, limits)


def _descend(options: list[list[Candidate]], limits: np.ndarray) -> list[Candidate]:
    """Coordinate descent from each layer's most neurons per core alone."""

    def alone(c: Candidate) -> tuple[int, int]:
        return estimate([c], limits)

    choice = [min(opts, key=alone) for opts in options]
    best = estimate(choice, limits)
    for _ in range(ROUNDS):
        improved = False
        for i, opts in enumerate(options):
            for c in opts:
                trial = [*choice[:i], c, *choice[i + 1 :]]
                score = estimate(trial, limits)
                if score < best:
                    best, choice, improved = score, trial, True
        if not improved:
            break
    return choice
