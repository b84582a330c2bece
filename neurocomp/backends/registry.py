"""Engines by name, imported only when asked for (Lava's import takes seconds).

A new engine is a module with an object that follows `Backend`; add it to `ENGINES` (or call
`register`) and name it in a chip's TOML as `backend = "..."`.
"""

from __future__ import annotations

import importlib
from typing import cast

from ..errors import InputError
from ..target.spec import TargetSpec
from .base import Backend

# name -> "module:attribute" of the engine object
ENGINES: dict[str, str] = {
    "reference": "neurocomp.backends.bit_accurate:ENGINE",
    "lava": "neurocomp.backends.lava:ENGINE",
}


def register(name: str, where: str) -> None:
    """Make the engine at "module:attribute" available as `name`."""
    ENGINES[name] = where


def engines_for(spec: TargetSpec) -> tuple[str, ...]:
    """Engines that can run a program for `spec`: neurocomp's own, and the chip's backend."""
    return ("reference",) if spec.backend == "reference" else ("reference", spec.backend)


def engine(name: str) -> Backend:
    """The engine called `name`."""
    if name not in ENGINES:
        raise InputError(f"unknown engine '{name}'; engines: {', '.join(ENGINES)}")
    module, attribute = ENGINES[name].split(":")
    return cast(Backend, getattr(importlib.import_module(module), attribute))
