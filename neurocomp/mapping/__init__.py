"""Mapping: split populations into core-sized blocks, pack blocks into cores, place cores.

`map_network` never raises for a network that does not fit: it returns every violation, so that
`neurocomp check` can list them all and `compile` can refuse before writing anything.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from ..errors import Violation
from ..ir.integer import IntNetwork
from ..progress import advance
from ..target.spec import TargetSpec
from .bound import COMPILE_WINDOW_SYNAPSES, LPBound, lp_bound
from .chips import place_on_board
from .pack import (
    Core,
    Packing,
    count_output_axons,
    destinations,
    merge_destinations,
    neuron_cores,
    pack_blocks,
)
from .place import PairHops, hop_matrices, slot_coords
from .sizing import candidates, choose
from .split import (
    Block,
    LayerSynapses,
    bits_lower,
    block_unit,
    conv_sources,
    delayed_sources,
    incoming_by_source,
    list_bits_lower,
    neuron_order,
    split_layer,
)

MAX_OUTPUT_AXON_ROUNDS = 12


@dataclass(frozen=True, kw_only=True)
class CoreUsage:
    """One core's use of its resources, each as (used, limit)."""

    core: int
    tile_x: int
    tile_y: int
    chip: int
    layers: tuple[str, ...]
    neurons: tuple[int, int]
    synapse_bits: tuple[int, int]
    input_axons: tuple[int, int]
    output_axons: tuple[int, int]
    fan_in: tuple[int, int]
    synapses: int

    @property
    def utilisation(self) -> float:
        """Largest used / limit over neurons, synapse memory, input and output axons."""
        pairs = (self.neurons, self.synapse_bits, self.input_axons, self.output_axons)
        return max(used / limit for used, limit in pairs if limit)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (program.json's `resources`, `Mapping.usage_table`)."""
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


@dataclass(kw_only=True)
class ChipMapping:
    """Where every neuron lives: cores (with their blocks), each core's slot on the board."""

    cores: list[Core]
    slots: np.ndarray  # slot index of each core
    coords: np.ndarray  # (core, 3): tile x, tile y, tile id
    neuron_core: dict[str, np.ndarray]
    destinations: dict[str, sparse.csr_matrix]  # source -> (neurons x cores) synapse counts
    lower_bound: dict[str, int]
    placement: dict[str, Any]
    violations: list[Violation] = field(default_factory=list)
    core_chip: np.ndarray | None = None  # chip index of each core (None: all on one chip)
    bound_method: str = ""  # how lower_bound["lp"] was reached (`neurocomp.mapping.bound`)

    @property
    def cores_used(self) -> int:
        return len(self.cores)

    def hops(self) -> tuple[np.ndarray, np.ndarray]:
        """East-west and north-south hops between every pair of used cores."""
        return hop_matrices(self.coords)

    def pair_hops(self) -> tuple[PairHops, PairHops]:
        """East-west and north-south hops of any pairs of used cores, indexed as `hops()`'s
        matrices ([sources, destinations]) without building them (linear memory)."""
        return PairHops(self.coords, 0), PairHops(self.coords, 1)

    def usage(self, spec: TargetSpec) -> list[CoreUsage]:
        """used / limit of every resource of every core."""
        lim = spec.core
        rows = []
        for c, xyz in zip(self.cores, self.coords, strict=True):
            u = c.usage()
            rows.append(
                CoreUsage(
                    core=c.index,
                    tile_x=int(xyz[0]),
                    tile_y=int(xyz[1]),
                    chip=int(xyz[0]) // spec.mesh.tiles_x,
                    layers=tuple(sorted({b.population for b in c.blocks})),
                    neurons=(u["neurons"], lim.neurons),
                    synapse_bits=(u["synapse_bits"], lim.synapse_memory_bits),
                    input_axons=(u["input_axons"], lim.input_axons),
                    output_axons=(u["output_axons"], lim.output_axons),
                    fan_in=(u["fan_in"], lim.fan_in),
                    synapses=u["synapses"],
                )
            )
        return rows

    def usage_table(self, spec: TargetSpec) -> list[dict[str, Any]]:
        """`usage` as JSON-ready dicts (what program.json's `resources` holds)."""
        return [u.to_dict() for u in self.usage(spec)]


Mapping = ChipMapping  # the old name


def _layer_totals(net: IntNetwork, spec: TargetSpec) -> dict[str, tuple[int, int]]:
    """Per layer, lower bounds of its synapse memory and input axons summed over the blocks of
    any split into contiguous blocks (of the position-major neuron order)."""
    per_layer: dict[str, tuple[int, int]] = {}
    for pop in net.populations:
        order = neuron_order(pop)
        delayed = delayed_sources(net, pop)
        kernels = conv_sources(net, pop, spec)
        bits = axons = 0
        for pre, w in incoming_by_source(net, pop).items():
            axons += int(np.count_nonzero(np.bincount(w.indices, minlength=w.shape[1])))
            if pre in kernels:  # at least one copy of the kernel
                bits += kernels[pre]
            else:
                bits += list_bits_lower(w, spec, order, pre in delayed)
        per_layer[pop.name] = (bits, axons)
    return per_layer


def lower_bound(net: IntNetwork, spec: TargetSpec) -> dict[str, int]:
    """max over resources of ceil(total / per-core limit): no split of the layers into
    contiguous blocks (of the position-major neuron order) can use fewer cores."""
    per_layer = _layer_totals(net, spec)
    bits = sum(b for b, _ in per_layer.values())
    axons = sum(a for _, a in per_layer.values())
    return _bound(net, spec, bits, axons)


def lower_bound_lp(net: IntNetwork, spec: TargetSpec) -> LPBound:
    """The configuration LP's bound over the same splits as `lower_bound`, at least its "cores"
    (`neurocomp.mapping.bound`); `map_network` reports it as `lower_bound["lp"]`."""
    per_layer = _layer_totals(net, spec)
    bits = sum(b for b, _ in per_layer.values())
    axons = sum(a for _, a in per_layer.values())
    return lp_bound(net, spec, _bound(net, spec, bits, axons)["cores"], per_layer)


def _bound(net: IntNetwork, spec: TargetSpec, bits: int, axons: int) -> dict[str, int]:
    lim = spec.core
    bounds = {
        "neurons": math.ceil(net.neurons / lim.neurons),
        "synapse_bits": math.ceil(bits / lim.synapse_memory_bits),
        "input_axons": math.ceil(axons / lim.input_axons),
    }
    bounds["cores"] = max(bounds.values()) if bounds else 0
    return bounds


def _traffic(
    net: IntNetwork,
    cores: list[Core],
    dest: dict[str, sparse.csr_matrix],
    where: dict[str, np.ndarray],
    activity: dict[str, np.ndarray] | None,
) -> sparse.csr_matrix:
    """Messages per step between cores (sparse, cores x cores, no self traffic): each neuron's
    activity to each core it targets; linear in the destinations' entries."""
    n = len(cores)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for name, d in dest.items():
        if name not in where:
            continue
        rate = activity.get(name) if activity else None
        rate = np.ones(d.shape[0]) if rate is None else np.asarray(rate, dtype=np.float64)
        neuron = np.repeat(np.arange(d.shape[0]), np.diff(d.indptr))
        hit = d.data > 0
        rows.append(where[name][neuron[hit]])
        cols.append(d.indices[hit])
        vals.append(rate.reshape(-1)[neuron[hit]])
    if not rows:
        return sparse.csr_matrix((n, n))
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    off = r != c
    traffic = sparse.csr_matrix((v[off], (r[off], c[off])), shape=(n, n))
    traffic.sum_duplicates()
    traffic.eliminate_zeros()
    traffic.sort_indices()
    return traffic


@dataclass
class _Split:
    """The blocks of every layer (in network order) and how each layer was sized."""

    layers: dict[str, list[Block]]
    sizes: dict[str, int]
    caps: dict[str, int | None]
    bound: dict[str, int]  # `lower_bound` of the network, from the same lists
    layer_bound: dict[str, tuple[int, int]] = field(default_factory=dict)  # bits, axons per layer
    # each layer's synapses by axon, kept for the re-splits that output axons may need
    # (rebuilding them is a transposed copy of the layer; held until packing ends)
    synapses: dict[str, LayerSynapses] = field(default_factory=dict)

    @property
    def blocks(self) -> list[Block]:
        return [b for blocks in self.layers.values() for b in blocks]


def _split_layers(
    net: IntNetwork,
    spec: TargetSpec,
    names: list[str],
    sizes: dict[str, int],
    caps: dict[str, int | None],
    into: dict[str, list[Block]],
    lower: dict[str, tuple[int, int]] | None = None,
    cache: dict[str, LayerSynapses] | None = None,
) -> list[Violation]:
    """Split each layer of `names` at its size (one vectorised pass per layer, cuts where a
    block exceeds a core) into `into`; the violations of neurons no core holds."""
    violations: list[Violation] = []
    lim = spec.core
    for i, name in enumerate(names):
        advance("map: split layers into blocks", i, len(names))
        pop = net.population(name)
        layer = cache.get(name) if cache is not None else None
        if layer is None:
            layer = LayerSynapses.of(net, spec, pop)
        if cache is not None:
            cache[name] = layer
        if lower is not None:  # the lower bound's synapse memory and axons, from the same lists
            lower[name] = bits_lower(layer)
        if layer.size and layer.fan.max() > lim.fan_in:
            violations.append(
                Violation(name, "fan-in per neuron", int(layer.fan.max()), lim.fan_in)
            )
        big = pop.size > 4096  # seconds on 1e8-synapse layers: the bars show them
        if big:
            advance(f"map: split {name}", 0, pop.size)
        cap = caps.get(name)
        arr, v = split_layer(
            layer, spec, min(sizes[name], cap or sizes[name]), cap, block_unit(pop)
        )
        violations += v
        into[name] = [] if arr is None else arr.blocks(name)
        if big:
            advance(f"map: split {name}", pop.size, pop.size)
    advance("map: split layers into blocks", len(names), len(names))
    return violations


def split_network(net: IntNetwork, spec: TargetSpec) -> tuple[_Split, list[Violation]]:
    """Choose every layer's block size (neurocomp.mapping.sizing), then split each layer once."""
    options = [candidates(net, spec, pop) for pop in net.populations]
    chosen = choose(options, spec) if options else []
    sizes = {p.name: c.size for p, c in zip(net.populations, chosen, strict=True)}
    caps: dict[str, int | None] = {p.name: None for p in net.populations}
    layers: dict[str, list[Block]] = {}
    lower: dict[str, tuple[int, int]] = {}
    cache: dict[str, LayerSynapses] = {}
    violations = _split_layers(net, spec, list(sizes), sizes, caps, layers, lower, cache)
    bits = sum(b for b, _ in lower.values())
    axons = sum(a for _, a in lower.values())
    split = _Split(layers, sizes, caps, _bound(net, spec, bits, axons), lower, cache)
    return split, violations


def _use(blocks: list[Block], out: np.ndarray) -> np.ndarray:
    return np.array(
        [(b.neurons, b.synapse_bits, b.input_axons, o) for b, o in zip(blocks, out, strict=True)],
        dtype=np.int64,
    ).reshape(-1, 4)


def _per_block_out(
    net: IntNetwork, blocks: list[Block], dest: dict[str, sparse.csr_matrix]
) -> np.ndarray:
    """Output axons of each block: its neurons' distinct destination cores, summed."""
    where = neuron_cores(net, [Core(i, [b]) for i, b in enumerate(blocks)])
    out = np.zeros(len(blocks), dtype=np.int64)
    for name, d in dest.items():
        if name in where:
            out += np.bincount(
                where[name], weights=np.diff(d.indptr), minlength=len(blocks)
            ).astype(np.int64)
    return out


def _shrink(split: _Split, blocks: list[Block], out: np.ndarray, limit: int) -> list[Violation]:
    """Lower the cap of every layer with a block over the output-axon limit alone, in
    proportion to the excess, once per layer and round (its blocks have similar fan-out)."""
    violations = []
    for blk, o in zip(blocks, out, strict=True):
        if o <= limit:
            continue
        if blk.neurons == 1:
            violations.append(
                Violation(
                    blk.population,
                    "output axons for one neuron",
                    int(o),
                    limit,
                    "counted as distinct destination cores",
                )
            )
        fit = max(1, blk.neurons * limit // int(o))
        cap = split.caps[blk.population]
        split.caps[blk.population] = min(cap or blk.neurons, fit)
    return violations


ESTIMATE_ROUNDS = 3  # packings with measured output axons before the conservative bound


def _pack_network(
    net: IntNetwork, spec: TargetSpec, split: _Split
) -> tuple[list[Core], Packing | None, dict[str, sparse.csr_matrix], list[Violation]]:
    """Pack the blocks into cores within every limit, output axons included.

    Output axons depend on where the destinations land, so the packing is repeated with each
    block's output axons measured on the last packing (blocks over the limit alone shrink
    their layer); after ESTIMATE_ROUNDS, each block is charged its distinct destination blocks,
    an upper bound that holds however the blocks are packed."""
    lim = spec.core
    limits = np.array([lim.neurons, lim.synapse_memory_bits, lim.input_axons, lim.output_axons])
    blocks = split.blocks
    out = np.zeros(len(blocks), dtype=np.int64)
    by_block: dict[str, sparse.csr_matrix] | None = None  # destinations per block, per split
    for round_ in range(MAX_OUTPUT_AXON_ROUNDS):
        advance("map: pack blocks into cores", round_, MAX_OUTPUT_AXON_ROUNDS)
        layer_of = {name: i for i, name in enumerate(split.layers)}
        group = np.array([layer_of[b.population] for b in blocks], dtype=np.int64)
        packing = pack_blocks(_use(blocks, out), limits, group)
        cores = [Core(k) for k in range(packing.cores)]
        for b, k in zip(blocks, packing.core, strict=True):
            cores[int(k)].blocks.append(b)
        if by_block is None:  # one pass over the synapses per split, whatever the rounds
            alone = neuron_cores(net, [Core(i, [b]) for i, b in enumerate(blocks)])
            by_block = destinations(net, alone, len(blocks))
        dest = merge_destinations(by_block, packing.core, packing.cores)
        count_output_axons(net, cores, dest)
        if all(c.output_axons <= lim.output_axons for c in cores):
            advance("map: pack blocks into cores", 1, 1)
            return cores, packing, dest, []
        if round_ + 1 < ESTIMATE_ROUNDS:
            measured = _per_block_out(net, blocks, dest)
        else:  # distinct destination blocks: a bound whatever the packing
            measured = _per_block_out(net, blocks, by_block)
        if np.any(measured > lim.output_axons):
            violations = _shrink(split, blocks, measured, lim.output_axons)
            if violations:
                return [], None, {}, violations
            names = sorted(
                {
                    b.population
                    for b, o in zip(blocks, measured, strict=True)
                    if o > lim.output_axons
                },
                key=list(split.layers).index,
            )
            violations = _split_layers(
                net, spec, names, split.sizes, split.caps, split.layers, cache=split.synapses
            )
            if violations:
                return [], None, {}, violations
            blocks = split.blocks
            out = np.zeros(len(blocks), dtype=np.int64)
            by_block = None
            continue
        out = np.maximum(out, measured)
    return (
        [],
        None,
        {},
        [
            Violation(
                "<network>",
                "output axons",
                int(out.max()),
                lim.output_axons,
                "splitting did not converge",
            )
        ],
    )


def map_network(
    net: IntNetwork,
    spec: TargetSpec,
    activity: dict[str, np.ndarray] | None = None,
    placement: str = "auto",
) -> Mapping:
    """Split, pack and place `net` on `spec`; violations are collected, not raised.

    `lower_bound` holds the network's bound per resource and overall ("cores"), "lp": the
    configuration LP's bound for every split (`neurocomp.mapping.bound`, at least "cores"), and
    "packing": no packing of the blocks this split made uses fewer cores."""
    split, violations = split_network(net, spec)
    bound = split.bound
    windows = net.synapses <= COMPILE_WINDOW_SYNAPSES  # their cost: 15x the compile's
    lp = lp_bound(net, spec, bound["cores"], split.layer_bound, windows)
    bound["lp"] = lp.cores
    dest: dict[str, sparse.csr_matrix] = {}
    cores: list[Core] = []
    packing: Packing | None = None
    if not violations:
        cores, packing, dest, violations = _pack_network(net, spec, split)
        if packing is not None:
            bound["packing"] = max(packing.lower_bound, bound["cores"])
    split.synapses.clear()  # the layers' lists: not needed after packing (memory)
    if violations:
        return _unplaced([], {}, bound, violations, lp.method)
    if len(cores) > spec.cores_available:
        biggest = max(
            {b.population for c in cores for b in c.blocks},
            key=lambda p: sum(b.neurons for c in cores for b in c.blocks if b.population == p),
        )
        violations.append(
            Violation(
                biggest,
                "cores",
                len(cores),
                spec.cores_available,
                f"the network needs {len(cores)} cores; add chips with --chips",
            )
        )
        return _unplaced(cores, dest, bound, violations, lp.method)
    advance("map: place cores on the mesh", 0, 1)
    where = neuron_cores(net, cores)
    traffic = _traffic(net, cores, dest, where, activity)
    slots, report = place_on_board(traffic, spec, placement)  # one chip: place.place
    advance("map: place cores on the mesh", 1, 1)
    report["traffic_source"] = "calibration activity" if activity else "synapse fan-out"
    report["packing"] = packing.method if packing is not None else "none"
    coords = slot_coords(spec, int(slots.max()) + 1 if len(slots) else 0)[slots]  # used slots
    return ChipMapping(
        cores=cores,
        slots=slots,
        coords=coords,
        neuron_core=where,
        destinations=dest,
        lower_bound=bound,
        placement=report,
        violations=violations,
        core_chip=np.asarray(slots, dtype=np.int64) // spec.mesh.cores_per_chip,
        bound_method=lp.method,
    )


def _unplaced(
    cores: list[Core],
    dest: dict[str, sparse.csr_matrix],
    bound: dict[str, int],
    violations: list[Violation],
    bound_method: str = "",
) -> ChipMapping:
    """The mapping of a network that does not fit: its violations, no placement."""
    return ChipMapping(
        cores=cores,
        slots=np.zeros(0, dtype=np.int64),
        coords=np.zeros((0, 3), dtype=np.int64),
        neuron_core={},
        destinations=dest,
        lower_bound=bound,
        placement={},
        violations=violations,
        bound_method=bound_method,
    )


__all__ = [
    "Block",
    "ChipMapping",
    "Core",
    "CoreUsage",
    "LPBound",
    "Mapping",
    "lower_bound",
    "lower_bound_lp",
    "map_network",
]
