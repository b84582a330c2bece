"""Assign blocks to cores (first fit over every resource) and count output axons per core."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..ir.integer import IntNetwork
from ..target.spec import TargetSpec
from .split import Block, chunks, neuron_order


@dataclass
class Core:
    """One core's blocks and the resources they use."""

    index: int
    blocks: list[Block] = field(default_factory=list)
    output_axons: int = 0

    @property
    def neurons(self) -> int:
        return sum(b.neurons for b in self.blocks)

    @property
    def synapse_bits(self) -> int:
        return sum(b.synapse_bits for b in self.blocks)

    @property
    def input_axons(self) -> int:
        return sum(b.input_axons for b in self.blocks)

    @property
    def synapses(self) -> int:
        return sum(b.synapses for b in self.blocks)

    @property
    def fan_in(self) -> int:
        return max((b.fan_in for b in self.blocks), default=0)

    def usage(self) -> dict[str, int]:
        return {
            "neurons": self.neurons,
            "synapse_bits": self.synapse_bits,
            "input_axons": self.input_axons,
            "output_axons": self.output_axons,
            "fan_in": self.fan_in,
            "synapses": self.synapses,
        }


def first_fit(blocks: list[Block], spec: TargetSpec, out_bound: list[int]) -> list[Core]:
    """Blocks in network order into the first core where every resource still fits.

    `out_bound` is an upper bound of each block's output axons, so the packed cores stay within
    the output-axon limit whatever else shares them."""
    lim = spec.core
    limits = np.array([lim.neurons, lim.synapse_memory_bits, lim.input_axons, lim.output_axons])
    used = np.zeros((max(len(blocks), 1), 4), dtype=np.int64)  # running totals per open core
    cores: list[Core] = []
    for b, o in zip(blocks, out_bound, strict=True):
        need = np.array([b.neurons, b.synapse_bits, b.input_axons, o])
        fits = np.flatnonzero(np.all(used[: len(cores)] + need <= limits, axis=1))
        if fits.size:
            k = int(fits[0])
            cores[k].blocks.append(b)
        else:
            k = len(cores)
            cores.append(Core(k, [b]))
        used[k] += need
    return cores


def neuron_cores(net: IntNetwork, cores: list[Core]) -> dict[str, np.ndarray]:
    """Core index of every neuron, per population."""
    out = {p.name: np.full(p.size, -1, dtype=np.int64) for p in net.populations}
    order = {p.name: neuron_order(p) for p in net.populations}
    for c in cores:
        for b in c.blocks:
            out[b.population][order[b.population][b.start : b.stop]] = c.index
    return out


def destinations(
    net: IntNetwork, where: dict[str, np.ndarray], n_cores: int
) -> dict[str, sparse.csr_matrix]:
    """Per source (input or population): a (source neurons x cores) matrix of synapse counts.

    A neuron sends one message to every core where it has at least one synapse."""
    out: dict[str, sparse.csr_matrix] = {}
    for pr in net.projections:
        w = sparse.csr_matrix(pr.weight)
        post_core = where[pr.post]
        shape = (w.shape[1], n_cores)
        counts = sparse.csr_matrix(shape, dtype=np.int64)
        # In chunks of rows: the (pre, core) pairs are far fewer than the synapses.
        for r0, r1 in chunks(w.indptr):
            lo, hi = w.indptr[r0], w.indptr[r1]
            if lo == hi:
                continue
            core = np.repeat(post_core[r0:r1], np.diff(w.indptr[r0 : r1 + 1]))
            part = sparse.csr_matrix(
                (np.ones(hi - lo, dtype=np.int64), (w.indices[lo:hi], core)), shape=shape
            )
            counts = part if counts.nnz == 0 else sparse.csr_matrix(counts + part)
        out[pr.pre] = counts if pr.pre not in out else sparse.csr_matrix(out[pr.pre] + counts)
    return out


def count_output_axons(net: IntNetwork, cores: list[Core]) -> dict[str, sparse.csr_matrix]:
    """Fill in each core's output axons: (neuron, destination core) pairs of its neurons."""
    where = neuron_cores(net, cores)
    dest = destinations(net, where, len(cores))
    for c in cores:
        c.output_axons = 0
    for name, d in dest.items():
        if name not in where:
            continue  # network inputs arrive from the host, not from a core
        per_neuron = np.diff(d.indptr)
        src_core = where[name]
        totals = np.bincount(src_core, weights=per_neuron, minlength=len(cores))
        for c in cores:
            c.output_axons += int(totals[c.index])
    return dest
