"""Sweep scaling: the same 24-point sweep on a Dask LocalCluster of 1 and of 2 workers.

    .venv/bin/python benchmarks/sweep.py              # about a minute on 2 idle cores
    .venv/bin/python benchmarks/sweep.py --repeat 5

The digits example, 2 targets x 12 pipelines, every point compiled and run on the bit-accurate
engine on the test set (397 samples) tiled three times (--samples 1191). Each cluster (one
thread per worker process) is started once and warmed up with one sweep; then the two are timed
alternately,
`--repeat` times each, no cache. Reports every wall time, the best and median of each, the ratio
of the medians (1 worker / 2 workers), the work done in the workers (compile + simulate seconds
summed over the points: it grows when the workers wait for a core) and the CPU time of this
process (client and scheduler), the load average, and a control: the throughput of the same
numpy job in 2 processes against 1, i.e. how much of a second core the machine gives now.
The tables of the two clusters are checked identical (timings aside).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

warnings.simplefilter("ignore")

import neurocomp as nc  # noqa: E402
from neurocomp.explore.points import TIMING_COLUMNS  # noqa: E402
from neurocomp.explore.run import local_cluster  # noqa: E402

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
PIPELINES = [None] + [f"quantize{{weight_bits={b}}}" for b in (2, 3, 4, 5, 6)]
PIPELINES += [f"prune{{sparsity={s}}}" for s in (0.25, 0.5, 0.75)]
PIPELINES += [f"quantize{{weight_bits=4}},prune{{sparsity={s}}}" for s in (0.25, 0.5, 0.75)]


def inputs(samples: int) -> dict[str, Any]:
    net = nc.load(DIGITS / "digits.nir", dt=1e-4)
    test, cal = np.load(DIGITS / "digits_test.npz"), np.load(DIGITS / "digits_calib.npz")
    reps = -(-samples // test["x"].shape[1])
    x = np.concatenate([test["x"]] * reps, axis=1)[:, :samples]
    labels = np.concatenate([test["labels"]] * reps)[:samples]
    return {
        "model": net,
        "targets": ["reference", "loihi2"],
        "passes": PIPELINES,
        "calibration": cal["x"][:, :100],
        "labels": cal["labels"][:100],
        "eval_input": x,
        "eval_labels": labels,
    }


def cluster(n: int) -> tuple[Any, Any]:
    """The cluster `scheduler="local:N"` starts, kept for several sweeps."""
    from distributed import Client

    c = local_cluster(n)
    return c, Client(c)


def cpu_job(_: int = 0) -> float:
    """A fixed CPU-bound numpy job (seconds): the control for how many cores the machine
    gives right now."""
    x = np.random.default_rng(0).integers(0, 100, 2_000_000)
    t = time.perf_counter()
    for _ in range(20):
        np.sort(x)
    return time.perf_counter() - t


def control(repeat: int) -> list[float]:
    """Throughput of 2 processes over 1 on `cpu_job` (2.0: two free cores; 1.0: one)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    ratios = []
    with ctx.Pool(1) as one, ctx.Pool(2) as two:
        one.map(cpu_job, [0]), two.map(cpu_job, [0, 1])  # warm-up
        for _ in range(repeat):
            t = time.perf_counter()
            one.map(cpu_job, [0])
            t1 = time.perf_counter() - t
            t = time.perf_counter()
            two.map(cpu_job, [0, 1])
            ratios.append(2 * t1 / (time.perf_counter() - t))
    return ratios


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--samples", type=int, default=1191)
    args = ap.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)  # no INFO lines at shutdown
    kw = inputs(args.samples)
    points = len(kw["targets"]) * len(kw["passes"])
    clusters = {n: cluster(n) for n in (1, 2)}
    tables = {}
    for n, (_, client) in clusters.items():  # warm-up: workers import neurocomp, caches fill
        tables[n] = nc.sweep(**kw, scheduler=client).table.drop(columns=list(TIMING_COLUMNS))
    assert tables[1].equals(tables[2]), "1-worker and 2-worker tables differ"
    failed = int((tables[1]["error"] != "").sum())
    times: dict[int, list[float]] = {1: [], 2: []}
    work: dict[int, list[float]] = {1: [], 2: []}  # compile + simulate seconds, all points
    client_cpu: dict[int, list[float]] = {1: [], 2: []}  # this process: client and scheduler
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeat):
        for n, (_, client) in clusters.items():
            t, cpu = time.perf_counter(), time.process_time()
            table = nc.sweep(**kw, scheduler=client).table
            times[n].append(time.perf_counter() - t)
            client_cpu[n].append(time.process_time() - cpu)
            work[n].append(float(table[list(TIMING_COLUMNS)].to_numpy().sum()))
            loads.append(os.getloadavg()[0])
    for c, client in clusters.values():
        client.close()
        c.close()
    ctrl = control(args.repeat)
    med = {n: statistics.median(v) for n, v in times.items()}
    print(
        f"sweep of {points} points ({failed} failed), {args.samples} samples each, "
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    )
    print("| workers | wall times (s) | best (s) | median (s) | work (s) | client CPU (s) |")
    print("|---|---|---|---|---|---|")
    for n, v in times.items():
        print(
            f"| {n} | {', '.join(f'{s:.2f}' for s in v)} | {min(v):.2f} | {med[n]:.2f} "
            f"| {statistics.median(work[n]):.2f} | {statistics.median(client_cpu[n]):.2f} |"
        )
    print("work: compile + simulate seconds summed over the points, measured in the workers")
    print(f"ratio of medians, 1 worker / 2 workers: **{med[1] / med[2]:.2f}x**")
    print(f"ratio of bests: {min(times[1]) / min(times[2]):.2f}x")
    print(
        "control, the same numpy job in 2 processes against 1 (throughput, 2.0 = two free "
        f"cores): {', '.join(f'{r:.2f}' for r in ctrl)}, median {statistics.median(ctrl):.2f}x"
    )
    print(f"1-minute load average during the runs: {min(loads):.1f} to {max(loads):.1f}")


if __name__ == "__main__":
    main()
