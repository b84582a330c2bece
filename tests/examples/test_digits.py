"""The shipped digits example: the model the README's main job runs, and its training script.

Training is float arithmetic whose rounding depends on the CPU's kernels (the script printed
0.9748 instead of the shipped 0.9698 on another CPU), so the training test asserts what holds
on every machine: the script runs, its accuracy is close to the shipped model's, the file it
exports matches its own snnTorch module spike for spike (both run on this machine), and the
data it writes (numpy's seeded generator, no training involved) equals the shipped data.
Byte-identity is asserted where it holds everywhere: the integer program compiled from the
shipped digits.nir (tests/backends/test_program.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import neurocomp as nc

from conftest import EXAMPLES

DIGITS = EXAMPLES / "digits"
SHIPPED_CORRECT = 385  # of 397: 0.9698, quoted in README.md
# Retraining with other float kernels moves the accuracy by a few of the 397 test samples:
# 0.9647 (-2 samples) and 0.9748 (+2) measured, with torch's and MKL's kernels chosen as
# on other CPUs (ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS). 0.02 is 8 samples: four times
# the largest shift, 2.3 standard errors of an accuracy near 0.97 on 397 samples (0.0086).
ACCURACY_TOLERANCE = 0.02

# Runs train.py's own main() unchanged and keeps the module it exports (train.to_nir is called
# once, with the trained model), then records that module's output spikes on the test set.
TRAIN_AND_KEEP_MODULE = """
import importlib.util, sys
from pathlib import Path
import numpy as np, torch
spec = importlib.util.spec_from_file_location("digits_train", sys.argv[1])
train = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train)
out = Path(sys.argv[2])
exported = []
to_nir = train.to_nir
train.to_nir = lambda model: exported.append(model) or to_nir(model)
train.main(out)
assert len(exported) == 1
with torch.no_grad():
    spikes = exported[0](torch.from_numpy(np.load(out / "digits_test.npz")["x"]).float())
np.save(out / "snntorch_spikes.npy", spikes.numpy().astype(np.uint8))
"""


def _load(folder=DIGITS):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(folder / "digits.nir")
    data = np.load(folder / "digits_test.npz")
    return net, data["x"], data["labels"]


def _correct(y: np.ndarray, labels: np.ndarray) -> int:
    return int((y.sum(axis=0).argmax(axis=1) == labels).sum())


def test_shipped_model_accuracy_as_stated_in_readme():
    net, x, labels = _load()
    assert net.dt == pytest.approx(1e-4)  # inferred from r = tau/dt
    # Exact on every CPU: no membrane of this fixed model comes within 1.4e-8 of its threshold
    # in float64, far beyond what another BLAS's summation order changes (about 1e-16).
    assert (_correct(nc.simulate(net, x), labels), len(labels)) == (SHIPPED_CORRECT, 397)


def test_float32_simulation_gives_the_same_predictions():
    net, x, labels = _load()
    y64 = nc.simulate(net, x).sum(axis=0).argmax(axis=1)
    y32 = nc.simulate(net, x, dtype=np.float32).sum(axis=0).argmax(axis=1)
    # float32 rounding (about 1e-7) exceeds that 1.4e-8 margin: 2 of the 99250 output spikes
    # differ here, none of the predictions. Which spikes flip depends on the BLAS kernel, so
    # one prediction may differ on another CPU; a float32 fault would change many.
    assert int((y64 != y32).sum()) <= 1
    assert abs(int((y32 == labels).sum()) - SHIPPED_CORRECT) <= 1


@pytest.mark.frameworks
def test_training_script_runs_and_its_export_matches_its_module(tmp_path):
    pytest.importorskip("snntorch")
    pytest.importorskip("sklearn")
    proc = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_KEEP_MODULE, str(DIGITS / "train.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r"^snnTorch test accuracy:\s+([\d.]+)$", proc.stdout, re.MULTILINE)
    assert m, proc.stdout[-2000:]
    net, x, labels = _load(tmp_path)
    y = nc.simulate(net, x, dtype=np.float32)
    # The exported file, simulated by neurocomp, against the trained snnTorch module.
    theirs = np.load(tmp_path / "snntorch_spikes.npy")
    assert theirs.shape == y.shape == (25, 397, 10)
    np.testing.assert_array_equal(y, theirs)
    printed = float(m.group(1))
    assert printed == pytest.approx(_correct(y, labels) / 397, abs=5e-5)
    assert abs(printed - SHIPPED_CORRECT / 397) <= ACCURACY_TOLERANCE, printed
    # The data files come from numpy's seeded generator, not from training: equal everywhere.
    for name in ("digits_test.npz", "digits_calib.npz"):
        with np.load(tmp_path / name) as made, np.load(DIGITS / name) as shipped:
            assert sorted(made.files) == sorted(shipped.files) == ["dt", "labels", "x"]
            for key in made.files:
                assert made[key].dtype == shipped[key].dtype, (name, key)
                np.testing.assert_array_equal(made[key], shipped[key], err_msg=f"{name}:{key}")
