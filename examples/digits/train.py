"""Train the shipped example model: a small spiking classifier for sklearn digits.

Regenerate (from the repository root)::

    python examples/digits/train.py [OUT_DIR]   # default: next to this script

Outputs, next to this script:

* ``digits.nir``      -- the trained network as a NIR graph (nir 1.0.8)
* ``digits_test.npz`` -- the rate-coded test set: ``x`` uint8 (T, batch, 64),
                         ``labels`` int64 (batch,), ``dt`` float
* ``digits_calib.npz`` -- 500 rate-coded training samples, same keys, for calibrating
                         quantization and pruning passes

Model
-----
64 inputs -> Linear(64, 128) -> Leaky -> Linear(128, 10) -> Leaky, trained with
snnTorch 1.0 (surrogate gradient, cross-entropy on output spike counts, Adam).
The prediction is the argmax of the output spike counts over T steps, ties going
to the lowest index (numpy argmax).

Neuron semantics trained with
-----------------------------
``snn.Leaky(beta, threshold=1.0, reset_mechanism="zero", reset_delay=False)``.
With ``reset_delay=False`` snnTorch resets in the same step as the spike (the
default ``reset_delay=True`` applies the reset one step late, from the previous
step's membrane). Per step, per neuron, this is exactly::

    v = beta * v + I          # I = W s_in + b
    s = v > threshold         # strict comparison
    v = 0 where s

Export
------
``snntorch.export_to_nir`` is not used: with nir 1.0.8 it fails or yields graphs
with batched Input shapes and scalar neuron parameters. The graph is built
explicitly from the trained parameters, following snnTorch's NIR conventions with
dt = 1e-4: Affine(W, b), and LIF with tau = dt / (1 - beta), r = tau / dt,
v_leak = 0, v_threshold = threshold, v_reset = 0 (per-neuron float32 arrays).
dt is deliberately NOT stored in the graph metadata: consumers are expected to
infer it from r = tau / dt. The NIR LIF equation
``tau dv/dt = (v_leak - v) + r I`` discretised with forward Euler at dt gives
``v = (1 - dt/tau) v + (dt/tau) r I = beta v + I``.

Finally the exported file is read back and simulated with a plain numpy
implementation of those equations, and compared with the snnTorch model on the
same test spikes.
"""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from snntorch import surrogate

HERE = Path(__file__).resolve().parent

SEED = 0
N_CALIB = 500  # training samples shipped as calibration data for quantization and pruning
T = 25  # time steps per sample
GAIN = 1.0  # spike probability per step = GAIN * pixel intensity in [0, 1]
N_IN, N_HIDDEN, N_OUT = 64, 128, 10
BETA = 0.9
THRESHOLD = 1.0
DT = 1e-4  # snnTorch's NIR convention
EPOCHS = 20
BATCH = 64
LR = 2e-3


def set_determinism(seed: int = SEED) -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


# --------------------------------------------------------------------------- data


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """sklearn digits, pixels scaled to [0, 1], stratified 78/22 split (397 test)."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=397, random_state=SEED, stratify=y)


def rate_code(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bernoulli rate coding: (batch, 64) intensities -> (T, batch, 64) uint8 spikes."""
    p = np.clip(GAIN * x, 0.0, 1.0)
    return (rng.random((T, *x.shape)) < p).astype(np.uint8)


# -------------------------------------------------------------------------- model


class DigitsSNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        grad = surrogate.fast_sigmoid(slope=25)
        kw = dict(
            beta=BETA,
            threshold=THRESHOLD,
            spike_grad=grad,
            reset_mechanism="zero",
            reset_delay=False,
        )
        self.fc1 = nn.Linear(N_IN, N_HIDDEN)
        self.lif1 = snn.Leaky(**kw)
        self.fc2 = nn.Linear(N_HIDDEN, N_OUT)
        self.lif2 = snn.Leaky(**kw)

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """(T, batch, 64) spikes -> (T, batch, 10) output spikes."""
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        out = []
        for t in range(spikes.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(spikes[t]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


def train(model: DigitsSNN, x_train: np.ndarray, y_train: np.ndarray) -> None:
    rng = np.random.default_rng(SEED + 1)  # training spikes, fresh each epoch
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    n = len(x_train)
    for epoch in range(EPOCHS):
        order = rng.permutation(n)
        spikes = rate_code(x_train, rng)
        total, correct = 0.0, 0
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            s = torch.from_numpy(spikes[:, idx]).float()
            y = torch.from_numpy(y_train[idx])
            counts = model(s).sum(0)
            loss = loss_fn(counts, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += int((counts.argmax(1) == y).sum())
        print(f"epoch {epoch + 1:2d}  loss {total / n:.4f}  train acc {correct / n:.4f}")


@torch.no_grad()
def snntorch_counts(model: DigitsSNN, spikes: np.ndarray) -> np.ndarray:
    return model(torch.from_numpy(spikes).float()).sum(0).numpy().astype(np.int64)


# ------------------------------------------------------------------------- export


def to_nir(model: DigitsSNN) -> nir.NIRGraph:
    """Build the NIR graph explicitly (snnTorch conventions, dt = DT)."""

    def affine(fc: nn.Linear) -> nir.Affine:
        return nir.Affine(
            weight=fc.weight.detach().numpy().astype(np.float32),
            bias=fc.bias.detach().numpy().astype(np.float32),
        )

    def lif(layer: snn.Leaky, n: int) -> nir.LIF:
        beta = float(layer.beta.clamp(0, 1))
        tau = DT / (1.0 - beta)

        def full(value: float) -> np.ndarray:
            return np.full(n, value, dtype=np.float32)

        return nir.LIF(
            tau=full(tau),
            r=full(tau / DT),
            v_leak=full(0.0),
            v_threshold=full(float(layer.threshold)),
            v_reset=full(0.0),
        )

    nodes = {
        "input": nir.Input(input_type=np.array([N_IN])),
        "fc1": affine(model.fc1),
        "lif1": lif(model.lif1, N_HIDDEN),
        "fc2": affine(model.fc2),
        "lif2": lif(model.lif2, N_OUT),
        "output": nir.Output(output_type=np.array([N_OUT])),
    }
    edges = [
        ("input", "fc1"),
        ("fc1", "lif1"),
        ("lif1", "fc2"),
        ("fc2", "lif2"),
        ("lif2", "output"),
    ]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"source": "snntorch 1.0.0"})


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Like np.savez_compressed, but byte-reproducible (fixed zip timestamps)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as f:
                np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)


# ----------------------------------------------------------- numpy re-simulation


def numpy_counts(graph: nir.NIRGraph, spikes: np.ndarray, dt: float) -> np.ndarray:
    """Simulate input -> fc1 -> lif1 -> fc2 -> lif2 from the NIR parameters (float64)."""
    layers = [(graph.nodes["fc1"], graph.nodes["lif1"]), (graph.nodes["fc2"], graph.nodes["lif2"])]
    params = []
    for aff, lif in layers:
        w = aff.weight.astype(np.float64)
        b = aff.bias.astype(np.float64)
        k = dt / lif.tau.astype(np.float64)
        params.append((w, b, k, lif.r.astype(np.float64), lif.v_threshold, lif.v_reset))
    batch = spikes.shape[1]
    v = [np.zeros((batch, w.shape[0])) for w, *_ in params]
    counts = np.zeros((batch, params[-1][0].shape[0]), dtype=np.int64)
    for t in range(spikes.shape[0]):
        s = spikes[t].astype(np.float64)
        for i, (w, b, k, r, thr, v_reset) in enumerate(params):
            cur = s @ w.T + b
            v[i] = (1.0 - k) * v[i] + k * r * cur
            fired = v[i] > thr
            v[i] = np.where(fired, v_reset, v[i])
            s = fired.astype(np.float64)
        counts += fired
    return counts


# --------------------------------------------------------------------------- main


def main(out_dir: Path = HERE) -> None:
    """Train, export and verify; write digits.nir and digits_test.npz into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    nir_path, npz_path = out_dir / "digits.nir", out_dir / "digits_test.npz"
    set_determinism()
    x_train, x_test, y_train, y_test = load_data()
    test_spikes = rate_code(x_test, np.random.default_rng(SEED))
    print(f"train {x_train.shape}, test {x_test.shape}, test spikes {test_spikes.shape}")

    model = DigitsSNN()
    t0 = time.perf_counter()
    train(model, x_train, y_train)
    train_time = time.perf_counter() - t0

    counts_torch = snntorch_counts(model, test_spikes)
    acc_torch = float((counts_torch.argmax(1) == y_test).mean())

    graph = to_nir(model)
    nir.write(nir_path, graph)
    save_npz(npz_path, x=test_spikes, labels=y_test.astype(np.int64), dt=np.float64(DT))
    # Calibration set for post-training passes: 500 training samples, their own spike draws,
    # so that pass decisions never see the held-out test set.
    calib = rate_code(x_train[:N_CALIB], np.random.default_rng(SEED + 2))
    save_npz(
        out_dir / "digits_calib.npz",
        x=calib,
        labels=y_train[:N_CALIB].astype(np.int64),
        dt=np.float64(DT),
    )

    # Independent check: read the files back, simulate with numpy.
    graph_rb = nir.read(nir_path, type_check=True)
    data = np.load(npz_path)
    assert set(graph_rb.nodes) == {"input", "fc1", "lif1", "fc2", "lif2", "output"}
    assert data["x"].dtype == np.uint8 and data["x"].shape == (T, len(y_test), N_IN)
    counts_np = numpy_counts(graph_rb, data["x"], float(data["dt"]))
    acc_np = float((counts_np.argmax(1) == data["labels"]).mean())

    diff = counts_np != counts_torch
    print(
        f"output spike-count entries differing (numpy vs snnTorch): {int(diff.sum())}"
        f" of {diff.size}, in {int(diff.any(1).sum())} samples;"
        f" predictions differing: {int((counts_np.argmax(1) != counts_torch.argmax(1)).sum())}"
    )
    print(f"snnTorch test accuracy:        {acc_torch:.4f}")
    print(f"numpy (from digits.nir) acc.:  {acc_np:.4f}")
    print(f"train time:                    {train_time:.1f} s")
    print(
        f"wrote {nir_path.name} ({nir_path.stat().st_size} B),"
        f" {npz_path.name} ({npz_path.stat().st_size} B)"
    )


if __name__ == "__main__":
    import sys

    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
