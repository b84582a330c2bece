"""The sweep's result: the table (pandas), its Pareto front, the plot, and the files written.

Files (each written atomically): `table.csv`, `table.parquet`, `report.html` (the Pareto plot as
an embedded PNG, the front and the whole table; nothing fetched when it is opened).
"""

from __future__ import annotations

import base64
import datetime
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from ..files import write_atomic
from .pareto import DEFAULT_OBJECTIVES, UNLABELLED_OBJECTIVES, pareto_mask
from .points import COLUMNS, PointRow

INT_COLUMNS = (
    "point",
    "cores_used",
    "cores_available",
    "neurons",
    "synapses",
    "weight_bits",
    "samples",
)
TEXT_COLUMNS = ("target", "passes", "pipeline", "error", "key")
OUTPUT_FILES = ("table.csv", "table.parquet", "report.html")


def make_table(rows: Sequence[PointRow]) -> Any:
    """The DataFrame of finished rows, by point index, with fixed column types (integers
    nullable, so a failed point leaves <NA> and not a float)."""
    import pandas as pd

    records = sorted((r.values for r in rows), key=lambda v: int(v["point"]))
    df = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    for c in INT_COLUMNS:
        df[c] = pd.array([None if _missing(v) else int(v) for v in df[c]], dtype="Int64")
    for c in TEXT_COLUMNS:
        df[c] = df[c].astype(str)
    for c in COLUMNS:
        if c not in INT_COLUMNS and c not in TEXT_COLUMNS:
            df[c] = df[c].astype("float64")
    return df


def _write_text(path: Path, text: str) -> None:
    path.write_text(text)


def _label(column: str) -> str:
    """An axis label from a column name: units in brackets ("energy_per_inference_j" ->
    "energy per inference (J)")."""
    for suffix, unit in (("_j", "J"), ("_s", "s")):
        if column.endswith(suffix):
            return f"{column[: -len(suffix)].replace('_', ' ')} ({unit})"
    return column.replace("_", " ")


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


@dataclass
class SweepResult:
    """What `nc.sweep` returns. `table`: one row per point (pandas DataFrame; energies in
    joules per inference, latency in seconds per inference, times in seconds); `cached`: how
    many points came from the cache; `folder`: where the files were written (or None)."""

    table: Any
    cached: int = 0
    folder: Path | None = None

    def pareto(self, objectives: Mapping[str, str] | None = None) -> Any:
        """The non-dominated points (failed ones excluded): by default the highest accuracy
        for the lowest energy per inference (without labels: the fewest cores for the lowest
        energy). objectives: column -> "max" or "min", e.g.
        {"accuracy": "max", "energy_per_inference_j": "min", "cores_used": "min"}."""
        objs = self._objectives(objectives)
        ok = self.table[self.table["error"] == ""]
        values = ok[list(objs)].to_numpy(dtype=np.float64, na_value=np.nan)
        return ok[pareto_mask(values, list(objs.values()))]

    def _objectives(self, objectives: Mapping[str, str] | None) -> dict[str, str]:
        if objectives:
            return dict(objectives)
        labelled = self.table["accuracy"].notna().any()
        return dict(DEFAULT_OBJECTIVES if labelled else UNLABELLED_OBJECTIVES)

    @property
    def failed(self) -> Any:
        """The rows of points that failed, with their `error`."""
        return self.table[self.table["error"] != ""]

    def plot(self, objectives: Mapping[str, str] | None = None) -> Any:
        """Matplotlib figure: every point by the first two objectives (energy per inference on
        a log axis when it is one), coloured by target, the Pareto front joined."""
        from ..present.plots import DisplayFigure

        objs = list(self._objectives(objectives))
        x_col, y_col = (objs + objs)[1], objs[0]
        fig = DisplayFigure(figsize=(7, 4.5))
        ax = fig.subplots()
        ok = self.table[self.table["error"] == ""]
        for target, group in ok.groupby("target", sort=True):
            ax.scatter(group[x_col], group[y_col], label=str(target), alpha=0.7)
        front = self.pareto(objectives).sort_values(x_col)
        ax.plot(front[x_col], front[y_col], "k--", marker="o", mfc="none", ms=10, label="Pareto")
        if x_col.endswith("_j") and (ok[x_col] > 0).all() and len(ok):
            ax.set_xscale("log")
        ax.set_xlabel(_label(x_col))
        ax.set_ylabel(_label(y_col))
        ax.set_title(f"{len(ok)} points ({len(self.table) - len(ok)} failed)")
        ax.legend(fontsize="small")
        fig.tight_layout()
        return fig

    def html(self) -> str:
        """The self-contained HTML report: plot (embedded PNG), Pareto front, failures, table."""
        buf = io.BytesIO()
        self.plot().savefig(buf, format="png", dpi=110)
        png = base64.b64encode(buf.getvalue()).decode()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        failed = self.failed[["point", "target", "passes", "error"]]
        parts = [
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>neurocomp sweep</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
            "font-size:90%}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>",
            f"<h1>neurocomp sweep: {len(self.table)} points</h1>",
            f"<p>{escape(stamp)}; {self.cached} points from the cache.</p>",
            f"<img alt='Pareto plot' src='data:image/png;base64,{png}'>",
            "<h2>Pareto front</h2>",
            self.pareto().to_html(index=False, na_rep=""),
            f"<h2>Failed points ({len(failed)})</h2>",
            failed.to_html(index=False) if len(failed) else "<p>none</p>",
            "<h2>All points</h2>",
            self.table.to_html(index=False, na_rep=""),
            "</body></html>",
        ]
        return "\n".join(parts)

    def write(self, folder: str | os.PathLike[str]) -> Path:
        """Write table.csv, table.parquet and report.html into `folder` (created)."""
        out = Path(folder)
        write_atomic(out / "table.csv", lambda tmp: self.table.to_csv(tmp, index=False))
        write_atomic(out / "table.parquet", lambda tmp: self.table.to_parquet(tmp, index=False))
        text = self.html()
        write_atomic(out / "report.html", lambda tmp: _write_text(tmp, text))
        self.folder = out
        return out

    def _repr_html_(self) -> str:
        return str(self.table.to_html(index=False, na_rep="", max_rows=60))
