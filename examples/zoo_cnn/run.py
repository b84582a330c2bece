"""The NIR paper's Sinabs N-MNIST CNN (cnn_sinabs.nir): load, simulate, compile, compare, energy.

Run (from the repository root; about 20 s on 2 CPU cores)::

    python examples/zoo_cnn/run.py [OUT_DIR] [--samples 64] [--steps 30]

The file is read from ``$NEUROCOMP_ZOO`` if set, else from the copy of the NIR paper's files in
``<repository>/tests/data/nir-zoo/``. Without it the script prints one line and exits with
status 2.

The network (IF neurons only, so no time step is needed)::

    input (2, 34, 34) -> Conv2d(2->16, 5x5, stride 2) IF -> Conv2d(16->16, 3x3) IF -> SumPool2d
    -> Conv2d(16->8, 3x3) IF -> SumPool2d -> Flatten -> Affine(128->256) IF -> Affine(256->10) IF

Input: N-MNIST is not on this machine, so the input spikes are generated: Bernoulli events
whose probability per step follows sklearn's 8x8 digits upscaled to 28x28 and centred in the
34x34 frame, as N-MNIST's digits are; the horizontal edges (Sobel) of the image give the two
polarity channels (rising: channel 0, falling: channel 1), peak probability 0.6 per step.
How often the CNN's float prediction equals that digit's label is printed as a sanity check of
the loaded weights (chance is 10 %); it is not an N-MNIST accuracy.

Float simulation (neurocomp's reference) and the compiled 8-bit programs for ``reference`` and
``loihi2`` (bit-accurate simulation) run on the same spikes; printed: cores used against the
lower bound, agreement of output spike counts and predictions with the float run, and energy
per inference. ``results.json`` in OUT_DIR holds every printed figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import neurocomp as nc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ZOO_FILE = "cnn_sinabs.nir"
TARGETS = ("reference", "loihi2")
PEAK_P = 0.6  # spike probability per step at the strongest edge
SEED = 0


def zoo_path() -> Path:
    zoo = os.environ.get("NEUROCOMP_ZOO") or str(ROOT / "tests" / "data" / "nir-zoo")
    return Path(zoo) / ZOO_FILE


def digit_events(images: np.ndarray, steps: int, seed: int) -> np.ndarray:
    """(n, 8, 8) intensities in [0, 1] -> Bernoulli events (steps, n, 2, 34, 34) uint8."""
    from scipy.ndimage import sobel, zoom

    big = np.stack([zoom(im, 28 / 8, order=1) for im in images]).clip(0.0, 1.0)
    frame = np.zeros((len(images), 34, 34))
    frame[:, 3:31, 3:31] = big
    edges = np.stack([sobel(f, axis=1) for f in frame])
    p = np.stack([np.clip(edges, 0, None), np.clip(-edges, 0, None)], axis=1)
    p *= PEAK_P / p.max()
    return (np.random.default_rng(seed).random((steps, *p.shape)) < p).astype(np.uint8)


def counts_agreement(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Output spike counts (T, batch, 10) of two runs compared per (sample, class) and per
    prediction (argmax of counts, ties to the lowest index)."""
    ca, cb = a.sum(axis=0), b.sum(axis=0)
    return {
        "counts_equal": float((ca == cb).mean()),
        "mean_abs_count_diff": float(np.abs(ca - cb).mean()),
        "predictions_equal": float((ca.argmax(1) == cb.argmax(1)).mean()),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="build/zoo_cnn", type=Path)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args(argv)
    path = zoo_path()
    if not path.exists():
        print(
            f"error: {path} not found: set NEUROCOMP_ZOO to the NIR zoo folder "
            "(the NIR paper's files; see tests/data/nir-zoo/README.md)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    # no dt: IF, conv and pooling have no time constants. Read with NIR's equations (one spike
    # per step, reset to zero), as the NIR paper ran it in other frameworks; Sinabs' own IAF
    # default would be multi-spike with subtractive reset (framework="sinabs").
    net = nc.load(path, framework="nir")
    kinds = sorted({p.kind for p in net.populations})
    print(f"{path.name}: {net.neurons} neurons, {net.synapses} synapses; neuron kinds {kinds}")
    print(f"dt: {net.dt} (loaded without one: no population has a time constant)")

    from sklearn.datasets import load_digits

    digits = load_digits()
    n = args.samples
    images, labels = digits.images / 16.0, digits.target
    x = digit_events(images[:n], args.steps, SEED)
    calib = digit_events(images[n : n + 16], args.steps, SEED + 1)  # other digits, other draws
    print(f"input: generated Bernoulli events {x.shape} (no N-MNIST here), {x.mean():.4f} per step")

    t0 = time.perf_counter()
    trace = nc.simulate(net, x, record=True)
    float_s = time.perf_counter() - t0
    y_float = trace.outputs["output"]
    rates = {k: float(v.mean()) for k, v in trace.spikes.items()}
    sanity = float((y_float.sum(0).argmax(1) == labels[:n]).mean())

    rows: list[dict[str, Any]] = []
    for target in TARGETS:
        t0 = time.perf_counter()
        prog = nc.compile(net, target=target, calibration=calib)
        compile_s = time.perf_counter() - t0
        y_chip = prog.simulate(x)
        report = prog.energy(x)
        s = prog.summary
        # loihi2 delivers each layer's spikes a step late: compare the chip's output with the
        # float one shifted by the lag the compile summary states
        lag = s["output_lag_steps"].get("output") or 0
        steps = y_float.shape[0] - lag
        rows.append(
            {
                "target": target,
                "weight_bits": s["weight_bits"],
                "cores_used": s["cores_used"],
                "cores_lower_bound": s["cores_lower_bound"],
                "cores_available": s["cores_available"],
                "output_lag_steps": lag,
                **counts_agreement(y_chip[lag:], y_float[:steps]),
                "output_spikes": int(y_chip.sum()),
                "label_agreement": float((y_chip.sum(0).argmax(1) == labels[:n]).mean()),
                "energy_per_inference_j": report.energy_per_inference_j,
                "dynamic_per_inference_j": report.totals["dynamic_per_inference_j"],
                "latency_s": report.totals["latency_s"],
                "ann_energy_per_inference_j": report.ann["energy_per_inference_j"],
                "compile_seconds": round(compile_s, 1),
            }
        )

    print(f"float: {int(y_float.sum())} output spikes ({float_s:.1f} s); spikes per neuron-step:")
    print("  " + ", ".join(f"{k} {v:.3f}" for k, v in rates.items()))
    print(f"float prediction = digit label in {sanity:.1%} of {n} (sanity check; chance 10 %)")
    head = f"{'target':<11}{'cores':>7}{'bound':>7}{'counts equal':>14}{'|diff|':>8}"
    print(head + f"{'predictions':>13}{'= label':>9}{'energy/inference':>19}{'dynamic':>12}")
    for r in rows:
        print(
            f"{r['target']:<11}{r['cores_used']:>7}{r['cores_lower_bound']:>7}"
            f"{r['counts_equal']:>14.1%}{r['mean_abs_count_diff']:>8.2f}"
            f"{r['predictions_equal']:>13.1%}{r['label_agreement']:>9.1%}"
            f"{r['energy_per_inference_j']:>17.3e} J"
            f"{r['dynamic_per_inference_j']:>10.2e} J"
        )
    for r in rows:
        if r["output_lag_steps"]:
            print(
                f"{r['target']}: output lags the float run by {r['output_lag_steps']} steps "
                "(compile summary); compared aligned"
            )
    ann = rows[0]["ann_energy_per_inference_j"]
    print(f"INT8 ANN, MACs + SRAM (dynamic): {ann:.3e} J per inference")
    print(f"total {time.perf_counter() - t_start:.1f} s; wrote {out}/results.json")

    results = {
        "file": path.name,
        "dt": net.dt,
        "neuron_kinds": kinds,
        "neurons": net.neurons,
        "synapses": net.synapses,
        "samples": n,
        "steps": args.steps,
        "input_rate": float(x.mean()),
        "float_output_spikes": int(y_float.sum()),
        "spike_rates": rates,
        "label_agreement": sanity,
        "targets": rows,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
