"""Old import path of the bit-accurate engine (now neurocomp.backends.bit_accurate): an alias."""

from .bit_accurate import COUNTERS, EventCounts, RunResult, Semantics, integer_inputs, run

__all__ = ["COUNTERS", "EventCounts", "RunResult", "Semantics", "integer_inputs", "run"]
