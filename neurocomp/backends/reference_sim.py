"""Bit-accurate simulator of an integer program on the reference chip, counting every event.

Per step, per population (all integers, int64; D = decay_bits, U = 2**D):

    drive = sum over projections of W s_pre (+ bias)       (recurrent ones: s_pre of step t-1)
    u = decay(u, du) + drive, then overflow                (u = drive without a current stage)
    v = decay(v, dv) + u + bias, then overflow
    s = v > threshold;  v = v_reset where s  (or v - threshold for subtractive reset)

decay(x, d) = (x * (U - d)) >> D, truncated toward zero or floored as the chip says; overflow
saturates or wraps at `state_bits` signed bits. With a mapping, events are counted per step and
per core: spikes, synaptic ops (at the receiving core), neuron updates (active: non-zero drive or
state), spike messages within a tile and between tiles with their east-west and north-south hops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..progress import advance
from .lowering import IntNetwork, IntPopulation

COUNTERS = (
    "spikes",
    "synops",
    "updates_active",
    "updates_idle",
    "msgs_local",
    "msgs_remote",
    "hops_ew",
    "hops_ns",
    "msgs_input",  # input spikes arriving at a core: one per spike and destination core
    "msgs_chip",  # messages that cross to another chip (counted at the sending core)
)


@dataclass
class EventCounts:
    """Event totals per step and core (summed over the batch), and per population."""

    batch: int
    per_core: dict[str, np.ndarray]  # counter -> (T, cores)
    per_layer: dict[str, dict[str, int]]  # population -> counter -> total
    input_spikes: int = 0

    def total(self, counter: str) -> int:
        return int(self.per_core[counter].sum())


@dataclass
class RunResult:
    """A bit-accurate run (`Program.outputs`): outputs (T, batch, *shape), spikes in float units
    or voltages for non-spiking outputs; with record=True every population's spikes and integer
    voltages (T, batch, n); `counts`: events per step and core when the run counted them."""

    outputs: dict[str, np.ndarray]  # (T, batch, *shape): spikes, or voltages in float units
    counts: EventCounts | None = None
    spikes: dict[str, np.ndarray] = field(default_factory=dict)  # recorded (T, batch, n)
    v: dict[str, np.ndarray] = field(default_factory=dict)  # recorded integer voltages

    def plot(self, batch: int = 0, populations: list[str] | None = None) -> Any:
        """Spike raster (a matplotlib Figure) of sample `batch` (needs record=True)."""
        from ..analysis.plots import spike_raster

        return spike_raster(self.spikes, batch=batch, populations=populations)


def _decay(x: np.ndarray, d: np.ndarray, bits: int, rounding: str) -> np.ndarray:
    q = x * ((1 << bits) - d)
    if rounding == "floor":
        return q >> bits
    return np.sign(q) * (np.abs(q) >> bits)


def _overflow(x: np.ndarray, bits: int, mode: str) -> np.ndarray:
    """Saturate to +-(2**(bits-1) - 1), or wrap into (-2**(bits-1), 2**(bits-1)] as Loihi (and
    Lava's bit-accurate LIF) does: x - 2**bits above the range, x + 2**bits at or below its
    bottom (applied modulo 2**bits, so any overshoot lands in range)."""
    m = 1 << (bits - 1)
    if mode == "wrap":
        return ((x + m - 1) % (2 * m)) - (m - 1)
    return np.clip(x, -(m - 1), m - 1)


def _wrap_signed(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap to `bits` signed bits (an int16 port, for instance)."""
    m = 1 << (bits - 1)
    return ((x + m) & ((1 << bits) - 1)) - m


@dataclass(frozen=True)
class Semantics:
    """The integer arithmetic of a chip (see NumberFormat in neurocomp.target.spec)."""

    decay_rounding: str = "toward_zero"
    state_bits: int = 24
    overflow: str = "saturate"
    current_overflow: str = "saturate"
    weight_shift: int = 0
    threshold_shift: int = 0
    synapse_delay: int = 0
    activation_bits: int = 0

    @classmethod
    def of(cls, fmt: Any) -> Semantics:
        return cls(
            fmt.decay_rounding,
            fmt.state_bits,
            fmt.overflow,
            fmt.current_overflow or fmt.overflow,
            fmt.weight_shift,
            fmt.threshold_shift,
            fmt.synapse_delay,
            fmt.activation_bits,
        )


def integer_inputs(net: IntNetwork, x: object) -> dict[str, np.ndarray]:
    """Check input spikes: integer-valued (T, batch, *shape) arrays, one per network input."""
    xs = x if isinstance(x, dict) else {next(iter(net.inputs)): x}
    out = {}
    for name, shape in net.inputs.items():
        if name not in xs:
            raise InputError(f"missing input array for '{name}'")
        arr = np.asarray(xs[name])
        if arr.ndim != 2 + len(shape) or tuple(arr.shape[2:]) != tuple(shape):
            raise InputError(
                f"input '{name}': expected shape (T, batch, "
                f"{', '.join(map(str, shape))}), got {arr.shape}"
            )
        if arr.dtype.kind not in "biuf" or (
            arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr)))
        ):
            raise InputError(
                f"input '{name}': a chip takes integer spike counts; got "
                f"non-integer values ({arr.dtype})"
            )
        out[name] = arr.astype(np.int64).reshape(arr.shape[0], arr.shape[1], -1)
    return out


class _Counter:
    """Precomputed per-neuron routing costs for counting events against a mapping."""

    def __init__(self, net: IntNetwork, mapping: object, steps: int, chip_tiles_x: int) -> None:
        self.where: dict[str, np.ndarray] = mapping.neuron_core  # type: ignore[attr-defined]
        coords = mapping.coords  # type: ignore[attr-defined]
        self.n_cores = len(coords)
        ew, ns = mapping.hops()  # type: ignore[attr-defined]
        same_tile = coords[:, None, 2] == coords[None, :, 2]
        chip = coords[:, 0] // chip_tiles_x if chip_tiles_x > 0 else np.zeros(len(coords), int)
        other_chip = chip[:, None] != chip[None, :]
        self.route: dict[str, dict[str, np.ndarray]] = {}
        for src, d in mapping.destinations.items():  # type: ignore[attr-defined]
            targets = (d > 0).astype(np.int64).tocsr()
            entry = {"synops_to_core": d.tocsr()}
            if src in self.where:
                own = self.where[src]
                coo = targets.tocoo()
                srcc = own[coo.row]
                n = d.shape[0]
                entry["local"] = np.bincount(coo.row, same_tile[srcc, coo.col], minlength=n)
                entry["remote"] = np.bincount(coo.row, ~same_tile[srcc, coo.col], minlength=n)
                entry["ew"] = np.bincount(coo.row, ew[srcc, coo.col], minlength=n)
                entry["ns"] = np.bincount(coo.row, ns[srcc, coo.col], minlength=n)
                entry["chip"] = np.bincount(coo.row, other_chip[srcc, coo.col], minlength=n)
            else:
                entry["input_cores"] = targets
            self.route[src] = entry
        self.per_core = {k: np.zeros((steps, self.n_cores), dtype=np.int64) for k in COUNTERS}
        self.per_layer = {p.name: dict.fromkeys(COUNTERS, 0) for p in net.populations}
        self.input_spikes = 0

    def source(self, t: int, name: str, s: np.ndarray) -> None:
        """Spikes of a source (population or input), summed over the batch: messages, synops."""
        sent = s.sum(axis=0)
        route = self.route.get(name)
        if name not in self.where:
            self.input_spikes += int(sent.sum())
        if route is None:
            return
        self.per_core["synops"][t] += np.asarray(route["synops_to_core"].T @ sent).reshape(-1)
        if name not in self.where:
            self.per_core["msgs_input"][t] += np.asarray(route["input_cores"].T @ sent).reshape(-1)
            return
        own = self.where[name]
        for key, counter in (
            ("local", "msgs_local"),
            ("remote", "msgs_remote"),
            ("ew", "hops_ew"),
            ("ns", "hops_ns"),
            ("chip", "msgs_chip"),
        ):
            per_neuron = sent * route[key]
            self.per_core[counter][t] += np.bincount(
                own, per_neuron, minlength=self.n_cores
            ).astype(np.int64)
            self.per_layer[name][counter] += int(per_neuron.sum())

    def population(
        self, t: int, pop: IntPopulation, s: np.ndarray | None, active: np.ndarray, synops_in: int
    ) -> None:
        own = self.where[pop.name]
        act = active.sum(axis=0)
        batch = active.shape[0]
        self.per_core["updates_active"][t] += np.bincount(own, act, minlength=self.n_cores).astype(
            np.int64
        )
        self.per_core["updates_idle"][t] += np.bincount(
            own, batch - act, minlength=self.n_cores
        ).astype(np.int64)
        layer = self.per_layer[pop.name]
        layer["updates_active"] += int(act.sum())
        layer["updates_idle"] += int((batch - act).sum())
        layer["synops"] += synops_in
        if s is not None:
            spk = s.sum(axis=0)
            self.per_core["spikes"][t] += np.bincount(own, spk, minlength=self.n_cores).astype(
                np.int64
            )
            layer["spikes"] += int(spk.sum())


def run(
    net: IntNetwork,
    x: object,
    semantics: Semantics | None = None,
    *,
    mapping: object | None = None,
    record: bool = False,
    chip_tiles_x: int = 0,
) -> RunResult:
    """Simulate `net` on integer input spikes x (T, batch, *input_shape). With a `mapping`,
    count events per core; `chip_tiles_x` (tiles along x per chip) tells chips apart."""
    sem = semantics or Semantics()
    xs = integer_inputs(net, x)
    steps, batch = next(iter(xs.values())).shape[:2]
    bits = net.decay_bits
    counter = _Counter(net, mapping, steps, chip_tiles_x) if mapping is not None else None
    u = {p.name: np.zeros((batch, p.size), np.int64) for p in net.populations}
    v = {p.name: np.zeros((batch, p.size), np.int64) for p in net.populations}
    prev = {p.name: np.zeros((batch, p.size), np.int64) for p in net.populations}
    incoming = {p.name: net.projections_into(p.name) for p in net.populations}
    colcount = {pr.name: np.diff(pr.weight.tocsc().indptr) for pr in net.projections}
    outputs = {
        o: np.zeros(
            (steps, batch, *net.shape_of(src)),
            np.uint8 if src in net.inputs or net.population(src).spiking else np.float64,
        )
        for o, src in net.outputs.items()
    }
    rec_s = {
        p.name: np.zeros((steps, batch, p.size), np.uint8)
        for p in net.populations
        if record and p.spiking
    }
    rec_v = (
        {p.name: np.zeros((steps, batch, p.size), np.int64) for p in net.populations}
        if record
        else {}
    )
    for t in range(steps):
        advance("simulate (bit-accurate)", t, steps)
        now = {name: arr[t] for name, arr in xs.items()}
        if counter is not None:
            for name, arr in now.items():
                counter.source(t, name, arr)
        for pop in net.populations:
            drive = np.zeros((batch, pop.size), np.int64)
            synops_in = 0
            for pr in incoming[pop.name]:
                delayed = pr.recurrent or sem.synapse_delay > 0
                if delayed and t == 0:
                    continue  # nothing has been sent yet
                src = prev[pr.pre] if delayed else now[pr.pre]
                drive += np.asarray(pr.weight @ src.T).T
                if pr.bias is not None:
                    drive += pr.bias
                synops_in += int(src.sum(axis=0) @ colcount[pr.name])
            if sem.activation_bits:
                drive = _wrap_signed(drive, sem.activation_bits)
            drive = drive << sem.weight_shift
            if pop.du is not None:
                uu = _overflow(
                    _decay(u[pop.name], pop.du, bits, sem.decay_rounding) + drive,
                    sem.state_bits,
                    sem.current_overflow,
                )
                u[pop.name] = uu
            else:
                uu = drive
            vv = _overflow(
                _decay(v[pop.name], pop.dv, bits, sem.decay_rounding)
                + uu
                + (pop.bias << sem.weight_shift),
                sem.state_bits,
                sem.overflow,
            )
            s = None
            if pop.threshold is not None:
                threshold = pop.threshold << sem.threshold_shift
                spiking = vv > threshold
                s = spiking.astype(np.int64)
                if pop.reset == "zero":
                    vv = np.where(spiking, pop.v_reset << sem.weight_shift, vv)
                else:
                    vv = vv - s * threshold
                now[pop.name] = s
            else:
                now[pop.name] = vv
            v[pop.name] = vv
            if counter is not None:
                active = (drive != 0) | (vv != 0) | (uu != 0)
                counter.population(t, pop, s, active, synops_in)
                if s is not None:
                    counter.source(t, pop.name, s)
            if record:
                rec_v[pop.name][t] = vv
                if s is not None:
                    rec_s[pop.name][t] = s
        for o, src in net.outputs.items():
            val = now[src]
            shape = (batch, *net.shape_of(src))
            if src in net.inputs or net.population(src).spiking:
                outputs[o][t] = val.reshape(shape)
            else:
                scale = net.population(src).scale / (1 << sem.weight_shift)
                outputs[o][t] = (val * scale).reshape(shape)
        prev = now
    advance("simulate (bit-accurate)", steps, steps)
    counts = None
    if counter is not None:
        counts = EventCounts(batch, counter.per_core, counter.per_layer, counter.input_spikes)
    return RunResult(outputs, counts, rec_s, rec_v)
