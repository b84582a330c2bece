"""Sourced figures: an energy or timing number with its kind, its source and its band.

In a chip TOML an energy, timing or board figure is either a plain number (kind "unspecified")
or a table with the number's provenance:

    synop_j.value = 23.6e-12
    synop_j.low = 23.6e-12          # optional: the smallest figure the sources give
    synop_j.high = 35.5e-12         # optional: the largest
    synop_j.kind = "pre-silicon simulation"
    synop_j.source = "Davies18 Table 2 (a minimum); high: SANA-FE loihi.yaml (fitted)"

The estimate is reported at `value` (nominal) and with every figure at its `low` and at its
`high` end (the band).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

KINDS = ("measured", "pre-silicon simulation", "fitted", "derived", "assumed", "unspecified")
_KEYS = ("value", "low", "high", "kind", "source")


class FigureError(ValueError):
    """A figure that cannot be used (bad number, kind or band). Internal: the spec loader
    turns it into the TargetError users see, naming the file, section and key."""


@dataclass(frozen=True)
class Figure:
    """A number (SI units: J, s, W) with where it comes from and the band the sources span."""

    value: float
    kind: str = "unspecified"
    source: str = ""
    low: float | None = None
    high: float | None = None

    @property
    def band(self) -> tuple[float, float]:
        """(low, high): the value itself where the sources give no alternative."""
        lo = self.value if self.low is None else self.low
        hi = self.value if self.high is None else self.high
        return lo, hi

    def at(self, end: str) -> float:
        """The figure at 'nominal', 'low' or 'high'."""
        if end == "nominal":
            return self.value
        lo, hi = self.band
        return lo if end == "low" else hi

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"value": self.value, "kind": self.kind, "source": self.source}
        if self.low is not None:
            d["low"] = self.low
        if self.high is not None:
            d["high"] = self.high
        return d


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FigureError(f"{where}.{key} = {value!r}: must be a number")
    if not math.isfinite(value) or value < 0:
        raise FigureError(f"{where}.{key} = {value}: must be finite and >= 0")
    return float(value)


def parse_figure(where: str, key: str, raw: Any) -> Figure:
    """A plain number or a {value, kind, source, low, high} table, validated; `where` names
    the file and section for the error message."""
    if not isinstance(raw, dict):
        return Figure(_number(where, key, raw))
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise FigureError(f"{where}.{key} has unknown field(s) {unknown}; known: {list(_KEYS)}")
    if "value" not in raw:
        raise FigureError(f"{where}.{key} has no 'value'")
    value = _number(where, f"{key}.value", raw["value"])
    kind = raw.get("kind", "unspecified")
    if kind not in KINDS:
        raise FigureError(f"{where}.{key}.kind = {kind!r}: must be one of {KINDS}")
    source = raw.get("source", "")
    if not isinstance(source, str):
        raise FigureError(f"{where}.{key}.source = {source!r}: must be a string")
    if kind != "unspecified" and not source.strip():
        raise FigureError(f"{where}.{key}: kind {kind!r} needs a 'source'")
    low = _number(where, f"{key}.low", raw["low"]) if "low" in raw else None
    high = _number(where, f"{key}.high", raw["high"]) if "high" in raw else None
    lo, hi = value if low is None else low, value if high is None else high
    if not lo <= value <= hi:
        raise FigureError(
            f"{where}.{key}: band must hold the value: low {lo:g} <= value {value:g} <= high {hi:g}"
        )
    return Figure(value, kind, source, low, high)
