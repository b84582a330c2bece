"""The events a bit-accurate run counts, shared by the counters and the energy model."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class EventKind(StrEnum):
    """One kind of event a core spends energy and time on (the value is the saved counter name)."""

    SPIKES = "spikes"
    SYNOPS = "synops"  # synaptic operations, counted at the receiving core
    UPDATES_ACTIVE = "updates_active"  # neuron updates with non-zero drive or state
    UPDATES_IDLE = "updates_idle"
    MSGS_LOCAL = "msgs_local"  # spike messages within a tile
    MSGS_REMOTE = "msgs_remote"  # spike messages between tiles
    HOPS_EW = "hops_ew"  # east-west router hops
    HOPS_NS = "hops_ns"  # north-south router hops
    MSGS_INPUT = "msgs_input"  # input spikes arriving at a core: one per spike and core
    MSGS_CHIP = "msgs_chip"  # messages to a core on another chip (counted at the sender)


COUNTERS: tuple[EventKind, ...] = tuple(EventKind)
# the counters of messages (and their hops): what a graded spike's payload makes dearer
MESSAGE_KINDS: tuple[EventKind, ...] = (
    EventKind.MSGS_LOCAL,
    EventKind.MSGS_REMOTE,
    EventKind.MSGS_INPUT,
    EventKind.HOPS_EW,
    EventKind.HOPS_NS,
    EventKind.MSGS_CHIP,
)


@dataclass(kw_only=True)
class EventCounts:
    """Event totals per step and core (summed over the batch), and per population."""

    batch: int
    # kind -> (T, cores), int32 where every count provably fits (else int64); a kind the
    # mapping cannot produce (hops on one tile) is read-only zeros
    per_core: dict[EventKind, np.ndarray]
    per_layer: dict[str, dict[EventKind, int]]  # population -> kind -> total
    input_spikes: int = 0
    # the part of each message counter (MESSAGE_KINDS, (T, cores)) that carries a payload: sent
    # by graded populations (multi-spike counts, sigma-delta values) and by inputs with values
    # above 1; empty where a run counted none
    payload: dict[EventKind, np.ndarray] = field(default_factory=dict)

    def total(self, counter: str) -> int:
        return int(self.per_core[EventKind(counter)].sum())
