"""Train the conv SNN example: a small snnTorch convolutional network on sklearn's 8x8 digits.

Regenerate (from the repository root)::

    python examples/conv_digits/train.py [OUT_DIR]   # default: next to this script

Output: ``conv_digits.nir``, exported by snnTorch's own NIR exporter through
``neurocomp.from_torch`` (which repairs its known quirks). Model, input (batch, 1, 8, 8)::

    Conv2d(1->8, 3x3, pad 1) Leaky -> AvgPool2d(2) -> Flatten -> Linear(128->10) Leaky

``snn.Leaky(beta=0.9, threshold=1, reset_mechanism="zero", reset_delay=False)``, fast-sigmoid
surrogate, Adam, cross-entropy on output spike counts over T = 25 steps of Bernoulli rate-coded
pixels (examples/digits/train.py's coding and data split, the test set never trained on).
Deterministic on one machine (fixed seeds, one thread).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import snntorch as snn
import torch
import torch.nn as nn
from snntorch import surrogate

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "digits"))

from train import load_data, rate_code, set_determinism  # noqa: E402

SEED = 0
EPOCHS = 20
BATCH = 64
LR = 3e-3


class ConvDigitsSNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        kw = dict(
            beta=0.9,
            threshold=1.0,
            spike_grad=surrogate.fast_sigmoid(slope=25),
            reset_mechanism="zero",
            reset_delay=False,
            init_hidden=True,
        )
        self.net = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            snn.Leaky(**kw),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(128, 10),
            snn.Leaky(**kw, output=False),
        )

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """(T, batch, 1, 8, 8) spikes -> (T, batch, 10) output spikes."""
        for m in self.net:
            if isinstance(m, snn.Leaky):
                m.reset_mem()
        return torch.stack([self.net(spikes[t]) for t in range(spikes.shape[0])])


def train(model: ConvDigitsSNN, x: np.ndarray, y: np.ndarray) -> None:
    rng = np.random.default_rng(SEED + 1)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    n = len(x)
    for epoch in range(EPOCHS):
        order = rng.permutation(n)
        spikes = rate_code(x, rng).reshape(-1, n, 1, 8, 8)
        correct = 0
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            counts = model(torch.from_numpy(spikes[:, idx]).float()).sum(0)
            target = torch.from_numpy(y[idx])
            loss = nn.functional.cross_entropy(counts, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            correct += int((counts.argmax(1) == target).sum())
        print(f"epoch {epoch + 1:2d}  train acc {correct / n:.4f}")


def main(out_dir: Path = HERE) -> None:
    import neurocomp as nc

    out_dir.mkdir(parents=True, exist_ok=True)
    set_determinism(SEED)
    x_train, x_test, y_train, y_test = load_data()
    model = ConvDigitsSNN()
    t0 = time.perf_counter()
    train(model, x_train, y_train)
    print(f"trained in {time.perf_counter() - t0:.1f} s")
    test = rate_code(x_test, np.random.default_rng(SEED)).reshape(-1, len(x_test), 1, 8, 8)
    with torch.no_grad():
        acc = float(
            (model(torch.from_numpy(test).float()).sum(0).argmax(1).numpy() == y_test).mean()
        )
    print(f"snnTorch test accuracy {acc:.4f}")
    net = nc.from_torch(model.net, torch.zeros(1, 1, 8, 8), path=out_dir / "conv_digits.nir")
    ours = nc.simulate(net, test)
    counts = np.asarray(ours).sum(0).reshape(len(x_test), -1)
    print(f"neurocomp float simulation accuracy {float((counts.argmax(1) == y_test).mean()):.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
