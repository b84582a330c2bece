"""nc.sweep on a real Dask LocalCluster of 2 worker processes (no mocks): the same table as
in-process, a worker killed mid-sweep, a whole sweep killed and resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import neurocomp as nc
from neurocomp.explore.run import local_cluster
from neurocomp.progress import reporting

from sweep_data import digits, without_timings

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def inputs():
    return digits()


@pytest.fixture(scope="module")
def in_process(inputs):
    return nc.sweep(**inputs)


@pytest.fixture(scope="module")
def client():
    with local_cluster(2) as cluster, distributed.Client(cluster) as c:
        yield c


def test_local_cluster_table_identical_to_in_process(inputs, in_process):
    on_cluster = nc.sweep(**inputs, scheduler="local:2")
    pd.testing.assert_frame_equal(
        without_timings(on_cluster.table), without_timings(in_process.table), check_exact=True
    )


def test_one_point_sharded_across_workers(inputs, in_process, client):
    # 2 points on 2 workers: each evaluation set is split in two shards (one per worker)
    res = nc.sweep(
        **{**inputs, "targets": ["loihi2"], "passes": inputs["passes"][:2]}, scheduler=client
    )
    same = in_process.table[in_process.table["target"] == "loihi2"].iloc[:2]
    pd.testing.assert_frame_equal(
        without_timings(res.table).drop(columns="point").reset_index(drop=True),
        without_timings(same).drop(columns="point").reset_index(drop=True),
        check_exact=True,
    )
    assert res.table["samples"].tolist() == [inputs["eval_input"].shape[1]] * 2


def test_worker_killed_mid_sweep_loses_no_point(inputs, in_process, client, tmp_path):
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed = []

    def kill_once(task: str, done: int, total: int) -> None:
        if task == "sweep" and done >= 1 and not killed:
            os.kill(victim, signal.SIGKILL)  # the nanny starts a new worker; tasks move
            killed.append(done)

    with reporting(kill_once):
        res = nc.sweep(**inputs, scheduler=client, folder=tmp_path)
    assert killed and killed[0] < len(res.table)
    pd.testing.assert_frame_equal(
        without_timings(res.table), without_timings(in_process.table), check_exact=True
    )
    assert len(list((tmp_path / "cache").glob("*.json"))) == len(res.table)
    assert _replaced(client, victim)


def _replaced(client, victim: int) -> bool:
    """Whether the nanny has replaced the killed worker (waits up to 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            pids = set(client.run(os.getpid).values())
        except OSError:  # a call sent to the dead worker before the scheduler dropped it
            pids = set()
        if len(pids) == 2 and victim not in pids:
            return True
        time.sleep(0.2)
    return False


def _npz(path, x, labels):
    np.savez(path, x=x, labels=labels)
    return path


def test_killed_sweep_resumes_where_it_stopped(inputs, tmp_path):
    model = tmp_path / "digits.nir"
    model.write_bytes((digits.__globals__["DIGITS"] / "digits.nir").read_bytes())
    cal = _npz(tmp_path / "cal.npz", inputs["calibration"], inputs["labels"])
    ev = _npz(tmp_path / "eval.npz", inputs["eval_input"], inputs["eval_labels"])
    pipelines = [f"quantize{{weight_bits={b}}}" for b in range(2, 9)] + ["prune{sparsity=0.5}"]
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "neurocomp.cli",
        "sweep",
        str(model),
        "--dt",
        "1e-4",
        "-t",
        "reference",
        "-t",
        "loihi2",
        "--calibration",
        str(cal),
        "--eval",
        str(ev),
        "-o",
        str(out),
        "-q",
    ]
    for p in pipelines:
        args += ["--passes", p]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(out.glob("cache/*.json")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(out.glob("cache/*.json")))
    assert 0 < done < 16
    assert not (out / "table.csv").exists()  # killed before the end: no table yet
    resumed = nc.sweep(
        **{**inputs, "model": nc.load(model, dt=1e-4), "passes": pipelines}, folder=out
    )
    assert resumed.cached == done
    fresh = nc.sweep(**{**inputs, "passes": pipelines})
    pd.testing.assert_frame_equal(
        without_timings(resumed.table), without_timings(fresh.table), check_exact=True
    )


TRAINING = [
    "prune{sparsity=0.9},quantize{weight_bits=4},finetune",
    "prune_gradual{sparsity=0.8,steps=2,epochs=1}",
]


def test_points_that_train_identical_on_the_cluster(inputs):
    # Training is seeded and each point runs with one torch/BLAS thread wherever it runs, so
    # the fine-tuned weights, and with them every figure of the row, are equal bit for bit
    train = {**inputs, "targets": ["loihi2"], "passes": TRAINING}
    here = nc.sweep(**train)
    assert (here.table["error"] == "").all(), here.table["error"].tolist()
    untrained = nc.sweep(**{**train, "passes": ["prune{sparsity=0.9},quantize{weight_bits=4}"]})
    # training changed the networks (else the equality below would prove nothing): the
    # fine-tuned weights spike differently, the gradual pruning removed synapses
    tuned, plain = here.table.iloc[0], untrained.table.iloc[0]
    assert tuned["dynamic_per_inference_j"] != plain["dynamic_per_inference_j"]
    assert here.table["synapses"].iloc[1] < 0.3 * inputs["model"].synapses
    on_cluster = nc.sweep(**train, scheduler="local:2")
    pd.testing.assert_frame_equal(
        without_timings(on_cluster.table), without_timings(here.table), check_exact=True
    )
