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
from .chips import place_on_board
from .pack import Core, count_output_axons, destinations, first_fit, neuron_cores
from .place import hop_matrices, slot_coords
from .split import (
    Block,
    conv_sources,
    delayed_sources,
    incoming_by_source,
    list_bits_lower,
    neuron_order,
    split_population,
)

MAX_OUTPUT_AXON_ROUNDS = 12
# Mappings above this many times the lower bound of cores also try smaller blocks, which cores
# shared by layers bound by different resources can fill better; the fewest cores win.
MIXING_TRIGGER = 1.1
MIXING_FRACTIONS = (0.5, 0.25)


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

    @property
    def cores_used(self) -> int:
        return len(self.cores)

    def hops(self) -> tuple[np.ndarray, np.ndarray]:
        """East-west and north-south hops between every pair of used cores."""
        return hop_matrices(self.coords)

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


def lower_bound(net: IntNetwork, spec: TargetSpec) -> dict[str, int]:
    """max over resources of ceil(total / per-core limit): no split of the layers into
    contiguous blocks (of the position-major neuron order) can use fewer cores."""
    lim = spec.core
    bits = axons = 0
    for pop in net.populations:
        order = neuron_order(pop)
        delayed = delayed_sources(net, pop)
        kernels = conv_sources(net, pop, spec)
        for pre, w in incoming_by_source(net, pop).items():
            axons += int(np.count_nonzero(np.bincount(w.indices, minlength=w.shape[1])))
            if pre in kernels:  # at least one copy of the kernel
                bits += kernels[pre]
            else:
                bits += list_bits_lower(w, spec, order, pre in delayed)
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
) -> np.ndarray:
    """Messages per step between cores: each neuron's activity to each core it targets."""
    n = len(cores)
    traffic = np.zeros((n, n))
    for name, d in dest.items():
        if name not in where:
            continue
        rate = activity.get(name) if activity else None
        rate = np.ones(d.shape[0]) if rate is None else np.asarray(rate, dtype=np.float64)
        src = sparse.csr_matrix((rate, (where[name], np.arange(d.shape[0]))), shape=(n, d.shape[0]))
        traffic += (src @ (d > 0).astype(np.float64)).toarray()
    np.fill_diagonal(traffic, 0.0)
    return traffic


def _split_and_pack(
    net: IntNetwork, spec: TargetSpec, fraction: float
) -> tuple[list[Block], list[int], list[Core], list[Violation]]:
    """Split every layer (blocks of at most `fraction` of a core), shrinking layers whose blocks
    exceed the output-axon limit, then pack: in network order for whole-core blocks, biggest
    first for smaller ones. Returns blocks, their output-axon bounds, cores, violations."""
    violations: list[Violation] = []
    cap: dict[str, int | None] = {p.name: None for p in net.populations}
    blocks: list[Block] = []
    out_bound: list[int] = []
    for _ in range(MAX_OUTPUT_AXON_ROUNDS):
        blocks, violations = [], []
        for i, pop in enumerate(net.populations):
            advance("map: split layers into blocks", i, len(net.populations))
            b, v = split_population(net, spec, pop.name, cap[pop.name], fraction)
            blocks += b
            violations += v
        advance("map: split layers into blocks", len(net.populations), len(net.populations))
        if violations:
            break
        # Upper bound of each block's output axons: distinct destination blocks per neuron
        # (packing blocks into cores can only merge destinations).
        where = neuron_cores(net, [Core(i, [b]) for i, b in enumerate(blocks)])
        per_neuron = destinations(net, where, len(blocks))
        out_bound = [0] * len(blocks)
        for name, d in per_neuron.items():
            if name in where:
                counts = np.bincount(where[name], weights=np.diff(d.indptr), minlength=len(blocks))
                out_bound = [int(a + c) for a, c in zip(out_bound, counts, strict=True)]
        over = [
            (b, o) for b, o in zip(blocks, out_bound, strict=True) if o > spec.core.output_axons
        ]
        if not over:
            break
        for blk, o in over:
            if blk.neurons == 1:
                violations.append(
                    Violation(
                        blk.population,
                        "output axons for one neuron",
                        o,
                        spec.core.output_axons,
                        "counted as distinct destination blocks",
                    )
                )
            # Shrink in proportion to the excess, once per population and round: blocks of a
            # layer have similar fan-out, so one estimate serves them all.
            fit = max(1, blk.neurons * spec.core.output_axons // o)
            cap[blk.population] = min(cap[blk.population] or blk.neurons, fit)
        if violations:
            break
    else:
        violations.append(
            Violation(
                "<network>",
                "output axons",
                max(out_bound),
                spec.core.output_axons,
                "splitting did not converge",
            )
        )
    if violations:
        return blocks, out_bound, [], violations
    advance("map: pack blocks into cores", 0, 1)
    if fraction < 1.0:  # first-fit decreasing by the block's largest share of a core
        lim = spec.core
        size = [
            max(
                b.neurons / lim.neurons,
                b.synapse_bits / lim.synapse_memory_bits,
                b.input_axons / lim.input_axons,
                o / lim.output_axons,
            )
            for b, o in zip(blocks, out_bound, strict=True)
        ]
        order = sorted(range(len(blocks)), key=lambda i: (-size[i], i))
        blocks = [blocks[i] for i in order]
        out_bound = [out_bound[i] for i in order]
    cores = first_fit(blocks, spec, out_bound)
    advance("map: pack blocks into cores", 1, 1)
    return blocks, out_bound, cores, []


def _binding_resources(blocks: list[Block], spec: TargetSpec) -> set[str]:
    """The resource each layer uses most of, relative to a core (neurons, synapse memory or
    input axons). Mixing layers in cores can only help when this differs between layers."""
    lim = spec.core
    totals: dict[str, np.ndarray] = {}
    for b in blocks:
        use = np.array([b.neurons, b.synapse_bits, b.input_axons], dtype=np.float64)
        totals[b.population] = totals.get(b.population, 0) + use
    scale = np.array([lim.neurons, lim.synapse_memory_bits, lim.input_axons], dtype=np.float64)
    names = ("neurons", "synapse_bits", "input_axons")
    return {names[int(np.argmax(t / scale))] for t in totals.values()}


def map_network(
    net: IntNetwork,
    spec: TargetSpec,
    activity: dict[str, np.ndarray] | None = None,
    placement: str = "auto",
) -> Mapping:
    """Split, pack and place `net` on `spec`; violations are collected, not raised."""
    bound = lower_bound(net, spec)
    blocks, out_bound, cores, violations = _split_and_pack(net, spec, 1.0)
    if (
        not violations
        and len(cores) > MIXING_TRIGGER * bound["cores"]
        and len(_binding_resources(blocks, spec)) > 1
    ):
        # Layers bound by different resources (a wide conv by neurons, the next by synapse
        # memory) waste the rest of their cores; smaller blocks, biggest first, can share them.
        for fraction in MIXING_FRACTIONS:
            alt = _split_and_pack(net, spec, fraction)
            if not alt[3] and len(alt[2]) < len(cores):
                blocks, out_bound, cores, violations = alt
    dest: dict[str, sparse.csr_matrix] = {}
    if not violations:
        dest = count_output_axons(net, cores)
    if violations:
        return _unplaced([], {}, bound, violations)
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
        return _unplaced(cores, dest, bound, violations)
    advance("map: place cores on the mesh", 0, 1)
    where = neuron_cores(net, cores)
    traffic = _traffic(net, cores, dest, where, activity)
    slots, report = place_on_board(traffic, spec, placement)  # one chip: place.place
    advance("map: place cores on the mesh", 1, 1)
    report["traffic_source"] = "calibration activity" if activity else "synapse fan-out"
    coords = slot_coords(spec)[slots]
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
    )


def _unplaced(
    cores: list[Core],
    dest: dict[str, sparse.csr_matrix],
    bound: dict[str, int],
    violations: list[Violation],
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
    )


__all__ = ["Block", "ChipMapping", "Core", "CoreUsage", "Mapping", "lower_bound", "map_network"]
