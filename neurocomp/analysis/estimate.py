"""Counted events -> joules and seconds, at the nominal figures and at both ends of their band.

Per inference, at each end ("nominal", "low", "high") of every sourced figure:

- dynamic: every event x its figure: synaptic ops, active and idle neuron updates, spikes,
  messages within the chip, tile hops, messages over chip-to-chip links, and input spikes
  arriving at their cores; a message that carries a graded payload (and its hops and link)
  costs `Activity.payload_factor` bare ones;
- host: the values streamed between host and chip every step (each input channel in, each output
  neuron out) x `host_value_j`;
- static: the chips' static power over the latency. Nominal and high: every chip of the board
  (idle cores are not power-gated); low: only the cores in use (static_power_w.low x cores used
  / cores per chip);
- latency: per step, the busiest core's work + the barrier (by the tiles in use, or the
  barrier across chips, growing in log2 of the chips, when more than one chip is used) + the
  x86 management overhead + the host values x `host_value_s`; at least `time_step_s`; summed
  over the steps. At the low end a core's pipeline stages overlap (the busiest stage, not the
  sum, sets its work).

Every term grows with its figures, so low <= nominal <= high.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..target.figures import Figure
from ..target.spec import TargetSpec

ENDS = ("nominal", "low", "high")
MESSAGE_BITS = 32  # a spike message: the address (Davies et al. 2021); a payload adds to it


@dataclass(frozen=True)
class Band:
    """A quantity at the nominal figures and at the low and high ends of their band."""

    nominal: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Mapping[str, float]) -> Band:
        return cls(float(values["nominal"]), float(values["low"]), float(values["high"]))

    def covers(self, x: float) -> bool:
        return self.low <= x <= self.high

    def __add__(self, other: Band) -> Band:
        return Band(self.nominal + other.nominal, self.low + other.low, self.high + other.high)


@dataclass(frozen=True)
class Activity:
    """What the estimate needs of a run: counters per step and core (summed over the batch),
    the batch, which chip each used core sits on and which tile, and the host traffic."""

    per_core: Mapping[str, np.ndarray]  # counter -> (T, cores)
    batch: int
    core_chip: np.ndarray  # (cores,) chip index of each used core
    core_tile: np.ndarray  # (cores,) tile id (unique on the board) of each used core
    host_values_per_step: int  # input channels + output neurons streamed each step, per sample
    # a message with a graded payload costs payload_factor bare 32-bit messages (energy, time,
    # and its hops); `payload` holds, per message counter, the part (T, cores) that carries one
    payload_factor: float = 1.0
    payload: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    """Per-inference energy (J) by part, and latency (s), each a Band."""

    dynamic_j: Band
    host_j: Band
    static_j: Band
    energy_j: Band
    latency_s: Band
    step_s: Band  # mean step time
    chip_latency_s: Band  # the chip's own part: busiest core + barrier, summed over the steps
    parts_j: dict[str, Band]  # dynamic energy by event kind
    chips_used: int = 1
    chip_link_j: Band = Band(0.0, 0.0, 0.0)  # messages over chip-to-chip links (in dynamic_j)
    chip_barrier_s: Band = Band(0.0, 0.0, 0.0)  # barrier across chips per step (in step_s)


def figure(spec: TargetSpec, section: str, key: str) -> Figure:
    """The sourced figure behind spec.<section>.<key> (a bare number where none is recorded)."""
    found = spec.figures.get(f"{section}.{key}")
    if found is not None:
        return found
    return Figure(float(getattr(getattr(spec, section), key)))


def _counter(act: Activity, key: str) -> np.ndarray:
    arr = act.per_core.get(key)
    if arr is None:
        ref = next(iter(act.per_core.values()))
        return np.zeros(ref.shape, dtype=np.float64)
    return np.asarray(arr, dtype=np.float64)


# event counter -> (energy figure, time figure) ; messages pay spike_local per message
_EVENTS = {
    "synops": ("energy.synop_j", "timing.synop_s"),
    "updates_active": ("energy.neuron_update_active_j", "timing.neuron_update_active_s"),
    "updates_idle": ("energy.neuron_update_idle_j", "timing.neuron_update_idle_s"),
    "spikes": ("energy.spike_j", "timing.spike_s"),
    "msgs_local": ("energy.spike_local_j", "timing.spike_local_s"),
    "msgs_remote": ("energy.spike_local_j", "timing.spike_local_s"),
    "msgs_input": ("energy.spike_local_j", "timing.spike_local_s"),
    "hops_ew": ("energy.hop_ew_j", "timing.hop_ew_s"),
    "hops_ns": ("energy.hop_ns_j", "timing.hop_ns_s"),
    "msgs_chip": ("board.chip_link_j", "board.chip_link_s"),
}
_MESSAGE_COUNTERS = ("msgs_local", "msgs_remote", "msgs_input", "hops_ew", "hops_ns", "msgs_chip")


def _fig(spec: TargetSpec, dotted: str, end: str) -> float:
    section, key = dotted.split(".")
    return figure(spec, section, key).at(end)


def priced(key: str, count: Any, payload: Mapping[str, Any], factor: float) -> Any:
    """A counter in bare events: a message carrying a payload counts `factor` bare ones."""
    if key in _MESSAGE_COUNTERS and key in payload and factor != 1.0:
        return count + (factor - 1.0) * np.asarray(payload[key], dtype=np.float64)
    return count


def event_energy(
    spec: TargetSpec,
    counts: Mapping[str, Any],
    end: str = "nominal",
    payload_factor: float = 1.0,
    payload: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Joules by event kind for event totals `counts` (counter -> number or array summed), of
    which `payload` (counter -> the same) carry a payload worth `payload_factor` messages."""
    out = {}
    for key, (e_fig, _) in _EVENTS.items():
        if key not in counts:
            continue
        n = priced(key, np.sum(counts[key], dtype=np.float64), _sums(payload), payload_factor)
        out[key] = float(n) * _fig(spec, e_fig, end)
    return out


def _sums(payload: Mapping[str, Any] | None) -> dict[str, float]:
    return {k: float(np.sum(v, dtype=np.float64)) for k, v in (payload or {}).items()}


# a core's pipeline: synapses, then neurons (dendrite and soma), then the axon's messages
_STAGES = (
    ("synops",),
    ("updates_active", "updates_idle", "spikes"),
    ("msgs_local", "msgs_remote", "msgs_input", "hops_ew", "hops_ns", "msgs_chip"),
)


def core_work(spec: TargetSpec, act: Activity, end: str) -> np.ndarray:
    """(T, cores) seconds of work per core and step, per sample: the events one after another;
    at the low end the core's pipeline stages (synapses, neurons, messages) fully overlapped,
    as SANA-FE's detailed timing model lets them."""
    stages = []
    for keys in _STAGES:
        work = np.zeros_like(_counter(act, "synops"))
        for key in keys:
            n = priced(key, _counter(act, key), act.payload, act.payload_factor)
            work += n * _fig(spec, _EVENTS[key][1], end)
        stages.append(work)
    combined = np.maximum.reduce(stages) if end == "low" else np.sum(stages, axis=0)
    return combined / max(act.batch, 1)


def chip_barrier(spec: TargetSpec, chips: int, end: str) -> float:
    """Barrier per step across `chips` chips (0 for one): `chip_barrier_s` for two, plus
    `chip_barrier_doubling_s` per doubling beyond (a barrier tree over the chips)."""
    if chips <= 1:
        return 0.0
    two = _fig(spec, "board.chip_barrier_s", end)
    return two + _fig(spec, "board.chip_barrier_doubling_s", end) * math.log2(chips / 2)


def barrier(spec: TargetSpec, act: Activity, end: str) -> float:
    """Barrier per step: across chips when more than one is used (`chip_barrier`); else by the
    tiles in use, from one tile (`barrier_tile_s`) to the chip's all (`barrier_s`), in log2 of
    the tiles (a barrier tree; SANA-FE's fitted table grows so: 0.6, 1.0, 1.4, 1.8 us for 1, 2,
    4, 29)."""
    chips = int(np.unique(act.core_chip).size)
    if chips > 1:
        return chip_barrier(spec, chips, end)
    full = _fig(spec, "timing.barrier_s", end)
    one = _fig(spec, "timing.barrier_tile_s", end)
    tiles = max(1, int(np.unique(act.core_tile).size))
    per_chip = spec.mesh.tiles_x * spec.mesh.tiles_y
    if per_chip <= 1:
        return full
    return one + (full - one) * math.log2(min(tiles, per_chip)) / math.log2(per_chip)


def chip_step_times(spec: TargetSpec, act: Activity, end: str) -> np.ndarray:
    """(T,) seconds per step the chip itself takes: the busiest core's work + the barrier."""
    work = core_work(spec, act, end)
    busiest = work.max(axis=1) if work.size else np.zeros(work.shape[0])
    return busiest + barrier(spec, act, end)


def step_times(spec: TargetSpec, act: Activity, end: str) -> np.ndarray:
    """(T,) seconds per step: the chip's + management + host values, or the target's fixed
    time step if that is longer."""
    per_step = (
        chip_step_times(spec, act, end)
        + _fig(spec, "timing.step_overhead_s", end)
        + act.host_values_per_step * _fig(spec, "board.host_value_s", end)
    )
    return np.maximum(per_step, spec.time_step_s)


def static_power(spec: TargetSpec, act: Activity, end: str) -> float:
    """Watts of static power charged: the whole board, or (low end) only the cores in use."""
    p = _fig(spec, "energy.static_power_w", end)
    if end == "low":
        return p * act.core_chip.size / spec.mesh.cores_per_chip
    return p * spec.chips


def estimate(spec: TargetSpec, act: Activity) -> Estimate:
    """The energy per inference and latency of `act` on `spec`, nominal and banded."""
    batch = max(act.batch, 1)
    steps = next(iter(act.per_core.values())).shape[0]
    totals = {k: float(np.sum(v)) for k, v in act.per_core.items()}
    chips = int(np.unique(act.core_chip).size)
    res: dict[str, dict[str, float]] = {}
    parts: dict[str, dict[str, float]] = {}
    for end in ENDS:
        by_kind = event_energy(spec, totals, end, act.payload_factor, act.payload)
        dyn = sum(by_kind.values()) / batch
        host = act.host_values_per_step * steps * _fig(spec, "board.host_value_j", end)
        times = step_times(spec, act, end)
        latency = float(times.sum())
        static = static_power(spec, act, end) * latency
        res[end] = {
            "dynamic": dyn,
            "host": host,
            "static": static,
            "energy": dyn + host + static,
            "latency": latency,
            "step": latency / max(steps, 1),
            "chip": float(chip_step_times(spec, act, end).sum()),
            "chip_barrier": chip_barrier(spec, chips, end),
        }
        for k, v in by_kind.items():
            parts.setdefault(k, {})[end] = v / batch
    pick = lambda key: Band.of({e: res[e][key] for e in ENDS})  # noqa: E731
    return Estimate(
        dynamic_j=pick("dynamic"),
        host_j=pick("host"),
        static_j=pick("static"),
        energy_j=pick("energy"),
        latency_s=pick("latency"),
        step_s=pick("step"),
        chip_latency_s=pick("chip"),
        parts_j={k: Band.of(v) for k, v in parts.items()},
        chips_used=chips,
        chip_link_j=Band.of(parts["msgs_chip"]) if "msgs_chip" in parts else Band(0.0, 0.0, 0.0),
        chip_barrier_s=pick("chip_barrier"),
    )
