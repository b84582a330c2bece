"""snnTorch digits, end to end: train, export with nc.from_torch, compile, run on the chip, energy.

Run (from the repository root; about 15 s on 2 CPU cores)::

    python examples/digits/end_to_end.py [OUT_DIR]      # default: build/digits_end_to_end
    python examples/digits/end_to_end.py OUT --lava 0   # skip the Lava cross-check

Steps:

1. Train the 64-128-10 snnTorch classifier of ``train.py`` (same data split, rate coding, seeds,
   epochs and optimiser; this script imports them), written as one ``nn.Sequential`` step
   module with ``snn.Leaky(..., reset_delay=False, init_hidden=True)`` so that it can be
   exported as it is. ``train.py`` and its shipped files are not touched.
2. ``nc.from_torch(step, sample, path=OUT/"model.nir")``: snnTorch's own NIR exporter, repaired;
   the float simulation is compared spike for spike with the snnTorch module on the test set.
3. ``nc.compile`` for ``reference`` and ``loihi2`` with the 500-sample calibration set of
   ``train.py``; bit-accurate ``prog.simulate`` on the 397 test samples gives the chip
   accuracy, ``prog.energy`` the energy per inference. For ``loihi2`` the first ``--lava``
   samples also run in Lava's own bit-accurate simulation and are compared spike for spike.

Writes ``model.nir``, the program folders ``reference/`` and ``loihi2/`` (``neurocomp simulate
OUT/loihi2 --input ...`` runs them again) and ``results.json`` (every printed figure).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import snntorch as snn
import snntorch.utils
import torch
import torch.nn as nn
from snntorch import surrogate

import neurocomp as nc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import train as digits  # noqa: E402  (examples/digits/train.py: data, rate coding, training)

TARGETS = ("reference", "loihi2")


class DigitsStep(nn.Module):
    """train.py's network as a one-time-step module (what exporters trace), plus a wrapper
    forward over time that train.py's training loop calls."""

    def __init__(self) -> None:
        super().__init__()
        kw: dict[str, Any] = dict(
            beta=digits.BETA,
            threshold=digits.THRESHOLD,
            spike_grad=surrogate.fast_sigmoid(slope=25),
            reset_mechanism="zero",
            reset_delay=False,  # reset in the spike's step, as NIR: exact export
            init_hidden=True,
        )
        self.step = nn.Sequential(
            nn.Linear(digits.N_IN, digits.N_HIDDEN),
            snn.Leaky(**kw),
            nn.Linear(digits.N_HIDDEN, digits.N_OUT),
            snn.Leaky(output=True, **kw),
        )

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """(T, batch, 64) spikes -> (T, batch, 10) output spikes."""
        snntorch.utils.reset(self.step)
        return torch.stack([self.step(spikes[t])[0] for t in range(spikes.shape[0])])


def accuracy(y: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """Argmax of output spike counts over time (ties to the lowest index), as train.py."""
    correct = int((y.sum(axis=0).argmax(axis=1) == labels).sum())
    return correct / len(labels), correct


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="build/digits_end_to_end", type=Path)
    ap.add_argument("--lava", type=int, default=20, help="test samples also run in Lava (0: skip)")
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    # 1. data and training (train.py's split, spike draws and training loop)
    digits.set_determinism()
    x_train, x_test, y_train, y_test = digits.load_data()
    test = digits.rate_code(x_test, np.random.default_rng(digits.SEED))  # (25, 397, 64) uint8
    calib = digits.rate_code(x_train[: digits.N_CALIB], np.random.default_rng(digits.SEED + 2))
    model = DigitsStep()
    t0 = time.perf_counter()
    digits.train(model, x_train, y_train)
    train_s = time.perf_counter() - t0
    with torch.no_grad():
        y_torch = model(torch.from_numpy(test).float()).numpy()

    # 2. export through snnTorch's exporter, check the float simulation against the module
    net = nc.from_torch(model.step, torch.zeros(1, digits.N_IN), path=out / "model.nir")
    # snnTorch computes in float32; so does this run. In float64 a hidden membrane that lands
    # exactly on the threshold in float32 (1.0 > 1.0 is false) exceeds it by 1e-8 and spikes.
    y_float = nc.simulate(net, test, dtype=np.float32)
    mismatches = int((y_float != y_torch).sum())
    mismatches64 = int((nc.simulate(net, test) != y_torch).sum())

    rows: list[dict[str, Any]] = []
    for name, y in (("snnTorch (float)", y_torch), ("neurocomp (float32)", y_float)):
        acc, correct = accuracy(y, y_test)
        rows.append({"model": name, "accuracy": acc, "correct": correct})

    # 3. compile for each target, run bit-accurately, estimate energy
    lava: dict[str, Any] = {}
    for target in TARGETS:
        prog = nc.compile(net, target=target, calibration=calib)
        prog.save(out / target)
        y_chip = prog.simulate(test)
        report = prog.energy(test)
        acc, correct = accuracy(y_chip, y_test)
        s = prog.summary
        rows.append(
            {
                "model": f"{target} chip ({s['weight_bits']}-bit)",
                "target": target,
                "accuracy": acc,
                "correct": correct,
                "cores_used": s["cores_used"],
                "cores_available": s["cores_available"],
                "energy_per_inference_j": report.energy_per_inference_j,
                "dynamic_per_inference_j": report.totals["dynamic_per_inference_j"],
                "ann_energy_per_inference_j": report.ann["energy_per_inference_j"],
                "output_spikes_differing_from_float": int((y_chip != y_float).sum()),
            }
        )
        if target == "loihi2" and args.lava > 0:
            n = min(args.lava, test.shape[1])
            t0 = time.perf_counter()
            y_lava = prog.simulate(test[:, :n], engine="lava")
            lava = {
                "samples": n,
                "mismatches": int((y_lava != y_chip[:, :n]).sum()),
                "seconds": round(time.perf_counter() - t0, 1),
            }

    # the table
    n = len(y_test)
    print()
    print(f"{'model':<24}{'accuracy':>18}{'cores':>9}{'energy/inference':>19}{'dynamic':>12}")
    for r in rows:
        line = f"{r['model']:<24}{r['accuracy']:>9.2%} ({r['correct']:>3}/{n})"
        if "target" in r:
            line += f"{r['cores_used']:>9}{r['energy_per_inference_j']:>17.3e} J"
            line += f"{r['dynamic_per_inference_j']:>10.2e} J"
        print(line)
    print(
        f"float simulation vs snnTorch: {mismatches} of {y_torch.size} output spikes differ in "
        f"float32 ({mismatches64} in float64)"
    )
    ann = rows[-1]["ann_energy_per_inference_j"]
    print(f"INT8 ANN, MACs + SRAM (dynamic): {ann:.3e} J per inference")
    if lava:
        print(
            f"loihi2 program in Lava ({lava['samples']} samples): {lava['mismatches']} output "
            f"spikes differ from neurocomp's bit-accurate run ({lava['seconds']} s)"
        )
    total_s = time.perf_counter() - t_start
    print(f"training {train_s:.1f} s, total {total_s:.1f} s; wrote {out}/")

    results = {
        "test_samples": n,
        "steps": int(test.shape[0]),
        "float_vs_snntorch_mismatches": mismatches,
        "float64_vs_snntorch_mismatches": mismatches64,
        "rows": rows,
        "lava": lava,
        "train_seconds": round(train_s, 1),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
