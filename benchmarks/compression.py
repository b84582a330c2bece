"""Compression that keeps accuracy: accuracy vs energy with and without fine-tuning.

    .venv/bin/python benchmarks/compression.py            # about 10-20 minutes on 2 shared cores
    .venv/bin/python benchmarks/compression.py --quick    # digits only, fewer rows

For each pipeline, post-training (the passes as they are) and with training passes: compiled for
the reference chip, then accuracy of the bit-accurate program on the held-out test set and energy
per inference from the same run. Training data: the training split of examples/digits/train.py
(1400 samples, rebuilt from scikit-learn, rate-coded with its own seed), never the test set; each
training pass holds out 20 % of it for its choices. The section "Compression with training" of
docs/benchmarks.md is replaced (the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
warnings.simplefilter("ignore")
sys.path.insert(0, str(ROOT / "examples" / "digits"))
sys.path.insert(0, str(ROOT / "examples" / "onnx_digits"))

import neurocomp as nc  # noqa: E402
from neurocomp.analysis.metrics import accuracy  # noqa: E402

SECTION = "## 5. Compression with training: accuracy vs energy (reference chip)"
TRAIN_SEED = 10  # spike draws of the training split (the test set uses train.py's seed 0)
RECIPE = "prune_gradual{sparsity=S,arithmetic=float,resample=true}"
FT = "finetune{resample=true}"
CHANNEL = "quantize{weight_bits=B,granularity=channel}"

# (label, post-training pipeline, pipeline with training)
DIGITS_ROWS = [
    ("8-bit", "quantize{weight_bits=8}", None),
    (
        "4-bit, 90 % pruned, as written",
        "prune{sparsity=0.9},quantize{weight_bits=4}",
        "prune{sparsity=0.9},quantize{weight_bits=4},finetune",
    ),
    (
        "4-bit channel, 90 % pruned",
        "prune{sparsity=0.9}," + CHANNEL.replace("B", "4"),
        RECIPE.replace("S", "0.9") + "," + CHANNEL.replace("B", "4") + "," + FT,
    ),
    (
        "4-bit channel, 95 % pruned",
        "prune{sparsity=0.95}," + CHANNEL.replace("B", "4"),
        RECIPE.replace("S", "0.95") + "," + CHANNEL.replace("B", "4") + "," + FT,
    ),
    (
        "4-bit channel, 95 % pruned: 32 hidden neurons (clustered), then 80 % of their synapses",
        None,
        "cluster_neurons{keep=0.25,arithmetic=float,resample=true},"
        "prune_gradual{sparsity=0.8,arithmetic=float,resample=true},"
        + CHANNEL.replace("B", "4")
        + ","
        + FT,
    ),
    ("2-bit channel, no pruning", CHANNEL.replace("B", "2"), CHANNEL.replace("B", "2") + "," + FT),
    (
        "2-bit channel (90th-percentile scale), no pruning",
        CHANNEL.replace("B", "2")[:-1] + ",percentile=90}",
        CHANNEL.replace("B", "2")[:-1] + ",percentile=90}," + FT,
    ),
    (
        "8-bit, 90 % lottery ticket",
        "prune{sparsity=0.9},quantize{weight_bits=8}",
        "prune_lottery{sparsity=0.9,arithmetic=float,resample=true},quantize{weight_bits=8}," + FT,
    ),
    (
        "8-bit, half the hidden neurons (clustered)",
        None,
        "cluster_neurons{keep=0.5,arithmetic=float,resample=true},quantize{weight_bits=8}," + FT,
    ),
]
QUICK_ROWS = DIGITS_ROWS[:3]
ONNX_ROWS = [
    ("8-bit", "quantize{weight_bits=8}", None),
    (
        "4-bit channel, 80 % pruned",
        "prune{sparsity=0.8}," + CHANNEL.replace("B", "4"),
        RECIPE.replace("S", "0.8") + "," + CHANNEL.replace("B", "4") + "," + FT,
    ),
]


def digits_data() -> dict[str, Any]:
    from train import load_data, rate_code

    x_train, _, y_train, _ = load_data()
    test = np.load(ROOT / "examples" / "digits" / "digits_test.npz")
    return {
        "net": nc.load(ROOT / "examples" / "digits" / "digits.nir", dt=1e-4),
        "x": rate_code(x_train, np.random.default_rng(TRAIN_SEED)),
        "y": y_train,
        "x_test": test["x"],
        "y_test": test["labels"],
    }


def onnx_data() -> dict[str, Any]:
    from train_ann import load_data

    x_train, x_test, y_train, y_test = load_data()
    net = nc.load(ROOT / "examples" / "onnx_digits" / "digits_ann.onnx", calibration=x_train)
    return {
        "net": net,
        "x": nc.rate_code(x_train, 25, seed=TRAIN_SEED),
        "y": y_train,
        "x_test": nc.rate_code(x_test, 25, seed=1),
        "y_test": y_test,
    }


def measure(d: dict[str, Any], passes: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    prog = nc.compile(d["net"], passes=passes, calibration=d["x"], labels=d["y"])
    seconds = time.perf_counter() - t0
    trained = sum(float(r.get("seconds", 0.0)) for r in prog.pass_reports if "val_samples" in r)
    report = prog.energy(d["x_test"])
    y = prog.simulate(d["x_test"])
    return {
        "pipeline": passes,
        "accuracy": accuracy(y, d["y_test"]),
        "energy_j": report.energy_per_inference_j,
        "dynamic_j": float(report.totals["dynamic_per_inference_j"]),
        "synapses": prog.net.synapses,
        "removed": 1 - prog.net.synapses / d["synapses"],
        "compile_s": seconds,
        "train_s": trained,
    }


def table(name: str, d: dict[str, Any], rows: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    from neurocomp.passes.fold import ensure_folded

    float_acc = accuracy(nc.simulate(d["net"], d["x_test"]), d["y_test"])
    # Synapses as the chip stores them: the folded float network's (conv and pooling composed).
    d["synapses"] = ensure_folded(d["net"])[0].synapses
    lines = [
        f"**{name}**: float accuracy {float_acc:.4f}; {d['synapses']} synapses; "
        f"{len(d['y'])} training samples, {len(d['y_test'])} test samples.",
        "",
        "| weights | training | accuracy | vs float | energy / inference (J) | dynamic (J) "
        "| synapses removed | training s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    results = []
    for label, post, trained in rows:
        for kind, passes in (("none (post-training)", post), ("fine-tuned", trained)):
            if passes is None:
                continue
            r = measure(d, passes)
            r.update(label=label, kind=kind, float_accuracy=float_acc)
            results.append(r)
            print(json.dumps(r), flush=True)
            drop = 100 * (r["accuracy"] - float_acc)
            lines.append(
                f"| {label} | {kind} | {r['accuracy']:.4f} | {drop:+.2f} "
                f"| {r['energy_j']:.3e} | {r['dynamic_j']:.3e} | {100 * r['removed']:.1f} % "
                f"| {r['train_s']:.0f} |"
            )
    lines.append("")
    lines.append("Pipelines (in order): " + "; ".join(f"`{r['pipeline']}`" for r in results))
    lines.append("")
    return lines, results


def write_section(path: Path, body: list[str]) -> None:
    text = path.read_text()
    block = "\n".join([SECTION, "", *body]).rstrip() + "\n"
    pattern = re.compile(re.escape(SECTION) + r".*?(?=\n## |\Z)", re.S)
    text = (
        pattern.sub(lambda _: block.rstrip("\n"), text)
        if pattern.search(text)
        else (text.rstrip("\n") + "\n\n" + block)
    )
    path.write_text(text.rstrip("\n") + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = ap.parse_args()
    import torch

    body = [
        f"Measured {datetime.date.today()} on {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, torch {torch.__version__} (CPU, one thread), "
        "2 cores shared with other jobs (times are wall clock, loaded machine). "
        "Regenerate with `.venv/bin/python benchmarks/compression.py`.",
        "",
        "Accuracy: the bit-accurate program on the held-out test set (never trained on). "
        "Training data: examples/digits/train.py's training split, rate-coded with seed "
        f"{TRAIN_SEED}; every training pass holds out 20 % of it for its choices. Energy per "
        "inference from the same test run. Synapses removed: against the float network "
        "(quantization rounds small weights to zero too).",
        "",
    ]
    lines, results = table(
        "digits (snnTorch 64-128-10)", digits_data(), QUICK_ROWS if args.quick else DIGITS_ROWS
    )
    body += lines
    if not args.quick:
        lines, more = table("ONNX digits CNN (IF, rate-coded, T = 25)", onnx_data(), ONNX_ROWS)
        body += lines
        results += more
    write_section(Path(args.out), body)
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "compression.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
