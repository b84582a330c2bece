"""Accuracy and agreement of pass pipelines on the shipped digits model (held-out test set).

    python examples/digits/evaluate_passes.py

Calibrates on digits_calib.npz (training samples), evaluates on digits_test.npz, and prints one
row per pipeline: accuracy, change vs float, output spike-count agreement with the float
network, synapses and neurons kept.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

import neurocomp as nc
from neurocomp.analysis import accuracy, spike_count_agreement

HERE = Path(__file__).resolve().parent
PIPELINES = [
    "fold",
    "quantize{weight_bits=8}",
    "quantize{weight_bits=8,granularity=channel}",
    "quantize{weight_bits=6}",
    "quantize{weight_bits=4}",
    "quantize{weight_bits=4,granularity=channel}",
    "quantize{weight_bits=3,granularity=channel}",
    "quantize{weight_bits=8},prune{sparsity=0.5}",
    "quantize{weight_bits=8},prune{sparsity=0.5,bias_correction=false}",
    "quantize{weight_bits=8},prune{sparsity=0.5,scope=global}",
    "quantize{weight_bits=8},prune{sparsity=0.7}",
    "quantize{weight_bits=8},prune{sparsity=0.9,max_drop=0.01}",
    "prune_neurons",
    "prune_neurons,merge,quantize{weight_bits=8},prune{sparsity=0.5}",
]


def evaluate(pipelines: list[str] = PIPELINES) -> list[dict[str, object]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(HERE / "digits.nir")
    test, calib = np.load(HERE / "digits_test.npz"), np.load(HERE / "digits_calib.npz")
    y0 = nc.simulate(net, test["x"])
    rows: list[dict[str, object]] = [
        {
            "pipeline": "(float)",
            "accuracy": accuracy(y0, test["labels"]),
            "delta_points": 0.0,
            "agreement": 1.0,
            "synapses": net.synapses,
            "neurons": net.neurons,
        }
    ]
    base = float(rows[0]["accuracy"])  # type: ignore[arg-type]
    for p in pipelines:
        res = nc.transform(net, p, calibration=calib["x"], labels=calib["labels"])
        y = nc.simulate(res.network, test["x"])
        acc = accuracy(y, test["labels"])
        rows.append(
            {
                "pipeline": p,
                "accuracy": acc,
                "delta_points": 100 * (acc - base),
                "agreement": spike_count_agreement(y0, y),
                "synapses": res.network.synapses,
                "neurons": res.network.neurons,
            }
        )
    return rows


def main() -> None:
    print(
        "| pipeline | accuracy | vs float (points) | spike-count agreement | synapses | neurons |"
    )
    print("|---|---|---|---|---|---|")
    for r in evaluate():
        print(
            f"| `{r['pipeline']}` | {r['accuracy']:.4f} | {r['delta_points']:+.2f} | "
            f"{r['agreement']:.3f} | {r['synapses']} | {r['neurons']} |"
        )


if __name__ == "__main__":
    main()
