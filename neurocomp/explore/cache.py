"""Finished points on disk, one JSON file per point named by its content hash.

A point is written (atomically) the moment its result reaches the sweep, so killing a worker or
the whole sweep loses no finished point; the next run with the same cache folder reuses it.
Points that failed with a neurocomp error (a network that does not fit, a bad pass option) are
kept too: the same inputs fail the same way. Other failures (a lost worker, a bug) are not, so a
rerun tries them again.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ..files import write_atomic
from .points import COLUMNS, PointRow

CACHE_FORMAT = 1


class PointCache:
    """A folder of finished points (`<key>.json`)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> PointRow | None:
        """The cached row of `key`, or None (missing or unreadable: computed again)."""
        try:
            stored = json.loads(self.path(key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(stored, dict):  # another writer's JSON, or a damaged file
            return None
        if stored.get("format") != CACHE_FORMAT or stored.get("key") != key:
            return None
        values = stored.get("row", {})
        if not isinstance(values, dict) or set(values) != set(COLUMNS):
            return None
        return PointRow({c: _nan(values[c]) for c in COLUMNS})

    def put(self, row: PointRow) -> bool:
        """Store a finished row; a failed one only if its failure is deterministic
        (`row.cacheable`). Returns whether it was stored."""
        if row.failed and not row.cacheable:
            return False
        key = str(row.values["key"])
        text = json.dumps({"format": CACHE_FORMAT, "key": key, "row": row.values}, indent=1)
        write_atomic(self.path(key), lambda tmp: _write_text(tmp, text + "\n"))
        return True


def _write_text(path: Path, text: str) -> None:
    path.write_text(text)


def _nan(value: Any) -> Any:
    """JSON stores NaN as NaN (Python's json reads it back); None from other writers too."""
    return math.nan if value is None else value
