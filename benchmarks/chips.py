"""Boards of several chips: messages between chips with cores filling chips in order vs the
chip assignment (neurocomp/mapping/chips.py), counted by the bit-accurate run.

    .venv/bin/python benchmarks/chips.py     # about a minute and a half on 2 shared cores

The chips are copies of the reference chip with few cores, so that small networks span several:
digits (calibrated with digits_calib.npz, run on 50 test samples) and the NIR zoo's Sinabs CNN
(calibrated and run on generated digit events, examples/zoo_cnn/run.py). For each, the compiled
program with `placement="greedy"` (core i in slot i: chips filled in network order) and with the
default placement; the messages between chips, their link energy and the whole estimate come
from `Program.energy` on the same input. Prints a markdown table, then per case the fewest
messages between chips that any sharing of the cores among the same chips sends on that input:
the core-to-core messages counted from the run's spikes, cut by an exact MILP (HiGHS through
scipy; "proven" where it closed the gap, else its dual bound: no assignment goes below it).
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

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
        ("cnn_sinabs (NIR zoo), 6 cores per chip", cnn, small_chip(3, 2), c_cal, c_x, 8),
    ]


def core_messages(prog: Any, x: np.ndarray) -> np.ndarray:
    """messages[a, b]: messages from core a to core b (a != b) on input x, from the spikes of
    the bit-accurate run (each spike: one message per core it targets)."""
    m = prog.mapping
    spikes = prog.run(x, record=True, count=False).spikes
    out = np.zeros((m.cores_used, m.cores_used))
    for src, d in m.destinations.items():
        if src not in m.neuron_core:
            continue
        coo = (d.tocsr() > 0).tocoo()
        per_neuron = spikes[src].sum(axis=(0, 1)).reshape(-1)
        np.add.at(out, (m.neuron_core[src][coo.row], coo.col), per_neuron[coo.row])
    np.fill_diagonal(out, 0.0)
    return out


def fewest_crossing(messages: np.ndarray, per_chip: int) -> tuple[float, bool]:
    """The fewest messages between chips over every sharing of the cores among
    ceil(cores / per_chip) chips of `per_chip` cores: x[i, q] core i on chip q, z[e, q] both
    ends of edge e on chip q (z <= x at each end); maximise what stays on a chip. Returns the
    optimum (or the dual bound where the time limit stopped HiGHS) and whether it is proven."""
    n = messages.shape[0]
    k = -(-n // per_chip)
    sym = np.triu(messages + messages.T, 1)
    ei, ej = np.nonzero(sym)
    w, e = sym[ei, ej], len(ei)
    nx = n * k
    x_of = np.arange(nx).reshape(n, k)
    z_of = nx + np.arange(e * k).reshape(e, k)
    blocks = [
        sparse.kron(sparse.eye(n), np.ones((1, k))),  # each core on one chip
        sparse.kron(np.ones((1, n)), sparse.eye(k)),  # at most per_chip cores per chip
    ]
    rows = np.arange(e * k)
    for end in (ei, ej):  # z[e, q] <= x[end, q]
        cols = np.r_[z_of.reshape(-1), x_of[end].reshape(-1)]
        vals = np.r_[np.ones(e * k), -np.ones(e * k)]
        blocks.append(sparse.csr_matrix((vals, (np.r_[rows, rows], cols)), (e * k, nx + e * k)))
    first = sparse.csr_matrix(([1.0], ([0], [0])), (1, nx + e * k))  # core 0 on chip 0
    a = sparse.vstack(
        [
            sparse.hstack([blocks[0], sparse.csr_matrix((n, e * k))]),
            sparse.hstack([blocks[1], sparse.csr_matrix((k, e * k))]),
            blocks[2],
            blocks[3],
            first,
        ]
    )
    lo = np.r_[np.ones(n), np.zeros(k), np.full(2 * e * k, -np.inf), 1.0]
    hi = np.r_[np.ones(n), np.full(k, per_chip), np.zeros(2 * e * k), 1.0]
    cost = np.r_[np.zeros(nx), -np.repeat(w, k)]
    res = milp(
        cost,
        constraints=LinearConstraint(a.tocsr(), lo, hi),
        integrality=np.r_[np.ones(nx), np.zeros(e * k)],
        bounds=Bounds(0, 1),
        options={"time_limit": 120.0},
    )
    proven = res.status == 0
    kept = -res.fun if proven else -res.mip_dual_bound
    return float(w.sum() - kept), proven


def main() -> None:
    head = (
        "| network, chip | cores | chips | placement | messages between chips | "
        "chip links (J / inference) | energy / inference (J) | latency (s) |"
    )
    print(head)
    print("|---" * 8 + "|")
    fewest = []
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
        messages = core_messages(prog, x)
        chip = np.asarray(prog.mapping.core_chip)
        assert messages[chip[:, None] != chip[None, :]].sum() == t.messages_chip  # same count
        best, proven = fewest_crossing(messages, spec.mesh.cores_per_chip)
        fewest.append(f"{name}: {best:.0f} ({'proven' if proven else 'dual bound'})")
    print("\nfewest messages between chips by any assignment (exact MILP, same input):")
    print("\n".join(fewest))


if __name__ == "__main__":
    main()
