"""Tuning knobs read from the environment (`NEUROCOMP_*`) when a module is imported: a value
that is not a whole number in range is named in a warning and the default used, so that no
command fails with a traceback while starting."""

from __future__ import annotations

import os
import warnings

from .errors import NeurocompWarning


def env_int(name: str, default: int, minimum: int = 0) -> int:
    """The environment variable `name` as an integer >= `minimum`, else `default`."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        warnings.warn(
            f"{name} = {text!r}: expected a whole number >= {minimum}; using {default}",
            NeurocompWarning,
            stacklevel=2,
        )
        return default
    return value
