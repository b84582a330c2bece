"""neurocomp's own bit-accurate engine ("reference"): runs an integer program with the target's
integer arithmetic, counting every event.

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

from ..errors import InputError, Violation
from ..ir.integer import IntNetwork, IntPopulation
from ..mapping import Mapping
from ..progress import advance
from ..target.spec import NEURON_MODELS, NumberFormat
from .base import RunResult
from .events import COUNTERS, EventCounts, EventKind

__all__ = ["COUNTERS", "ENGINE", "EventCounts", "RunResult", "Semantics", "integer_inputs", "run"]


def Semantics(  # the old class name, kept as a constructor
    decay_rounding: str = "toward_zero",
    state_bits: int = 24,
    overflow: str = "saturate",
    current_overflow: str = "saturate",
    weight_shift: int = 0,
    threshold_shift: int = 0,
    synapse_delay: int = 0,
    activation_bits: int = 0,
) -> NumberFormat:
    """A chip's integer arithmetic as a `NumberFormat` (the one definition of it); the storage
    widths, which only the lowering checks, are set to their widest."""
    return NumberFormat(
        weight_bits=32,
        state_bits=state_bits,
        decay_bits=24,
        decay_rounding=decay_rounding,
        threshold_bits=62,
        bias_bits=62,
        overflow=overflow,
        neuron_models=NEURON_MODELS,
        current_overflow=current_overflow,
        weight_shift=weight_shift,
        threshold_shift=threshold_shift,
        synapse_delay=synapse_delay,
        activation_bits=activation_bits,
    )


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

    def __init__(self, net: IntNetwork, mapping: Mapping, steps: int) -> None:
        self.where: dict[str, np.ndarray] = mapping.neuron_core
        coords = mapping.coords
        self.n_cores = len(coords)
        ew, ns = mapping.hops()
        same_tile = coords[:, None, 2] == coords[None, :, 2]
        self.route: dict[str, dict[str, np.ndarray]] = {}
        for src, d in mapping.destinations.items():
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
            self.route[src] = entry
        self.per_core = {k: np.zeros((steps, self.n_cores), dtype=np.int64) for k in COUNTERS}
        self.per_layer: dict[str, dict[EventKind, int]] = {
            p.name: dict.fromkeys(COUNTERS, 0) for p in net.populations
        }
        self.input_spikes = 0

    def source(self, t: int, name: str, s: np.ndarray) -> None:
        """Spikes of a source (population or input), summed over the batch: messages, synops."""
        sent = s.sum(axis=0)
        route = self.route.get(name)
        if name not in self.where:
            self.input_spikes += int(sent.sum())
        if route is None:
            return
        self.per_core[EventKind.SYNOPS][t] += np.asarray(route["synops_to_core"].T @ sent).reshape(
            -1
        )
        if name in self.where:
            own = self.where[name]
            for key, counter in (
                ("local", EventKind.MSGS_LOCAL),
                ("remote", EventKind.MSGS_REMOTE),
                ("ew", EventKind.HOPS_EW),
                ("ns", EventKind.HOPS_NS),
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
        self.per_core[EventKind.UPDATES_ACTIVE][t] += np.bincount(
            own, act, minlength=self.n_cores
        ).astype(np.int64)
        self.per_core[EventKind.UPDATES_IDLE][t] += np.bincount(
            own, batch - act, minlength=self.n_cores
        ).astype(np.int64)
        layer = self.per_layer[pop.name]
        layer[EventKind.UPDATES_ACTIVE] += int(act.sum())
        layer[EventKind.UPDATES_IDLE] += int((batch - act).sum())
        layer[EventKind.SYNOPS] += synops_in
        if s is not None:
            spk = s.sum(axis=0)
            self.per_core[EventKind.SPIKES][t] += np.bincount(
                own, spk, minlength=self.n_cores
            ).astype(np.int64)
            layer[EventKind.SPIKES] += int(spk.sum())

    def counts(self, batch: int) -> EventCounts:
        return EventCounts(
            batch=batch,
            per_core=self.per_core,
            per_layer=self.per_layer,
            input_spikes=self.input_spikes,
        )


@dataclass
class _State:
    """Per-population integer state of a run, and what it records."""

    u: dict[str, np.ndarray]
    v: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    rec_s: dict[str, np.ndarray] = field(default_factory=dict)
    rec_v: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, net: IntNetwork, steps: int, batch: int, record: bool) -> _State:
        zeros = {p.name: np.zeros((batch, p.size), np.int64) for p in net.populations}
        outputs = {
            o: np.zeros(
                (steps, batch, *net.shape_of(src)),
                np.uint8 if src in net.inputs or net.population(src).spiking else np.float64,
            )
            for o, src in net.outputs.items()
        }
        state = cls({k: z.copy() for k, z in zeros.items()}, zeros, outputs)
        if record:
            state.rec_s = {
                p.name: np.zeros((steps, batch, p.size), np.uint8)
                for p in net.populations
                if p.spiking
            }
            state.rec_v = {
                p.name: np.zeros((steps, batch, p.size), np.int64) for p in net.populations
            }
        return state


def _drive(
    net: IntNetwork,
    pop: IntPopulation,
    t: int,
    now: dict[str, np.ndarray],
    prev: dict[str, np.ndarray],
    fmt: NumberFormat,
    colcount: dict[str, np.ndarray],
) -> tuple[np.ndarray, int]:
    """Summed synaptic input of `pop` at step t (shifted into the state's scale), and the
    synaptic operations it took."""
    batch = next(iter(now.values())).shape[0]
    drive = np.zeros((batch, pop.size), np.int64)
    synops_in = 0
    for pr in net.projections_into(pop.name):
        delayed = pr.recurrent or fmt.synapse_delay > 0
        if delayed and t == 0:
            continue  # nothing has been sent yet
        src = prev[pr.pre] if delayed else now[pr.pre]
        drive += np.asarray(pr.weight @ src.T).T
        if pr.bias is not None:
            drive += pr.bias
        synops_in += int(src.sum(axis=0) @ colcount[pr.name])
    if fmt.activation_bits:
        drive = _wrap_signed(drive, fmt.activation_bits)
    return drive << fmt.weight_shift, synops_in


def _neurons(
    pop: IntPopulation, drive: np.ndarray, state: _State, fmt: NumberFormat, bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One step of `pop`'s neurons: the current u, the voltage v after reset, the spikes."""
    current_overflow = fmt.current_overflow or fmt.overflow
    if pop.du is not None:
        uu = _overflow(
            _decay(state.u[pop.name], pop.du, bits, fmt.decay_rounding) + drive,
            fmt.state_bits,
            current_overflow,
        )
        state.u[pop.name] = uu
    else:
        uu = drive
    vv = _overflow(
        _decay(state.v[pop.name], pop.dv, bits, fmt.decay_rounding)
        + uu
        + (pop.bias << fmt.weight_shift),
        fmt.state_bits,
        fmt.overflow,
    )
    s = None
    if pop.threshold is not None:
        threshold = pop.threshold << fmt.threshold_shift
        spiking = vv > threshold
        s = spiking.astype(np.int64)
        if pop.reset == "zero":
            vv = np.where(spiking, pop.v_reset << fmt.weight_shift, vv)
        else:
            vv = vv - s * threshold
    state.v[pop.name] = vv
    return uu, vv, s


def _write_outputs(
    net: IntNetwork, t: int, now: dict[str, np.ndarray], state: _State, fmt: NumberFormat
) -> None:
    for o, src in net.outputs.items():
        val = now[src]
        shape = (val.shape[0], *net.shape_of(src))
        if src in net.inputs or net.population(src).spiking:
            state.outputs[o][t] = val.reshape(shape)
        else:
            scale = net.population(src).scale / (1 << fmt.weight_shift)
            state.outputs[o][t] = (val * scale).reshape(shape)


def run(
    net: IntNetwork,
    x: object,
    semantics: NumberFormat | None = None,
    *,
    mapping: Mapping | None = None,
    record: bool = False,
) -> RunResult:
    """Simulate `net` on integer input spikes x (T, batch, *input_shape) with the integer
    arithmetic of `semantics` (a target's `NumberFormat`); with a mapping, count events."""
    fmt = semantics or Semantics()
    xs = integer_inputs(net, x)
    steps, batch = next(iter(xs.values())).shape[:2]
    counter = _Counter(net, mapping, steps) if mapping is not None else None
    state = _State.of(net, steps, batch, record)
    colcount = {pr.name: np.diff(pr.weight.tocsc().indptr) for pr in net.projections}
    prev = {p.name: np.zeros((batch, p.size), np.int64) for p in net.populations}
    for t in range(steps):
        advance("simulate (bit-accurate)", t, steps)
        now = {name: arr[t] for name, arr in xs.items()}
        if counter is not None:
            for name, arr in now.items():
                counter.source(t, name, arr)
        for pop in net.populations:
            drive, synops_in = _drive(net, pop, t, now, prev, fmt, colcount)
            uu, vv, s = _neurons(pop, drive, state, fmt, net.decay_bits)
            now[pop.name] = vv if s is None else s
            if counter is not None:
                counter.population(t, pop, s, (drive != 0) | (vv != 0) | (uu != 0), synops_in)
                if s is not None:
                    counter.source(t, pop.name, s)
            if record:
                state.rec_v[pop.name][t] = vv
                if s is not None:
                    state.rec_s[pop.name][t] = s
        _write_outputs(net, t, now, state, fmt)
        prev = now
    advance("simulate (bit-accurate)", steps, steps)
    return RunResult(
        outputs=state.outputs,
        counts=None if counter is None else counter.counts(batch),
        spikes=state.rec_s,
        v=state.rec_v,
    )


class BitAccurate:
    """neurocomp's own engine ("reference"): every target's arithmetic, with event counting."""

    name = "reference"

    def violations(self, net: IntNetwork, fmt: NumberFormat) -> list[Violation]:
        return []  # the lowering already checked the chip's formats

    def run(
        self,
        net: IntNetwork,
        x: Any,
        fmt: NumberFormat,
        *,
        mapping: Mapping | None = None,
        record: bool = False,
    ) -> RunResult:
        return run(net, x, fmt, mapping=mapping, record=record)


ENGINE = BitAccurate()
