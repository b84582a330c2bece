"""Split populations into blocks that fit one core, against every per-core limit.

A block is a contiguous range of a population's neurons. Blocks grow neuron by neuron while the
core's neurons, synapse memory, input axons and fan-in still hold (nengo-loihi splits into equal
chunks; growing greedily keeps conv layers' shared inputs in one block). Synapse memory follows
the target's synapse-list format: each input axon owns ceil((header + n * entry) / word) words.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..errors import Violation
from ..ir.integer import IntNetwork, IntPopulation
from ..progress import advance
from ..target.spec import CoreLimits, TargetSpec


@dataclass(frozen=True)
class Block:
    """Neurons [start, stop) of a population and the core resources they need."""

    population: str
    start: int
    stop: int
    synapses: int
    synapse_bits: int
    input_axons: int
    fan_in: int  # the largest fan-in of one neuron in the block

    @property
    def neurons(self) -> int:
        return self.stop - self.start


def neuron_order(pop: IntPopulation) -> np.ndarray:
    """The order blocks take a population's neurons in: position-major for (C, H, W) and
    (C, L) layers, so a block holds every channel of a patch and shares its input axons;
    the given order otherwise. Blocks' start/stop index into this order."""
    idx = np.arange(pop.size)
    if len(pop.shape) == 3:
        return idx.reshape(pop.shape).transpose(1, 2, 0).reshape(-1)
    if len(pop.shape) == 2:
        return idx.reshape(pop.shape).transpose(1, 0).reshape(-1)
    return idx


def _entry_bits(spec: TargetSpec, delayed: bool = False) -> int:
    """Bits of one sparse synapse entry; the delay field only in lists of delayed synapses (and
    in a dense list of them, with each weight)."""
    f = spec.synapse_format
    return spec.format.weight_bits + f.index_bits + (f.delay_bits if delayed else 0)


def delayed_sources(net: IntNetwork, pop: IntPopulation) -> frozenset[str]:
    """Sources of `pop` with synaptic delays: their synapse lists carry the delay field."""
    return frozenset(pr.pre for pr in net.projections_into(pop.name) if pr.delay is not None)


def conv_sources(net: IntNetwork, pop: IntPopulation, spec: TargetSpec) -> dict[str, int]:
    """Sources of `pop` whose one projection is a shared convolution kernel, and the synapse
    memory that kernel takes in each core holding neurons of `pop` (its weights once, in whole
    words after a list header); an expanded list per axon for every other source."""
    f = spec.synapse_format
    into = net.projections_into(pop.name)
    out = {}
    for pr in into:
        if pr.conv is not None and sum(p.pre == pr.pre for p in into) == 1:
            taps = int(pr.conv.kernel.size)
            words = -(-(f.header_bits + taps * spec.format.weight_bits) // f.word_bits)
            out[pr.pre] = words * f.word_bits
    return out


def list_bits(
    counts: np.ndarray, spec: TargetSpec, block_neurons: int | None = None, delayed: bool = False
) -> int:
    """Synapse memory of axons with `counts` synapses each; the cheaper of sparse (weight +
    index per synapse) and dense (a weight for every neuron of the block) per axon."""
    f = spec.synapse_format
    counts = counts[counts > 0].astype(np.int64)
    sparse_words = -(-(f.header_bits + counts * _entry_bits(spec, delayed)) // f.word_bits)
    if block_neurons is not None:
        per = spec.format.weight_bits + (f.delay_bits if delayed else 0)
        dense = -(-(f.header_bits + block_neurons * per) // f.word_bits)
        sparse_words = np.minimum(sparse_words, dense)
    return int(sparse_words.sum()) * f.word_bits


CHUNK_SYNAPSES = 1 << 18  # per-synapse temporaries are made this many synapses at a time


def chunks(indptr: np.ndarray) -> list[tuple[int, int]]:
    """(first, stop) rows of a compressed sparse matrix, in runs of about `CHUNK_SYNAPSES`
    entries (a single row may hold more): bounded temporaries on 1e8-synapse networks."""
    nnz = int(indptr[-1])
    starts = np.searchsorted(indptr, np.arange(0, nnz, CHUNK_SYNAPSES), side="right") - 1
    bounds = [*dict.fromkeys(int(r) for r in starts), len(indptr) - 1]
    return list(zip(bounds[:-1], bounds[1:], strict=False))


def list_bits_lower(
    w: sparse.csr_matrix,
    spec: TargetSpec,
    order: np.ndarray | None = None,
    delayed: bool = False,
) -> int:
    """A lower bound of the synapse memory of the axons (columns) of `w` (rows: neurons, taken
    in `order` by the blocks), over every split into contiguous blocks. Per axon: one header;
    per synapse, the cheaper of a sparse entry and, in a dense list, the weights up to the
    axon's next target in block order (a dense list spans at least from its first to its last
    target); rounded up to whole words once per axon."""
    f = spec.synapse_format
    entry = _entry_bits(spec, delayed)
    wbits = spec.format.weight_bits + (f.delay_bits if delayed else 0)  # a dense list's entry
    by_axon = sparse.csc_matrix(w)
    by_axon.sort_indices()
    ptr = by_axon.indptr
    position = None
    if order is not None and np.any(order != np.arange(len(order))):
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
    total = 0
    for c0, c1 in chunks(ptr):  # whole axons at a time
        counts = np.diff(ptr[c0 : c1 + 1])
        cols = np.flatnonzero(counts)
        if cols.size == 0:
            continue
        targets = by_axon.indices[ptr[c0] : ptr[c1]].astype(np.int64)
        if position is not None:  # sort each axon's targets by their place in block order
            targets = position[targets]
            key = np.repeat(np.arange(c1 - c0, dtype=np.int64), counts) * len(position)
            key += targets
            key.sort()
            targets = key % len(position)
            del key
        gaps = np.ones(targets.size, dtype=np.int64)
        gaps[:-1] = np.diff(targets)
        first = ptr[c0 + cols] - ptr[c0]
        gaps[first + counts[cols] - 1] = 1  # an axon's last target closes its dense span
        cost = np.minimum(entry, wbits * gaps)
        per_axon = np.add.reduceat(cost, first) + f.header_bits
        total += int((-(-per_axon // f.word_bits)).sum()) * f.word_bits
    return total


def incoming_by_source(net: IntNetwork, pop: IntPopulation) -> dict[str, sparse.csr_matrix]:
    """Synapses onto `pop` grouped by source (projections from one source share its axons)."""
    out: dict[str, sparse.csr_matrix] = {}
    for pr in net.projections_into(pop.name):
        w = sparse.csr_matrix(pr.weight)
        if np.all(w.data != 0):  # the usual case: share the index arrays, add 4 B per synapse
            ones = np.ones(w.nnz, dtype=np.int32)
            w = sparse.csr_matrix((ones, w.indices, w.indptr), shape=w.shape, copy=False)
        else:
            w = (w != 0).astype(np.int32)
        out[pr.pre] = w if pr.pre not in out else sparse.csr_matrix(out[pr.pre] + w)
    return out


def _fits(neurons_before: int, bits: int, axons: int, cap: int, lim: CoreLimits) -> bool:
    """Whether one more neuron fits a block already holding `neurons_before` neurons."""
    return neurons_before < cap and bits <= lim.synapse_memory_bits and axons <= lim.input_axons


def block_stats(
    spec: TargetSpec,
    name: str,
    start: int,
    stop: int,
    sources: dict[str, sparse.csr_matrix],
    delayed: frozenset[str] = frozenset(),
    kernels: dict[str, int] | None = None,
) -> Block:
    syn = axons = bits = 0
    fan = np.zeros(stop - start, dtype=np.int64)
    for k, w in sources.items():
        part = w[start:stop]
        per_axon = np.asarray(part.sum(axis=0)).reshape(-1)
        syn += int(part.sum())
        axons += int(np.count_nonzero(per_axon))
        if kernels and k in kernels:
            bits += kernels[k] if part.nnz else 0
        else:
            bits += list_bits(per_axon, spec, stop - start, k in delayed)
        fan += np.asarray(part.sum(axis=1)).reshape(-1)
    return Block(name, start, stop, syn, bits, axons, int(fan.max()) if fan.size else 0)


class _SynapseLists:
    """Synapses per input axon of the block being grown, and what one more neuron costs."""

    def __init__(
        self,
        spec: TargetSpec,
        sources: dict[str, sparse.csr_matrix],
        delayed: frozenset[str] = frozenset(),
        kernels: dict[str, int] | None = None,
    ) -> None:
        self.format = spec.synapse_format
        self.entry = {k: _entry_bits(spec, k in delayed) for k in sources}
        self.kernels = kernels or {}
        self.started: set[str] = set()  # kernels already charged in this block
        self.sources = sources
        self.counts = {k: np.zeros(w.shape[1], dtype=np.int64) for k, w in sources.items()}

    def _words(self, n: np.ndarray, entry: int) -> np.ndarray:
        f = self.format
        return np.where(n > 0, -(-(f.header_bits + n * entry) // f.word_bits), 0)

    def cost(self, i: int) -> tuple[int, int, list[tuple[str, np.ndarray, np.ndarray]]]:
        """Synapse-memory bits and input axons that neuron i adds, and the axons it touches."""
        d_bits = d_axons = 0
        touched = []
        for k, w in self.sources.items():
            lo, hi = w.indptr[i], w.indptr[i + 1]
            if lo == hi:
                continue
            idx, mult = w.indices[lo:hi], w.data[lo:hi]
            old = self.counts[k][idx]
            if k in self.kernels:
                d_bits += 0 if k in self.started else self.kernels[k]
            else:
                e = self.entry[k]
                d_bits += (
                    int((self._words(old + mult, e) - self._words(old, e)).sum())
                    * self.format.word_bits
                )
            d_axons += int(np.count_nonzero(old == 0))
            touched.append((k, idx, mult))
        return d_bits, d_axons, touched

    def add(self, touched: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
        for k, idx, mult in touched:
            self.counts[k][idx] += mult
            self.started.add(k)

    def clear(self) -> None:
        for c in self.counts.values():
            c[:] = 0
        self.started.clear()


def _one_neuron_violations(name: str, bits: int, axons: int, lim: CoreLimits) -> list[Violation]:
    """What a neuron that no core can hold alone exceeds."""
    out = []
    if bits > lim.synapse_memory_bits:
        out.append(
            Violation(
                name,
                "synapse memory for one neuron",
                f"{bits} bits",
                f"{lim.synapse_memory_bits} bits",
            )
        )
    if axons > lim.input_axons:
        out.append(Violation(name, "input axons for one neuron", axons, lim.input_axons))
    return out


def split_population(
    net: IntNetwork,
    spec: TargetSpec,
    name: str,
    max_neurons: int | None = None,
    fraction: float = 1.0,
) -> tuple[list[Block], list[Violation]]:
    """Greedy contiguous blocks of population `name`; violations for neurons no core can hold.

    fraction < 1 closes blocks at that share of a core's neurons, synapse memory and input
    axons, so that blocks of layers bound by different resources can share cores."""
    pop = net.population(name)
    lim = spec.core
    budget = dataclasses.replace(
        lim,
        synapse_memory_bits=max(1, int(lim.synapse_memory_bits * fraction)),
        input_axons=max(1, int(lim.input_axons * fraction)),
    )
    cap = min(lim.neurons, max_neurons or lim.neurons, max(1, int(lim.neurons * fraction)))
    order = neuron_order(pop)
    sources = incoming_by_source(net, pop)
    if np.any(order != np.arange(pop.size)):  # a permuted copy only where the order changes
        sources = {k: w[order] for k, w in sources.items()}
    delayed = delayed_sources(net, pop)
    kernels = conv_sources(net, pop, spec)
    lists = _SynapseLists(spec, sources, delayed, kernels)
    fan_in = np.zeros(pop.size, dtype=np.int64)
    for w in sources.values():
        fan_in += np.diff(w.indptr)
    violations: list[Violation] = []
    if fan_in.size and fan_in.max() > lim.fan_in:
        violations.append(Violation(name, "fan-in per neuron", int(fan_in.max()), lim.fan_in))
    blocks: list[Block] = []
    start = bits = axons = 0
    for i in range(pop.size):
        if i % 4096 == 0 and pop.size > 4096:  # big layers take seconds here
            advance(f"map: split {name}", i, pop.size)
        d_bits, d_axons, touched = lists.cost(i)
        if i > start and not _fits(i - start, bits + d_bits, axons + d_axons, cap, budget):
            blocks.append(block_stats(spec, name, start, i, sources, delayed, kernels))
            start, bits, axons = i, 0, 0
            lists.clear()
            d_bits, d_axons, touched = lists.cost(i)
        if not _fits(i - start, bits + d_bits, axons + d_axons, cap, lim):  # one neuron alone
            return [], violations + _one_neuron_violations(name, d_bits, d_axons, lim)
        lists.add(touched)
        bits += d_bits
        axons += d_axons
    if pop.size > start:
        blocks.append(block_stats(spec, name, start, pop.size, sources, delayed, kernels))
    if pop.size > 4096:
        advance(f"map: split {name}", pop.size, pop.size)
    return blocks, violations
