"""One sweep point (target x pipeline): compile it, run it on shards of the evaluation set,
merge the shards into one row of the table.

The three steps are plain functions of picklable records, so the in-process loop and the Dask
tasks run the same code. Shards are merged exactly: event counts are integers that add up, and
the energy report is computed once from the summed counts, so a sharded point gives the same
row as an unsharded one. Errors are caught and recorded, never raised: one failing point must
not stop the others.
"""

from __future__ import annotations

import math
import os
import sys
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..analysis.energy import energy_report
from ..backends.events import EventCounts
from ..errors import NeurocompError
from ..ir.network import Network
from ..passes.base import Pass, describe
from ..present.metrics import predictions
from ..program.artifact import Program

# Columns of the table, in order; the last ones are timings (they differ run to run).
COLUMNS = (
    "point",
    "target",
    "passes",
    "pipeline",
    "accuracy",
    "energy_per_inference_j",
    "energy_per_inference_low_j",
    "energy_per_inference_high_j",
    "dynamic_per_inference_j",
    "static_per_inference_j",
    "latency_s",
    "cores_used",
    "cores_available",
    "neurons",
    "synapses",
    "weight_bits",
    "samples",
    "error",
    "key",
    "compile_time_s",
    "simulate_time_s",
)
TIMING_COLUMNS = ("compile_time_s", "simulate_time_s")


@dataclass(frozen=True)
class SweepPoint:
    """One design point: a target (shipped chip name or TOML path) and a pipeline string
    ("" for none: the target's own quantization only)."""

    index: int
    target: str
    passes: str


@dataclass
class PointData:
    """What every point shares: the network, calibration input and labels, and the output
    whose spike counts (argmax over time) are the predicted class."""

    network: Network
    calibration: np.ndarray | dict[str, np.ndarray] | None
    calibration_labels: np.ndarray | None
    output: str | None
    chips: int | None = None


@dataclass
class Compiled:
    """A compiled point, or the error that stopped it (then `program` is None)."""

    point: SweepPoint
    program: Program | None
    compile_time_s: float
    error: str = ""
    cacheable: bool = True  # a failure is kept only if it is a neurocomp error (deterministic)


@dataclass
class Shard:
    """One slice of the evaluation set run on a compiled point: predicted classes, the events
    counted, and the simulation time (seconds)."""

    start: int
    predictions: np.ndarray | None
    counts: EventCounts | None
    seconds: float
    error: str = ""
    cacheable: bool = True


@dataclass
class PointRow:
    """One finished point: the figures of the table (units in the column names)."""

    values: dict[str, Any] = field(default_factory=dict)
    cacheable: bool = True  # False for failures another run may not repeat (a lost worker)

    @property
    def failed(self) -> bool:
        return bool(self.values.get("error"))


def pipeline_text(passes: str | Sequence[Pass] | None) -> str:
    """The pipeline-string form of a pipeline given as a string, pass objects or None."""
    if passes is None:
        return ""
    if isinstance(passes, str):
        return passes.strip()
    return ",".join(describe(p, full=True) for p in passes)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run a point with one BLAS/torch thread, so that passes that train reproduce bit for bit
    whichever process runs them (Dask's nanny also sets OMP_NUM_THREADS=1 in workers). torch's
    thread count is put back afterwards; a torch first imported during the point keeps one."""
    torch = sys.modules.get("torch")
    saved_env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update({k: "1" for k in saved_env})  # read by torch if a pass imports it now
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def _error(exc: BaseException) -> str:
    """One line: the error's class and message (neurocomp's errors name what went wrong); a
    bug elsewhere also gets the place it was raised."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    if not isinstance(exc, NeurocompError):
        where = traceback.extract_tb(exc.__traceback__)[-1:]
        if where:
            text += f" (at {os.path.basename(where[0].filename)}:{where[0].lineno})"
    return text


def compile_point(data: PointData, point: SweepPoint) -> Compiled:
    """Compile one point with neurocomp's public compile; errors are recorded, not raised."""
    from .. import api

    start = time.perf_counter()
    try:
        with one_thread():
            prog = api.compile(
                data.network,
                target=point.target,
                passes=point.passes or None,
                calibration=data.calibration,
                labels=data.calibration_labels,
                chips=data.chips,
            )
    except Exception as exc:  # recorded in the table: the sweep goes on
        elapsed = time.perf_counter() - start
        return Compiled(point, None, elapsed, _error(exc), isinstance(exc, NeurocompError))
    return Compiled(point, prog, time.perf_counter() - start)


def run_shard(
    compiled: Compiled, x: np.ndarray | dict[str, np.ndarray], start: int, output: str | None
) -> Shard:
    """Run samples [start, start + batch) of the evaluation set on the bit-accurate engine."""
    if compiled.program is None:
        return Shard(start, None, None, 0.0, compiled.error, compiled.cacheable)
    t0 = time.perf_counter()
    try:
        with one_thread():
            result = compiled.program.run(x)
        outs = result.outputs
        if output is None and len(outs) != 1:
            raise NeurocompError(f"the program has outputs {sorted(outs)}: pass output=")
        y = outs[output] if output is not None else next(iter(outs.values()))
    except Exception as exc:
        elapsed = time.perf_counter() - t0
        return Shard(start, None, None, elapsed, _error(exc), isinstance(exc, NeurocompError))
    return Shard(start, predictions(y), result.counts, time.perf_counter() - t0)


def merge_counts(parts: Sequence[EventCounts]) -> EventCounts:
    """Event counts of the whole evaluation set from those of its shards (exact: integers)."""
    first = parts[0]
    per_core = {k: np.sum([p.per_core[k] for p in parts], axis=0) for k in first.per_core}
    per_layer = {
        layer: {k: sum(p.per_layer[layer][k] for p in parts) for k in d}
        for layer, d in first.per_layer.items()
    }
    return EventCounts(
        batch=sum(p.batch for p in parts),
        per_core=per_core,
        per_layer=per_layer,
        input_spikes=sum(p.input_spikes for p in parts),
        # a shard without payloads has none of these counters (all zero)
        payload={
            k: np.sum([p.payload[k] for p in parts if k in p.payload], axis=0)
            for k in dict.fromkeys(k for p in parts for k in p.payload)
        },
    )


def finish_point(
    compiled: Compiled, shards: Sequence[Shard], labels: np.ndarray | None, key: str
) -> PointRow:
    """The table row of a point from its compile and its shards (in any order)."""
    point = compiled.point
    row: dict[str, Any] = {c: math.nan for c in COLUMNS}
    row.update(
        point=point.index,
        target=point.target,
        passes=point.passes,
        pipeline="",
        error="",
        key=key,
        compile_time_s=compiled.compile_time_s,
        simulate_time_s=float(sum(s.seconds for s in shards)),
    )
    bad = [s for s in shards if s.error]
    if compiled.program is None or bad:
        row["error"] = bad[0].error if bad else compiled.error
        return PointRow(row, bad[0].cacheable if bad else compiled.cacheable)
    try:
        row.update(_figures(compiled.program, sorted(shards, key=lambda s: s.start), labels))
    except Exception as exc:
        row["error"] = _error(exc)
        return PointRow(row, isinstance(exc, NeurocompError))
    return PointRow(row)


def _figures(prog: Program, shards: Sequence[Shard], labels: np.ndarray | None) -> dict[str, Any]:
    counts = merge_counts([s.counts for s in shards if s.counts is not None])
    report = energy_report(prog.net, counts, prog.target, prog.mapping.usage(prog.target))
    pred = np.concatenate([s.predictions for s in shards if s.predictions is not None])
    s = prog.summary
    t = report.totals
    return {
        "pipeline": prog.pipeline,
        "accuracy": float(np.mean(pred == np.asarray(labels))) if labels is not None else math.nan,
        "energy_per_inference_j": report.energy_per_inference_j,
        "energy_per_inference_low_j": _band(report, "low"),
        "energy_per_inference_high_j": _band(report, "high"),
        "dynamic_per_inference_j": float(t["dynamic_per_inference_j"]),
        "static_per_inference_j": float(t["static_per_inference_j"]),
        "latency_s": float(t["latency_s"]),
        "cores_used": int(s["cores_used"]),
        "cores_available": int(s["cores_available"]),
        "neurons": int(s["neurons"]),
        "synapses": int(s["synapses"]),
        "weight_bits": int(s["weight_bits"]) if s.get("weight_bits") is not None else math.nan,
        "samples": int(counts.batch),
    }


def _band(report: Any, side: str) -> float:
    """The energy band's edge when the report has one (NaN until the energy model gives it)."""
    value = getattr(report, f"energy_per_inference_{side}_j", None)
    return math.nan if value is None else float(value)


def shard_bounds(batch: int, shard_size: int | None) -> list[tuple[int, int]]:
    """[start, stop) slices of the evaluation batch, `shard_size` samples each (the last one
    shorter); None: one slice."""
    size = batch if not shard_size else max(1, int(shard_size))
    return [(i, min(i + size, batch)) for i in range(0, batch, size)] or [(0, 0)]


def take(x: np.ndarray | Mapping[str, np.ndarray], start: int, stop: int) -> Any:
    """Samples [start, stop) of (T, batch, ...) input(s)."""
    if isinstance(x, Mapping):
        return {k: np.ascontiguousarray(v[:, start:stop]) for k, v in x.items()}
    return np.ascontiguousarray(x[:, start:stop])
