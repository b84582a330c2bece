"""Simulators of the IR (float reference)."""

from .float_sim import Trace, as_inputs, simulate

__all__ = ["Trace", "as_inputs", "simulate"]
