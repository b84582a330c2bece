"""`sweep`: every (target x pipeline) point compiled, run on the evaluation set, tabulated.

Where it runs: in this process (the default, no cluster needed), on a Dask LocalCluster started
for the sweep (`scheduler="local:N"`: N worker processes of one thread each), or on an existing
Dask cluster (`scheduler="tcp://host:8786"` or a `distributed.Client`). The same code computes
each point in every case, so the table is the same (timing columns aside).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..inputs import check_labels
from ..ir.network import Network
from ..passes.base import Pass, parse_pipeline
from ..progress import advance
from ..target.spec import load_target
from .cache import PointCache
from .digest import digest
from .points import (
    COLUMNS,
    PointData,
    PointRow,
    SweepPoint,
    compile_point,
    finish_point,
    pipeline_text,
    run_shard,
    shard_bounds,
    take,
)
from .report import SweepResult, make_table

Pipeline = str | Sequence[Pass] | None


def sweep(
    model: Any,
    targets: Sequence[str] = ("reference",),
    passes: Sequence[Pipeline] = (None,),
    calibration: np.ndarray | Mapping[str, np.ndarray] | None = None,
    labels: np.ndarray | None = None,
    eval_input: np.ndarray | Mapping[str, np.ndarray] | None = None,
    eval_labels: np.ndarray | None = None,
    scheduler: Any = None,
    *,
    folder: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    output: str | None = None,
    shard_size: int | None = None,
    chips: int | None = None,
    dt: float | None = None,
    reset: str | None = None,
) -> SweepResult:
    """Compile and evaluate every point of targets x passes; a `SweepResult` with the table.

    model: a Network, or a .nir/.onnx path loaded with `dt` (seconds) and `reset` as `load`
    does. targets: chip names or TOML paths. passes: pipelines (strings like
    "quantize{weight_bits=4},prune{sparsity=0.5}", lists of passes, or None for the target's
    own quantization only). calibration, labels: sample input (T, batch, *input_shape) and its
    classes for the passes. eval_input, eval_labels: the evaluation set, run on neurocomp's
    bit-accurate engine; accuracy is the argmax over time of `output`'s spikes against the labels.
    scheduler: None (this process), "local:N" (a LocalCluster of N one-thread worker processes),
    a scheduler address, or a `distributed.Client`.
    folder: write table.csv, table.parquet, report.html there, and cache points in
    folder/cache unless `cache` names another folder. shard_size: evaluation samples per
    simulation task (default: the whole set in-process; on Dask enough shards to keep every
    worker busy). A failing point is recorded with its `error`; the others go on.
    """
    from .. import api

    _require("pandas")  # before any work: the table needs it
    if isinstance(scheduler, str) and scheduler.startswith("local:"):
        _worker_count(scheduler)  # a bad count fails now, even when every point is cached
    if eval_input is None:
        raise InputError("sweep: eval_input (T, batch, *input_shape) is required")
    net = model if isinstance(model, Network) else api.load(model, dt, reset, calibration)
    eval_x = _by_input(net, eval_input)
    batch = _batch(eval_x)
    _check_eval_labels(net, eval_labels, batch, output)
    _check_shard_size(shard_size)
    cal = None if calibration is None else _by_input(net, calibration)
    data = PointData(net, cal, _opt_labels(labels), output, chips)
    points = _points(targets, passes)
    base = digest("neurocomp-sweep", _version(), net, data.calibration, data.calibration_labels)
    base = digest(base, eval_x, _opt_labels(eval_labels), output, chips)
    keys = {p.index: digest(base, load_target(p.target, chips).to_dict(), p.passes) for p in points}
    store = _store(folder, cache)
    rows = _cached_rows(store, points, keys)
    cached = len(rows)
    todo = [p for p in points if p.index not in rows]
    advance("sweep", cached, len(points))

    def finished(row: PointRow) -> None:
        rows[int(row.values["point"])] = row
        if store is not None:
            store.put(row)
        advance("sweep", len(rows), len(points))

    job = _Job(data, eval_x, _opt_labels(eval_labels), keys, shard_size)
    if todo:
        with _client(scheduler) as client:
            if client is None:
                job.in_process(todo, finished)
            else:
                job.on_dask(client, todo, finished)
    result = SweepResult(make_table([rows[p.index] for p in points]), cached)
    if folder is not None:
        result.write(folder)
    return result


def _cached_rows(
    store: PointCache | None, points: Sequence[SweepPoint], keys: dict[int, str]
) -> dict[int, PointRow]:
    """The rows of the points already in the cache, renumbered for this sweep."""
    rows: dict[int, PointRow] = {}
    for p in points:
        hit = store.get(keys[p.index]) if store is not None else None
        if hit is not None:
            hit.values["point"], hit.values["passes"] = p.index, p.passes
            rows[p.index] = hit
    return rows


class _Job:
    """The points still to compute and what they share."""

    def __init__(
        self,
        data: PointData,
        eval_x: Any,
        eval_labels: np.ndarray | None,
        keys: dict[int, str],
        shard_size: int | None,
    ) -> None:
        self.data, self.x, self.labels, self.keys = data, eval_x, eval_labels, keys
        self.batch = _batch(eval_x)
        self.shard_size = shard_size

    def in_process(self, todo: Sequence[SweepPoint], done: Any) -> None:
        bounds = shard_bounds(self.batch, self.shard_size)
        for p in todo:
            compiled = compile_point(self.data, p)
            shards = [
                run_shard(compiled, take(self.x, a, b), a, self.data.output) for a, b in bounds
            ]
            done(finish_point(compiled, shards, self.labels, self.keys[p.index]))

    def on_dask(self, client: Any, todo: Sequence[SweepPoint], done: Any) -> None:
        from distributed import as_completed

        size = self.shard_size or _auto_shard(self.batch, len(todo), _workers(client))
        bounds = shard_bounds(self.batch, size)
        tag = digest(self.keys[todo[0].index], size)[:16]
        # Data travel inside tasks (not scattered): a lost worker's copy is recomputed.
        data_f = client.submit(_same, self.data, key=f"sweep-data-{tag}")
        x_f = [
            client.submit(_same, take(self.x, a, b), key=f"sweep-x-{tag}-{a}") for a, b in bounds
        ]
        futures = {}
        for p in todo:
            name = f"{self.keys[p.index][:32]}-{p.index}"
            if len(bounds) == 1:  # one task: the program never leaves its worker
                row = client.submit(
                    whole_point, data_f, p, x_f[0], self.labels, self.keys[p.index],
                    key=f"sweep-point-{name}",
                )  # fmt: skip
            else:
                row = self._sharded(client, p, name, data_f, x_f, bounds)
            futures[row.key] = (row, p)
        for fut in as_completed([f for f, _ in futures.values()]):
            p = futures[fut.key][1]
            try:
                done(fut.result())
            except Exception as exc:  # the task could not run (e.g. its worker kept dying)
                done(_lost(p, self.keys[p.index], exc))
            fut.release()

    def _sharded(
        self,
        client: Any,
        p: SweepPoint,
        name: str,
        data_f: Any,
        x_f: list[Any],
        bounds: list[tuple[int, int]],
    ) -> Any:
        """Compile once, simulate each shard as its own task, merge: the row's future."""
        comp = client.submit(compile_point, data_f, p, key=f"sweep-compile-{name}")
        shards = [
            client.submit(run_shard, comp, xf, a, self.data.output, key=f"sweep-sim-{name}-{a}")
            for xf, (a, _) in zip(x_f, bounds, strict=True)
        ]
        key = self.keys[p.index]
        return client.submit(finish_point, comp, shards, self.labels, key, key=f"sweep-row-{name}")


def whole_point(
    data: PointData, point: SweepPoint, x: Any, labels: np.ndarray | None, key: str
) -> PointRow:
    """Compile, run on the whole evaluation set, tabulate: one point in one call."""
    compiled = compile_point(data, point)
    return finish_point(compiled, [run_shard(compiled, x, 0, data.output)], labels, key)


def _same(value: Any) -> Any:
    return value


def _lost(point: SweepPoint, key: str, exc: BaseException) -> PointRow:
    row: dict[str, Any] = {c: math.nan for c in COLUMNS}
    row.update(
        point=point.index,
        target=point.target,
        passes=point.passes,
        pipeline="",
        key=key,
        error=f"{type(exc).__name__}: {exc}".replace("\n", " "),
    )
    return PointRow(row, cacheable=False)


def _auto_shard(batch: int, points: int, workers: int) -> int:
    """Samples per shard: enough shards that there are two tasks per worker."""
    shards = max(1, math.ceil(2 * workers / max(points, 1)))
    return max(1, math.ceil(batch / shards))


def _workers(client: Any) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


@contextmanager
def _client(scheduler: Any) -> Iterator[Any]:
    """None in-process; else a distributed.Client (closed afterwards when the sweep made it)."""
    if scheduler is None or scheduler == "inprocess":
        yield None
        return
    _require("distributed")
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    text = str(scheduler)
    if text.startswith("local:"):
        with local_cluster(_worker_count(text)) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(text, timeout="30s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"sweep: cannot reach the Dask scheduler at {text} ({exc})") from None
    with client:
        yield client


def local_cluster(workers: int) -> Any:
    """A Dask LocalCluster of `workers` processes with one thread each (OMP_NUM_THREADS=1, as
    Dask sets), without Dask's default MALLOC_TRIM_THRESHOLD_: setting it fixes glibc's mmap
    threshold, and every large array the simulator allocates per step then costs fresh pages
    (measured: a bit-accurate run 2.3x slower). Use it as a context manager."""
    import dask
    from distributed import LocalCluster

    key = "MALLOC_TRIM_THRESHOLD_"
    inherited = os.environ.pop(key, None)  # Dask's nanny exports it into this process too
    try:
        with dask.config.set({f"distributed.nanny.pre-spawn-environ.{key}": None}):
            return LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
    finally:
        if inherited is not None:
            os.environ[key] = inherited


def _worker_count(text: str) -> int:
    try:
        n = int(text.split(":", 1)[1])
    except ValueError:
        n = 0
    if n < 1:
        raise InputError(f"sweep: scheduler '{text}': expected local:N with N >= 1 workers")
    return n


def _points(targets: Sequence[str], passes: Sequence[Pipeline]) -> list[SweepPoint]:
    """Every target x pipeline, pipelines parsed first so that a typo fails before any work."""
    if isinstance(targets, str):
        targets = [targets]
    if isinstance(passes, str):
        passes = [passes]
    if not targets or not passes:
        raise InputError("sweep: at least one target and one pipeline (None: none) needed")
    texts = [pipeline_text(p) for p in passes]
    for t in texts:
        parse_pipeline(t)
    for t in targets:
        load_target(t)
    pairs = itertools.product([str(t) for t in targets], texts)
    return [SweepPoint(i, t, p) for i, (t, p) in enumerate(pairs)]


def _store(folder: Any, cache: Any) -> PointCache | None:
    if cache is not None:
        return PointCache(cache)
    if folder is not None:
        return PointCache(Path(folder) / "cache")
    return None


def _by_input(net: Network, x: Any) -> dict[str, np.ndarray]:
    """Input arrays by input name (one array stands for the only input): the same data give
    the same cache key however they were passed."""
    if isinstance(x, Mapping):
        return {str(k): np.asarray(v) for k, v in sorted(x.items())}
    if len(net.inputs) != 1:
        raise InputError(f"the network has inputs {sorted(net.inputs)}: pass a dict of arrays")
    return {next(iter(net.inputs)): np.asarray(x)}


def _opt_labels(labels: Any) -> np.ndarray | None:
    return None if labels is None else np.asarray(labels)


def _batch(x: dict[str, np.ndarray]) -> int:
    arrays = list(x.values())
    if not arrays or any(a.ndim < 2 for a in arrays):
        raise InputError("sweep: eval_input must be (T, batch, *input_shape)")
    sizes = {int(a.shape[1]) for a in arrays}
    if len(sizes) != 1:
        raise InputError(f"sweep: eval_input arrays with different batch sizes {sorted(sizes)}")
    return sizes.pop()


def _check_eval_labels(net: Network, labels: Any, batch: int, output: str | None) -> None:
    """The readout exists, and the labels are one class per sample that it has a neuron for."""
    if output is not None and output not in net.outputs:
        raise InputError(f"sweep: no output {output!r}; outputs are {sorted(net.outputs)}")
    if labels is None:
        return
    arr = check_labels(labels, batch, "sweep: eval_labels")  # 1-D, whole, >= 0, one per sample
    name = output if output is not None else next(iter(net.outputs))
    classes = int(np.prod(net.shape_of(net.outputs[name])))
    if arr.size and arr.max() >= classes:
        raise InputError(
            f"sweep: eval_labels: class {arr.max()} given, but output {name!r} has {classes} "
            f"neurons (classes 0 to {classes - 1})"
        )


def _check_shard_size(shard_size: object) -> None:
    if shard_size is None:
        return
    whole = isinstance(shard_size, (int, np.integer)) and not isinstance(shard_size, bool)
    if not whole or shard_size < 1:  # type: ignore[operator]
        raise InputError(
            f"sweep: shard_size = {shard_size!r}; expected a whole number of samples >= 1"
        )


def _require(module: str) -> None:
    """Fail with one line when the `sweep` extra is not installed."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise InputError(
            f"sweep: needs {module}, in the sweep extra: pip install 'neurocomp[sweep]'"
        )


def _version() -> str:
    import neurocomp

    return str(neurocomp.__version__)
