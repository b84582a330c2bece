"""Boards of several chips: messages between chips with cores filling chips in order vs the
chip assignment (neurocomp/mapping/chips.py), counted by the bit-accurate run.

    .venv/bin/python benchmarks/chips.py     # about a minute on 2 shared cores

The chips are copies of the reference chip with few cores, so that small networks span several:
digits (calibrated with digits_calib.npz, run on 50 test samples) and the NIR zoo's Sinabs CNN
(calibrated and run on generated digit events, examples/zoo_cnn/run.py). For each, the compiled
program with `placement="greedy"` (core i in slot i: chips filled in network order) and with the
default placement; the messages between chips, their link energy and the whole estimate come
from `Program.energy` on the same input. Prints a markdown table.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import neurocomp as nc
from neurocomp.compiler import compile_network
from neurocomp.program.folder import _toml_shape
from neurocomp.target import load_target, spec_from_dict

ROOT = Path(__file__).resolve().parents[1]
warnings.simplefilter("ignore")


def zoo_cnn_example() -> ModuleType:
    """examples/zoo_cnn/run.py, loaded from its path under its own name (on sys.path it would
    be `run`, the name of benchmarks/run.py)."""
    path = ROOT / "examples" / "zoo_cnn" / "run.py"
    spec = importlib.util.spec_from_file_location("zoo_cnn_run", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_chip(tiles_x: int, cores_per_tile: int, neurons: int | None = None) -> Any:
    raw = _toml_shape(load_target("reference").to_dict())
    raw["mesh"].update(tiles_x=tiles_x, tiles_y=1, cores_per_tile=cores_per_tile)
    if neurons is not None:
        raw["core"]["neurons"] = neurons
    name = f"reference-{tiles_x * cores_per_tile}-cores"
    raw["name"] = name
    return spec_from_dict(raw, f"{name}.toml")


def cases() -> list[tuple[str, Any, Any, np.ndarray, np.ndarray, int]]:
    from sklearn.datasets import load_digits

    zoo_cnn = zoo_cnn_example()
    seed, digit_events = zoo_cnn.SEED, zoo_cnn.digit_events

    digits = ROOT / "examples" / "digits"
    d_net = nc.load(digits / "digits.nir")
    d_cal = np.load(digits / "digits_calib.npz")["x"]
    d_x = np.load(digits / "digits_test.npz")["x"][:, :50]
    images = load_digits().images / 16.0
    cnn = nc.load(ROOT / "tests" / "data" / "nir-zoo" / "cnn_sinabs.nir", framework="nir")
    c_cal = digit_events(images[64:80], 30, seed + 1)
    c_x = digit_events(images[:16], 30, seed)
    return [
        ("digits, 16-neuron cores, 2 per chip", d_net, small_chip(1, 2, 16), d_cal, d_x, 8),
        ("cnn_sinabs (NIR zoo), 4 cores per chip", cnn, small_chip(2, 2), c_cal, c_x, 8),
    ]


def main() -> None:
    head = (
        "| network, chip | cores | chips | placement | messages between chips | "
        "chip links (J / inference) | energy / inference (J) | latency (s) |"
    )
    print(head)
    print("|---" * 8 + "|")
    for name, net, spec, cal, x, chips in cases():
        for placement in ("greedy", "auto"):
            prog = compile_network(net, spec, None, cal, None, chips, placement)
            t = prog.energy(x).totals
            print(
                f"| {name} | {prog.mapping.cores_used} | {t.chips_used} | "
                f"{'cores in order' if placement == 'greedy' else 'chip assignment'} | "
                f"{t.messages_chip} | {t.chip_link_per_inference_j:.3e} | "
                f"{t.energy_per_inference_j:.4e} | {t.latency_s:.4e} |"
            )


if __name__ == "__main__":
    main()
