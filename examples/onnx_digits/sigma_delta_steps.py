"""Sigma-delta ONNX conversion against graded and binary spikes (README.md "Sigma-delta").

    python examples/onnx_digits/sigma_delta_steps.py          # the table (about a minute)
    python examples/onnx_digits/sigma_delta_steps.py --lava   # and Lava on 4 samples x 6 steps

On the 397 test images, for each mode and number of steps T: accuracy of the float simulation
and of the chip's program run by neurocomp's bit-accurate engine, and that engine's event
counters per inference: synaptic operations and messages (neuron messages within and between
tiles, plus input messages). Modes: binary rate coding (`rate_code`), graded spikes with cap
16 (`graded_code`), sigma-delta neurons (`load_onnx(..., neurons="sigma_delta")`,
`sigma_delta_code`: the image in the first step only). With --lava, Lava's own SigmaDelta
processes run the sigma-delta program and are compared payload for payload with the engine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from train_ann import load_data  # noqa: E402

import neurocomp as nc  # noqa: E402
from neurocomp.analysis.metrics import accuracy  # noqa: E402
from neurocomp.frontend.onnx_frontend import (  # noqa: E402
    graded_code,
    load_onnx,
    rate_code,
    sigma_delta_code,
)

MODEL = HERE / "digits_ann.onnx"
# (mode, load_onnx options, input coding, steps, target): the binary mode's Identity readout
# does not run on loihi2 (docs/onnx.md), so it runs on the reference chip
CASES: tuple[tuple[str, dict[str, Any], Any, tuple[int, ...], str], ...] = (
    ("binary", {}, lambda x, t: rate_code(x, t, seed=1), (25,), "reference"),
    ("graded G = 16", {"max_spikes": 16}, lambda x, t: graded_code(x, t, 16), (6,), "loihi2"),
    ("sigma-delta", {"neurons": "sigma_delta"}, sigma_delta_code, (4, 5, 6), "loihi2"),
)


def table() -> None:
    x_train, x_test, _, y_test = load_data()
    print("| mode | target | T (steps) | float sim | chip (bit-accurate) | synops / inference "
          "| messages / inference |")  # fmt: skip
    print("|:-----|:-------|----------:|----------:|--------------------:|---:|---:|")
    for mode, options, code, steps_list, target in CASES:
        net = load_onnx(MODEL, calibration=x_train, **options)
        prog = nc.compile(net, target=target)
        for steps in steps_list:
            x = code(x_test, steps)
            fl = accuracy(nc.simulate(net, x), y_test)
            run = prog.run(x)
            chip = accuracy(run.outputs[next(iter(run.outputs))], y_test)
            assert run.counts is not None
            n = len(x_test)
            synops = run.counts.total("synops") / n
            msgs = sum(run.counts.total(k) for k in ("msgs_local", "msgs_remote", "msgs_input"))
            print(
                f"| {mode} | {target} | {steps} | {100 * fl:.2f} % | {100 * chip:.2f} % "
                f"| {synops:,.0f} | {msgs / n:,.0f} |",
                flush=True,
            )


def lava_check(samples: int = 4, steps: int = 6) -> None:
    x_train, x_test, _, _ = load_data()
    net = load_onnx(MODEL, calibration=x_train, neurons="sigma_delta")
    prog = nc.compile(net, target="loihi2")
    x = sigma_delta_code(x_test[:samples], steps)
    ours = prog.outputs(x, "reference", record=True)
    t0 = time.perf_counter()
    lava = prog.outputs(x, "lava", record=True)
    same = all(np.array_equal(ours.spikes[k], lava.spikes[k]) for k in ours.spikes)
    same &= all(np.array_equal(ours.outputs[k], lava.outputs[k]) for k in ours.outputs)
    sent = sum(int(np.count_nonzero(s)) for s in ours.spikes.values())
    print(
        f"Lava SigmaDelta vs bit-accurate, {samples} samples x {steps} steps: "
        f"{'identical' if same else 'DIFFERENT'} ({sent} payloads sent, "
        f"Lava {time.perf_counter() - t0:.1f} s)"
    )


if __name__ == "__main__":
    table()
    if "--lava" in sys.argv:
        lava_check()
