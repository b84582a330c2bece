"""Norse digits: train a Norse SNN briefly, export with nc.from_torch, check it, compile it.

Run (from the repository root; about 10 s on 2 CPU cores)::

    python examples/norse_digits/run.py [OUT_DIR]              # default: build/norse_digits
    python examples/norse_digits/run.py OUT --cell lif         # current-based LIFCell instead

Model: ``norse.torch.SequentialState(Linear(64, 128), cell, Linear(128, 10), cell)`` with
``cell`` = ``LIFBoxCell`` (leaky integrate-and-fire, no synaptic current; the default) or
``LIFCell`` (with a synaptic current), dt = 1 ms, tau_mem = 10 ms, threshold 0.2, trained with
Norse's built-in surrogate gradient (SuperSpike) on the output spike counts. Data, split and rate
coding (T = 25 steps) are those of ``examples/digits/train.py``.

Then:

1. ``nc.from_torch(model, sample, framework="norse", path=OUT/"model.nir")``.
2. Spike-for-spike check on the 397 test samples: every layer's spikes in neurocomp's float
   simulation against the Norse module run step by step (float32, as Norse computes).
3. ``nc.compile`` for ``reference`` and ``loihi2`` (calibration: 500 training samples);
   accuracy of the bit-accurate program and energy per inference. A target that refuses the
   network prints the compiler's reason instead (``--cell lif`` on ``loihi2``: Lava's LIF adds
   its bias to the voltage only, Norse's LIFCell needs it in the synaptic current).

Writes ``model.nir``, a program folder per target that accepted it, and ``results.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import norse.torch as nt
import numpy as np
import torch
import torch.nn as nn

import neurocomp as nc

HERE = Path(__file__).resolve().parent
TARGETS = ("reference", "loihi2")
EPOCHS = 15
LR = 1e-2
V_TH = 0.2
TAU_MEM_INV = 100.0  # 1 / (10 ms); Norse's dt is 1 ms, so beta = 0.9


def _digits_train() -> Any:
    """examples/digits/train.py (data split, rate coding, seeds), imported by path."""
    spec = importlib.util.spec_from_file_location(
        "digits_train", HERE.parent / "digits" / "train.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


digits = _digits_train()


def build(cell: str) -> nt.SequentialState:
    def neuron() -> nn.Module:
        if cell == "lifbox":
            p = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(TAU_MEM_INV), v_th=torch.tensor(V_TH))
            return nt.LIFBoxCell(p)
        return nt.LIFCell(
            nt.LIFParameters(tau_mem_inv=torch.tensor(TAU_MEM_INV), v_th=torch.tensor(V_TH))
        )

    return nt.SequentialState(
        nn.Linear(digits.N_IN, digits.N_HIDDEN),
        neuron(),
        nn.Linear(digits.N_HIDDEN, digits.N_OUT),
        neuron(),
    )


def run_norse(model: nt.SequentialState, spikes: torch.Tensor) -> list[torch.Tensor]:
    """Step the module over (T, batch, 64); every spiking layer's output (T, batch, n), the
    network's output last. The same calls SequentialState.forward makes, keeping the hidden ones."""
    state: list[Any] = [None] * len(model)
    per_layer: list[list[torch.Tensor]] = [[] for m in model if m in _cells(model)]
    for t in range(spikes.shape[0]):
        h, k = spikes[t], 0
        for i, module in enumerate(model):
            if model.stateful_layers[i]:
                h, state[i] = module(h, state[i])
                per_layer[k].append(h)
                k += 1
            else:
                h = module(h)
    return [torch.stack(layer) for layer in per_layer]


def _cells(model: nt.SequentialState) -> list[nn.Module]:
    return [m for i, m in enumerate(model) if model.stateful_layers[i]]


def train(model: nt.SequentialState, x: np.ndarray, y: np.ndarray) -> None:
    rng = np.random.default_rng(digits.SEED + 1)  # fresh training spikes every epoch
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    n = len(x)
    for epoch in range(EPOCHS):
        order, spikes = rng.permutation(n), digits.rate_code(x, rng)
        total, correct = 0.0, 0
        for start in range(0, n, digits.BATCH):
            idx = order[start : start + digits.BATCH]
            counts = run_norse(model, torch.from_numpy(spikes[:, idx]).float())[-1].sum(0)
            target = torch.from_numpy(y[idx])
            loss = nn.functional.cross_entropy(counts, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += int((counts.argmax(1) == target).sum())
        print(f"epoch {epoch + 1:2d}  loss {total / n:.4f}  train acc {correct / n:.4f}")


def accuracy(y: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """Argmax of output spike counts (ties to the lowest index)."""
    correct = int((y.sum(axis=0).argmax(axis=1) == labels).sum())
    return correct / len(labels), correct


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="build/norse_digits", type=Path)
    ap.add_argument("--cell", choices=("lifbox", "lif"), default="lifbox")
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    digits.set_determinism()
    x_train, x_test, y_train, y_test = digits.load_data()
    test = digits.rate_code(x_test, np.random.default_rng(digits.SEED))  # (25, 397, 64) uint8
    calib = digits.rate_code(x_train[: digits.N_CALIB], np.random.default_rng(digits.SEED + 2))
    model = build(args.cell)
    t0 = time.perf_counter()
    train(model, x_train, y_train)
    train_s = time.perf_counter() - t0
    with torch.no_grad():
        norse_layers = [s.numpy() for s in run_norse(model, torch.from_numpy(test).float())]

    # export, then every layer's spikes against Norse's
    net = nc.from_torch(
        model, torch.zeros(1, digits.N_IN), framework="norse", path=out / "model.nir"
    )
    trace = nc.simulate(net, test, record=True, dtype=np.float32)
    pops = [p.name for p in net.populations]
    layer_mismatch = {
        name: int((trace.spikes[name].reshape(theirs.shape) != theirs).sum())
        for name, theirs in zip(pops, norse_layers, strict=True)
    }
    neuron_steps = sum(s.size for s in norse_layers)
    norse_spikes = int(sum(s.sum() for s in norse_layers))
    y_norse, y_float = norse_layers[-1], next(iter(trace.outputs.values()))
    mismatches = sum(layer_mismatch.values())
    mismatches64 = int((nc.simulate(net, test) != y_norse).sum())

    rows: list[dict[str, Any]] = []
    for name, y in (("Norse (float)", y_norse), ("neurocomp (float32)", y_float)):
        acc, correct = accuracy(y, y_test)
        rows.append({"model": name, "accuracy": acc, "correct": correct})
    refused: dict[str, str] = {}
    for target in TARGETS:
        try:
            prog = nc.compile(net, target=target, calibration=calib)
        except nc.ResourceLimitError as e:
            refused[target] = str(e)
            continue
        prog.save(out / target)
        y_chip = prog.simulate(test)
        report = prog.energy(test)
        acc, correct = accuracy(y_chip, y_test)
        rows.append(
            {
                "model": f"{target} chip ({prog.summary['weight_bits']}-bit)",
                "target": target,
                "accuracy": acc,
                "correct": correct,
                "cores_used": prog.summary["cores_used"],
                "energy_per_inference_j": report.energy_per_inference_j,
                "dynamic_per_inference_j": report.totals["dynamic_per_inference_j"],
            }
        )

    n = len(y_test)
    kinds = ", ".join(f"{p.name}: {p.kind}" for p in net.populations)
    print(f"\nNorse {args.cell} model exported: dt = {net.dt} s, populations {kinds}")
    print(f"{'model':<24}{'accuracy':>18}{'cores':>9}{'energy/inference':>19}{'dynamic':>12}")
    for r in rows:
        line = f"{r['model']:<24}{r['accuracy']:>9.2%} ({r['correct']:>3}/{n})"
        if "target" in r:
            line += f"{r['cores_used']:>9}{r['energy_per_inference_j']:>17.3e} J"
            line += f"{r['dynamic_per_inference_j']:>10.2e} J"
        print(line)
    for target, reason in refused.items():
        print(f"{target}: refused: {reason}")
    per_layer = ", ".join(f"layer {k}: {v}" for k, v in layer_mismatch.items())
    print(
        f"spike-for-spike vs Norse, every layer ({neuron_steps} neuron-steps, {norse_spikes} "
        f"spikes): {mismatches} differ in float32 ({per_layer}); output spikes differing in "
        f"float64: {mismatches64}"
    )
    print(f"training {train_s:.1f} s, total {time.perf_counter() - t_start:.1f} s; wrote {out}/")

    results = {
        "cell": args.cell,
        "dt": net.dt,
        "populations": {p.name: p.kind for p in net.populations},
        "neuron_steps_compared": neuron_steps,
        "norse_spikes": norse_spikes,
        "mismatches": mismatches,
        "layer_mismatches": layer_mismatch,
        "float64_output_mismatches": mismatches64,
        "rows": rows,
        "refused": refused,
        "train_seconds": round(train_s, 1),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
