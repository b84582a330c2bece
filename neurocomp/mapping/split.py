"""Split populations into blocks that fit one core, against every per-core limit.

A block is a contiguous range of a population's neurons (in `neuron_order`). Synapse memory
follows the target's synapse-list format: each input axon owns, per block, a list of
ceil((header + n * entry) / word) words, sparse (weight and index per synapse) or dense (a
weight for every neuron of the block), whichever is smaller; a shared conv kernel is stored
once per block. `LayerSynapses.evaluate` computes every block of a split at once from the
layer's synapses sorted by input axon; `block_stats` is the direct count of one block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..errors import Violation
from ..ir.chunks import any_equal, any_unequal, row_runs
from ..ir.integer import IntNetwork, IntPopulation
from ..target.spec import CoreLimits, TargetSpec
from . import kernels


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


# Per-synapse temporaries are made this many synapses at a time: 8 MB int64 arrays, which the
# allocator reuses; whole-layer temporaries (GBs on 3e8 synapses) are fresh pages every time,
# and fresh pages (zeroing, huge-page compaction on a busy machine) cost more than the work.
CHUNK_SYNAPSES = 1 << 20


def chunks(indptr: np.ndarray, size: int | None = None) -> list[tuple[int, int]]:
    """(first, stop) rows of a compressed sparse matrix, in runs of about `size` entries
    (default `CHUNK_SYNAPSES`; a single row may hold more): bounded temporaries on
    1e8-synapse networks."""
    return row_runs(indptr, size or CHUNK_SYNAPSES)


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
        if not any_equal(w.data, 0):  # the usual case: share the index arrays, add 1 B per synapse
            ones = np.ones(w.nnz, dtype=np.int8)
            w = sparse.csr_matrix((ones, w.indices, w.indptr), shape=w.shape, copy=False)
        else:
            w = (w != 0).astype(np.int8)
        if pr.pre in out:  # synapses per pair: counts up to the projections, in int32
            w = sparse.csr_matrix(out[pr.pre].astype(np.int32) + w.astype(np.int32))
        out[pr.pre] = w
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


# -- vectorised block costs ----------------------------------------------------------------------
EVAL_CHUNK = 1 << 20  # synapses per temporary in `evaluate` at most (bounded memory on big layers)
MIN_EVAL_CHUNK = 1 << 12  # ... and at least (a layer's eighth otherwise)


@dataclass(frozen=True)
class _Lists:
    """One source's synapses onto a layer, by input axon (CSC, rows in block order, sorted):
    what the synapse lists of any split of the layer are computed from."""

    indptr: np.ndarray
    rows: np.ndarray
    mult: np.ndarray | None  # synapses per (neuron, axon) pair where projections share both
    entry: int  # bits of a sparse entry
    dense: int  # bits per neuron of a dense list
    kernel: int | None  # bits of a shared kernel, charged once per block that uses it


@dataclass(frozen=True)
class BlockArrays:
    """Resources of consecutive blocks of one layer (index i: neurons bounds[i]..bounds[i+1])."""

    bounds: np.ndarray
    synapses: np.ndarray
    synapse_bits: np.ndarray
    input_axons: np.ndarray
    fan_in: np.ndarray

    @property
    def neurons(self) -> np.ndarray:
        return np.diff(self.bounds)

    def fits(self, lim: CoreLimits, cap: int) -> np.ndarray:
        """Which blocks fit one core alone (neurons up to `cap`)."""
        return (
            (self.neurons <= cap)
            & (self.synapse_bits <= lim.synapse_memory_bits)
            & (self.input_axons <= lim.input_axons)
        )

    def blocks(self, name: str, offset: int = 0) -> list[Block]:
        b = self.bounds + offset
        return [
            Block(name, int(s), int(e), int(n), int(bits), int(a), int(f))
            for s, e, n, bits, a, f in zip(
                b[:-1],
                b[1:],
                self.synapses,
                self.synapse_bits,
                self.input_axons,
                self.fan_in,
                strict=True,
            )
        ]


class LayerSynapses:
    """A layer's incoming synapses arranged so that the resources of every block of any split
    into contiguous blocks (of the block order, `neuron_order`) come from one vectorised pass:
    each (input axon, block) pair is a run of the axon's sorted targets."""

    def __init__(
        self,
        spec: TargetSpec,
        name: str,
        sources: dict[str, sparse.csr_matrix],
        delayed: frozenset[str],
        kernels: dict[str, int],
        rows: int,
        by_neuron: bool = False,
    ) -> None:
        f = spec.synapse_format
        self.spec, self.name, self.size = spec, name, rows
        # with `by_neuron`, each source's pattern by neuron as well (CSR, block order): the
        # compiled sizing counts small blocks from it (`neurocomp.mapping.kernels`); samples only
        self.by_neuron = [sparse.csr_matrix(w) for w in sources.values()] if by_neuron else None
        self.fan = np.zeros(rows, dtype=np.int64)
        self.lists: list[_Lists] = []
        nnz = sum(int(w.nnz) for w in sources.values())
        # synapses per temporary: a fraction of the layer's (peak memory of small layers too)
        self.chunk = int(min(EVAL_CHUNK, max(MIN_EVAL_CHUNK, nnz // 8)))
        for k, w in sources.items():
            self.fan += _row_sums(w)
            by_axon = transpose(w)  # rows come out sorted within each column
            mult = by_axon.data.astype(np.int32) if any_unequal(by_axon.data, 1) else None
            self.lists.append(
                _Lists(
                    by_axon.indptr.astype(np.int64),
                    by_axon.indices.astype(np.int32, copy=False),
                    mult,
                    _entry_bits(spec, k in delayed),
                    spec.format.weight_bits + (f.delay_bits if k in delayed else 0),
                    kernels.get(k),
                )
            )

    @classmethod
    def of(
        cls,
        net: IntNetwork,
        spec: TargetSpec,
        pop: IntPopulation,
        rows: np.ndarray | None = None,
        by_neuron: bool = False,
    ) -> LayerSynapses:
        """The layer `pop`, or only its neurons `rows` of the block order (a sample); with
        `by_neuron`, its patterns by neuron kept too."""
        order = neuron_order(pop)
        if rows is not None:
            order = order[rows]
        sources = incoming_by_source(net, pop)
        if rows is not None or np.any(order != np.arange(pop.size)):
            sources = {k: w[order] for k, w in sources.items()}
        return cls(
            spec,
            pop.name,
            sources,
            delayed_sources(net, pop),
            conv_sources(net, pop, spec),
            len(order),
            by_neuron,
        )

    def evaluate(self, bounds: np.ndarray) -> BlockArrays:
        """Resources of the blocks [bounds[i], bounds[i+1]) (bounds from 0 to the size)."""
        bounds = np.asarray(bounds, dtype=np.int64)
        n_blocks = len(bounds) - 1
        length = np.diff(bounds)
        starts = bounds[:-1]
        block_of = np.repeat(np.arange(n_blocks, dtype=np.int32), length)
        synapses = np.add.reduceat(self.fan, starts) if self.size else np.zeros(0, np.int64)
        fan_in = np.maximum.reduceat(self.fan, starts) if self.size else np.zeros(0, np.int64)
        axons = np.zeros(n_blocks, dtype=np.int64)
        words = np.zeros(n_blocks, dtype=np.float64)
        kernel_bits = np.zeros(n_blocks, dtype=np.int64)
        f = self.spec.synapse_format
        compiled = kernels.available()
        for lst in self.lists:
            dense_words = -(-(f.header_bits + length * lst.dense) // f.word_bits)  # per block
            if compiled:  # the same integers, work per (axon, block) pair, no temporaries
                w, per_block = kernels.block_costs(
                    bounds,
                    block_of,
                    (lst.indptr, lst.rows, lst.mult, lst.entry),
                    dense_words,
                    f.header_bits,
                    f.word_bits,
                )
                axons += per_block
                if lst.kernel is not None:
                    kernel_bits += lst.kernel * (per_block > 0)
                else:
                    words += w
                continue
            for c0, c1 in chunks(lst.indptr, self.chunk):
                lo, hi = int(lst.indptr[c0]), int(lst.indptr[c1])
                if lo == hi:
                    continue
                first, pair_block = _pairs(block_of, lst, c0, c1)
                per_block = np.bincount(pair_block, minlength=n_blocks)
                axons += per_block
                if lst.kernel is not None:
                    kernel_bits += lst.kernel * (per_block > 0)
                    continue
                if lst.mult is None:  # synapses per pair: the gaps between the pairs' starts
                    count = np.empty(first.size, dtype=np.int64)
                    np.subtract(first[1:], first[:-1], out=count[:-1])
                    count[-1] = hi - lo - first[-1]
                else:
                    count = np.add.reduceat(lst.mult[lo:hi], first).astype(np.int64)
                del first
                # sparse words in place, ceil((header + n * entry) / word), then the cheaper
                count *= lst.entry
                count += f.header_bits + f.word_bits - 1
                count //= f.word_bits
                np.minimum(count, dense_words[pair_block], out=count)
                words += np.bincount(pair_block, weights=count, minlength=n_blocks)
        bits = words.astype(np.int64) * f.word_bits + kernel_bits
        return BlockArrays(bounds, synapses, bits, axons, fan_in)


def bits_lower(layer: LayerSynapses) -> tuple[int, int]:
    """`list_bits_lower` summed over the layer's sources (kernels at one copy), and its input
    axons: from the lists by axon, whose targets are already sorted in block order."""
    f = layer.spec.synapse_format
    bits = axons = 0
    for lst in layer.lists:
        counts = np.diff(lst.indptr)
        cols = np.flatnonzero(counts)
        axons += int(cols.size)
        if lst.kernel is not None:
            bits += lst.kernel  # at least one copy of the kernel
            continue
        for c0, c1 in chunks(lst.indptr, layer.chunk):
            lo, hi = int(lst.indptr[c0]), int(lst.indptr[c1])
            if lo == hi:
                continue
            rows = lst.rows[lo:hi]
            gaps = np.ones(hi - lo, dtype=np.int64)
            gaps[:-1] = np.diff(rows)
            starts = lst.indptr[c0:c1][counts[c0:c1] > 0] - lo
            ends = lst.indptr[c0 + 1 : c1 + 1][counts[c0:c1] > 0] - lo
            gaps[ends - 1] = 1  # an axon's last target closes its dense span
            cost = np.minimum(lst.entry, lst.dense * gaps)
            per_axon = np.add.reduceat(cost, starts) + f.header_bits
            bits += int((-(-per_axon // f.word_bits)).sum()) * f.word_bits
    return bits, axons


def transpose(w: sparse.csr_matrix) -> sparse.csc_matrix:
    """`w.tocsc()` without its copies of `w`'s index arrays: scipy's tocsc passes
    `indices.astype(...)` to its C routine, a copy even where the dtype is already right
    (4 bytes per synapse of new memory, 0.8 s per 1.5e8-synapse layer). The same arrays."""
    try:
        from scipy.sparse._sparsetools import csr_tocsc
    except ImportError:  # pragma: no cover - a scipy without the routine: its own tocsc
        return w.tocsc()
    idx = w.indptr.dtype
    m, n = w.shape
    if w.indices.dtype != idx or idx not in (np.int32, np.int64) or m > np.iinfo(idx).max:
        return w.tocsc()
    indptr = np.empty(n + 1, dtype=idx)
    indices = np.empty(w.nnz, dtype=idx)
    data = np.empty(w.nnz, dtype=w.data.dtype)
    csr_tocsc(m, n, w.indptr, w.indices, w.data, indptr, indices, data)
    out = sparse.csc_matrix((data, indices, indptr), shape=w.shape, copy=False)
    out.has_sorted_indices = True
    return out


def _row_sums(w: sparse.csr_matrix) -> np.ndarray:
    """Synapses per row (neuron) of a pair-count matrix, in int64 without an int64 copy of
    its data (scipy's sum upcasts every entry)."""
    if not any_unequal(w.data, 1):
        return np.diff(w.indptr).astype(np.int64)
    out = np.zeros(w.shape[0], dtype=np.int64)
    rows = np.flatnonzero(np.diff(w.indptr))
    out[rows] = np.add.reduceat(w.data, w.indptr[rows], dtype=np.int64)
    return out


def _pairs(block_of: np.ndarray, lst: _Lists, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray]:
    """The (input axon, block) pairs of axons c0..c1 of `lst`: each pair's first synapse (from
    the chunk's first) and its block. An axon's sorted targets run through the blocks in
    order, so a pair starts where the block changes or a new axon starts."""
    lo, hi = int(lst.indptr[c0]), int(lst.indptr[c1])
    b = block_of[lst.rows[lo:hi]]
    new = np.empty(hi - lo, dtype=bool)
    new[0] = True
    np.not_equal(b[1:], b[:-1], out=new[1:])
    col_starts = lst.indptr[c0 + 1 : c1] - lo
    new[col_starts[col_starts < hi - lo]] = True
    first = np.flatnonzero(new)
    return first, b[first]


def block_unit(pop: IntPopulation) -> int:
    """Neurons of one position (every channel) in the block order of (C, H, W) and (C, L)
    layers: blocks are sized in whole positions, which share their input axons; 1 otherwise."""
    return int(pop.shape[0]) if len(pop.shape) in (2, 3) else 1


def _shrink_ratio(arr: BlockArrays, lim: CoreLimits, cap: int) -> np.ndarray:
    """Per block, the largest used / limit over neurons, synapse memory and input axons."""
    return np.maximum.reduce(
        [
            arr.neurons / cap,
            arr.synapse_bits / lim.synapse_memory_bits,
            arr.input_axons / lim.input_axons,
        ]
    )


def split_layer(
    layer: LayerSynapses, spec: TargetSpec, size: int, cap: int | None = None, unit: int = 1
) -> tuple[BlockArrays | None, list[Violation]]:
    """Blocks of `size` neurons (the last one the rest), each cut where it exceeds a core.

    Blocks that do not fit are cut at the share of them that should (their largest used /
    limit), the rest forming a block of its own; when more than a tenth of the blocks do not
    fit, the size itself shrinks. Returns None and violations for a neuron no core holds."""
    lim = spec.core
    cap = min(lim.neurons, cap or lim.neurons)
    n = layer.size
    size = max(1, min(size, cap))
    bounds = np.append(np.arange(0, n, size, dtype=np.int64), n)
    for _ in range(256):
        arr = layer.evaluate(bounds)
        ok = arr.fits(lim, cap)
        if ok.all():
            return arr, []
        bad = np.flatnonzero(~ok)
        single = bad[arr.neurons[bad] == 1]
        if single.size:
            i = int(single[0])
            return None, _one_neuron_violations(
                layer.name, int(arr.synapse_bits[i]), int(arr.input_axons[i]), lim
            )
        ratio = _shrink_ratio(arr, lim, cap)
        if bad.size > 0.1 * len(ok):
            size = max(1, int(size / float(np.quantile(ratio[bad], 0.9))))
            if size > unit:
                size -= size % unit
            bounds = np.append(np.arange(0, n, size, dtype=np.int64), n)
            continue
        keep = arr.neurons[bad] / ratio[bad]
        cut = np.maximum(1, keep.astype(np.int64))
        aligned = cut - cut % unit
        cut = np.where(aligned > 0, aligned, cut)
        cut = np.minimum(cut, arr.neurons[bad] - 1)
        bounds = np.union1d(bounds, bounds[bad] + cut)
    raise AssertionError("split_layer did not converge")  # each round cuts a block at least


def split_population(
    net: IntNetwork,
    spec: TargetSpec,
    name: str,
    max_neurons: int | None = None,
    size: int | None = None,
) -> tuple[list[Block], list[Violation]]:
    """Blocks of population `name` of `size` neurons (default: as many as a core holds), cut
    where they exceed a core; violations for neurons no core can hold."""
    pop = net.population(name)
    layer = LayerSynapses.of(net, spec, pop)
    violations: list[Violation] = []
    if layer.size and layer.fan.max() > spec.core.fan_in:
        violations.append(
            Violation(name, "fan-in per neuron", int(layer.fan.max()), spec.core.fan_in)
        )
    cap = min(spec.core.neurons, max_neurons or spec.core.neurons)
    arr, v = split_layer(layer, spec, size or cap, cap, block_unit(pop))
    return ([] if arr is None else arr.blocks(name)), violations + v
