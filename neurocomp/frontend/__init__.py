"""Frontends: turn a trained network (NIR file or graph) into a discrete-time `Network`."""

from __future__ import annotations

from typing import Any

from ..ir.network import Network
from .lower import lower
from .reader import KNOWN_TYPES, RawGraph, read_raw


def load_nir(source: Any, dt: float | None = None, reset: str | None = None) -> Network:
    """Read a .nir path or `nir.NIRGraph` and lower it with time step `dt` (seconds)."""
    return lower(read_raw(source), dt=dt, reset=reset)


__all__ = ["KNOWN_TYPES", "RawGraph", "load_nir", "lower", "read_raw"]
