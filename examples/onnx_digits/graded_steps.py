"""Accuracy against steps of the graded ONNX conversion (README.md "Graded spikes").

    python examples/onnx_digits/graded_steps.py          # the table (about a minute)
    python examples/onnx_digits/graded_steps.py --lava   # and Lava on 4 samples x 6 steps

For each cap G (`load_onnx(..., max_spikes=G)`) and number of steps T: the float simulation and
the `loihi2` program run by neurocomp's bit-accurate engine, on the 397 test images as
`graded_code(x, T, G)` (each pixel quantised to G levels, the same every step). With --lava,
Lava's own simulation of the G = 16 program is compared spike for spike with the engine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from train_ann import load_data  # noqa: E402

import neurocomp as nc  # noqa: E402
from neurocomp.analysis.metrics import accuracy  # noqa: E402
from neurocomp.frontend.onnx_frontend import graded_code, load_onnx  # noqa: E402

CAPS = (8, 16, 32)
STEPS = (4, 5, 6, 8)


def table() -> None:
    x_train, x_test, _, y_test = load_data()
    print("| G (cap) | T (steps) | float sim | loihi2 (bit-accurate) |")
    print("|--------:|----------:|----------:|----------------------:|")
    for cap in CAPS:
        net = load_onnx(HERE / "digits_ann.onnx", calibration=x_train, max_spikes=cap)
        prog = nc.compile(net, target="loihi2")
        for steps in STEPS:
            x = graded_code(x_test, steps, cap)
            fl = accuracy(nc.simulate(net, x), y_test)
            chip = accuracy(prog.simulate(x), y_test)
            print(f"| {cap} | {steps} | {100 * fl:.2f} % | {100 * chip:.2f} % |", flush=True)


def lava_check(samples: int = 4, steps: int = 6, cap: int = 16) -> None:
    x_train, x_test, _, _ = load_data()
    net = load_onnx(HERE / "digits_ann.onnx", calibration=x_train, max_spikes=cap)
    prog = nc.compile(net, target="loihi2")
    x = graded_code(x_test[:samples], steps, cap)
    ours = prog.outputs(x, "reference", record=True)
    t0 = time.perf_counter()
    lava = prog.outputs(x, "lava", record=True)
    same = all(np.array_equal(ours.spikes[k], lava.spikes[k]) for k in ours.spikes)
    same &= all(np.array_equal(ours.outputs[k], lava.outputs[k]) for k in ours.outputs)
    counts = sum(int(s.sum()) for s in ours.spikes.values())
    print(
        f"Lava vs bit-accurate, {samples} samples x {steps} steps, G = {cap}: "
        f"{'identical' if same else 'DIFFERENT'} ({counts} spikes counted, "
        f"Lava {time.perf_counter() - t0:.1f} s)"
    )


if __name__ == "__main__":
    table()
    if "--lava" in sys.argv:
        lava_check()
