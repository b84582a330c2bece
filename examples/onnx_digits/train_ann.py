"""Train the ONNX example: a small ReLU conv net on sklearn's 8x8 digits, exported with torch.onnx.

Regenerate (from the repository root)::

    python examples/onnx_digits/train_ann.py [OUT_DIR]   # default: next to this script
    python examples/onnx_digits/train_ann.py --evaluate  # the README's ANN vs SNN table

Output: ``digits_ann.onnx`` (byte-identical on every run on the same machine).

Model (input: pixels / 16 in [0, 1], shape (batch, 1, 8, 8))::

    Conv(1->8, 3x3, pad 1) BatchNorm2d ReLU AvgPool(2)     -> (8, 4, 4)
    Conv(8->16, 3x3, pad 1) BatchNorm2d ReLU AvgPool(2)    -> (16, 2, 2)
    Flatten Linear(64->64) BatchNorm1d ReLU Linear(64->10) -> logits

The TorchScript exporter (``dynamo=False``, opset 17) folds each BatchNorm2d into its Conv and
keeps the BatchNorm1d after the Linear as a BatchNormalization node, so the file holds Conv,
Relu, AveragePool, Flatten, Gemm, BatchNormalization and Identity nodes. Data split as in
``examples/digits/train.py``: ``train_test_split(test_size=397, random_state=0, stratify=y)``.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
SEED = 0
EPOCHS = 60
BATCH = 64
LR = 3e-3


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """sklearn digits as (n, 1, 8, 8) float32 in [0, 1]; the 397-sample stratified test split."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=397, random_state=SEED, stratify=y)


def build() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 64),
        nn.BatchNorm1d(64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def train(x: np.ndarray, y: np.ndarray) -> nn.Sequential:
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(SEED)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(EPOCHS):
        model.train()
        order = torch.from_numpy(rng.permutation(len(x)))
        total = 0.0
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            loss = loss_fn(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        if (epoch + 1) % 10 == 0:
            print(f"epoch {epoch + 1:2d}  loss {total / len(x):.4f}")
    return model.eval()


def export(model: nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, 8, 8),),
        buf,
        dynamo=False,
        opset_version=17,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
    )
    return buf.getvalue()


def ann_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = sess.run(None, {"image": x.astype(np.float32)})[0]
    return float(np.mean(logits.argmax(1) == y))


def evaluate(path: Path) -> None:
    """Print the README's table: ANN (onnxruntime) vs SNN (float sim, reference chip) vs T."""
    import neurocomp as nc
    from neurocomp.analysis.metrics import accuracy
    from neurocomp.frontend.onnx_frontend import load_onnx, rate_code

    x_train, x_test, _, y_test = load_data()
    print(f"ANN (onnxruntime): {ann_accuracy(path, x_test, y_test):.4f}")
    for readout in ("membrane", "spikes"):
        net = load_onnx(path, calibration=x_train, readout=readout)
        prog = nc.compile(net) if readout == "membrane" else None
        for steps in (10, 25, 50, 100, 200):
            spikes = rate_code(x_test, steps, seed=1)
            t0 = time.perf_counter()
            acc = accuracy(nc.simulate(net, spikes), y_test)
            line = f"{readout:8s} T={steps:3d}  float {acc:.4f} ({time.perf_counter() - t0:.1f} s)"
            if prog is not None:
                line += f"  chip {accuracy(prog.simulate(spikes), y_test):.4f}"
            print(line)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out = Path(args[0]) if args else HERE
    path = out / "digits_ann.onnx"
    if "--evaluate" in sys.argv:
        evaluate(path)
        return
    x_train, x_test, y_train, y_test = load_data()
    model = train(x_train, y_train)
    with torch.no_grad():
        acc = float((model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean())
    print(f"torch test accuracy {acc:.4f}")
    out.mkdir(parents=True, exist_ok=True)
    path.write_bytes(export(model))
    print(
        f"wrote {path} ({path.stat().st_size} bytes); onnxruntime test accuracy "
        f"{ann_accuracy(path, x_test, y_test):.4f}"
    )


if __name__ == "__main__":
    main()
