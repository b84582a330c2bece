"""The shipped digits example: the model the README's main job runs, and its training script."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

import neurocomp as nc

from conftest import EXAMPLES

DIGITS = EXAMPLES / "digits"


def _load():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(DIGITS / "digits.nir")
    data = np.load(DIGITS / "digits_test.npz")
    return net, data["x"], data["labels"]


def test_shipped_model_accuracy_as_stated_in_readme():
    net, x, labels = _load()
    assert net.dt == pytest.approx(1e-4)  # inferred from r = tau/dt
    y = nc.simulate(net, x)
    correct = int((y.sum(axis=0).argmax(axis=1) == labels).sum())
    assert (correct, len(labels)) == (385, 397)  # 0.9698, quoted in README.md


def test_float32_simulation_gives_the_same_predictions():
    net, x, labels = _load()
    y64 = nc.simulate(net, x).sum(axis=0)
    y32 = nc.simulate(net, x, dtype=np.float32).sum(axis=0)
    np.testing.assert_array_equal(y64.argmax(axis=1), y32.argmax(axis=1))


@pytest.mark.frameworks
def test_training_script_reproduces_the_shipped_files(tmp_path):
    pytest.importorskip("snntorch")
    pytest.importorskip("sklearn")
    proc = subprocess.run(
        [sys.executable, str(DIGITS / "train.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "snnTorch test accuracy:        0.9698" in proc.stdout
    for name in ("digits.nir", "digits_test.npz", "digits_calib.npz"):
        made = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        shipped = hashlib.sha256((DIGITS / name).read_bytes()).hexdigest()
        assert made == shipped, f"{name} differs from the shipped file"
