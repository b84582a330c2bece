"""Progress reports from long steps: simulation, passes, mapping (what the CLI's bars show)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np

import neurocomp as nc
from neurocomp.progress import advance, reporting

from conftest import EXAMPLES

DIGITS = EXAMPLES / "digits"


def _digits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(DIGITS / "digits.nir")
    return net, np.load(DIGITS / "digits_test.npz")["x"][:, :4]


def test_every_long_step_reports_and_finishes():
    net, x = _digits()
    calls: list[tuple[str, int, int]] = []
    with reporting(lambda *c: calls.append(c)):
        nc.simulate(net, x)
        program = nc.compile(net, passes="quantize{weight_bits=8}", calibration=x)
        program.simulate(x)
    tasks = list(dict.fromkeys(c[0] for c in calls))
    assert tasks == [
        "simulate (float)",
        "passes",
        "map: split layers into blocks",
        "map: pack blocks into cores",
        "map: place cores on the mesh",
        "simulate (bit-accurate)",
    ]
    for task in tasks:  # a task may run several times (calibration runs): each from 0 to total
        runs: list[list[tuple[int, int]]] = []
        for t, d, n in calls:
            if t == task:
                if d == 0:
                    runs.append([])
                runs[-1].append((d, n))
        for run in runs:
            done = [d for d, _ in run]
            assert done == sorted(done) and done[-1] == run[-1][1], (task, run)
    first = [d for t, d, _ in calls if t == "simulate (float)"][: len(x) + 1]
    assert first == list(range(len(x) + 1))


def test_nobody_listening_and_nesting():
    advance("ignored", 1, 2)  # no reporter: a no-op
    outer: list[str] = []
    inner: list[str] = []
    with reporting(lambda t, d, n: outer.append(t)):
        with reporting(lambda t, d, n: inner.append(t)):
            advance("a", 0, 1)
        advance("b", 0, 1)
    assert (outer, inner) == (["b"], ["a"])


def _cli(*args: str, progress: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEUROCOMP_PROGRESS": progress}
    return subprocess.run(
        [sys.executable, "-m", "neurocomp.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_progress_bars_on_stderr_only():
    args = ("simulate", str(DIGITS / "digits.nir"), "-i", str(DIGITS / "digits_test.npz"))
    shown = _cli(*args, "--json", progress="always")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["steps"] == 25  # stdout stays clean JSON
    assert "simulate (float)" in shown.stderr and "25/25" in shown.stderr
    hidden = _cli(*args, "--json", progress="auto")  # stderr is a pipe here, not a terminal
    assert "simulate (float)" not in hidden.stderr
    quiet = _cli(*args, "--quiet", progress="always")
    assert "simulate (float)" not in quiet.stderr


def test_big_layer_split_reports_neurons():
    import nir

    n = 9000
    w = np.zeros((n, 16), dtype=np.float32)
    w[np.arange(n), np.arange(n) % 16] = 1.0
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([16])),
            "fc": nir.Linear(weight=w),
            "big": nir.IF(r=np.ones(n), v_threshold=np.ones(n), v_reset=np.zeros(n)),
            "output": nir.Output(output_type=np.array([n])),
        },
        edges=[("input", "fc"), ("fc", "big"), ("big", "output")],
    )
    calls: list[tuple[str, int, int]] = []
    with reporting(lambda *c: calls.append(c)):
        nc.compile(nc.load(graph))
    split = [(d, t) for name, d, t in calls if name == "map: split big"]
    assert split == [(0, n), (n, n)]  # one vectorised pass per layer: its start and end
