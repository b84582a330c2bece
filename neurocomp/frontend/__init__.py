"""Frontends: turn a trained network (NIR file or graph) into a discrete-time `Network`."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from ..errors import NeurocompWarning
from ..ir.network import Network
from . import conventions
from .lower import _discretise, lower
from .reader import KNOWN_TYPES, RawGraph, read_raw


def load_nir(
    source: Any,
    dt: float | None = None,
    reset: str | None = None,
    framework: str | None = None,
    max_spikes: Any = conventions._UNSET,
) -> Network:
    """Read a .nir path or `nir.NIRGraph` and lower it with time step `dt` (seconds), reading
    its neurons by the exporter `framework`'s conventions (see `conventions`)."""
    graph = read_raw(source)
    choice = conventions.choose(graph, framework, dt, reset, max_spikes)
    fixed = conventions.strip_batch_dims(graph, choice.convention.name)
    if choice.convention.name == "spyx":
        fixed += conventions.repair_spyx(graph)
    for msg in fixed:
        warnings.warn(f"repaired: {msg}", NeurocompWarning, stacklevel=2)
    graph.repairs.extend(fixed)
    plain = choice.convention.name == "nir" and choice.max_spikes == 1
    net = lower(
        graph,
        dt=choice.dt,
        reset=choice.reset,
        discretise=None if plain else conventions.discretiser(choice, _discretise),
    )
    meta = {
        **net.metadata,
        "framework": choice.convention.name,
        "repairs": [*graph.repairs, *choice.notes],
    }
    return dataclasses.replace(net, metadata=meta)


__all__ = ["KNOWN_TYPES", "RawGraph", "load_nir", "lower", "read_raw"]
