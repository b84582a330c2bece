"""examples/digits/end_to_end.py: snnTorch training to chip accuracy and energy, as its README
states (figures checked against what the script printed, with tolerances)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import neurocomp as nc

from conftest import EXAMPLES

pytestmark = pytest.mark.frameworks

SCRIPT = EXAMPLES / "digits" / "end_to_end.py"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("snntorch")
    pytest.importorskip("sklearn")
    out = tmp_path_factory.mktemp("end_to_end")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), "--lava", "10"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout


def _accuracy(stdout: str, model: str) -> float:
    m = re.search(rf"^{re.escape(model)}\s+([\d.]+)% \(\s*(\d+)/397\)", stdout, re.MULTILINE)
    assert m, f"no accuracy line for {model!r} in:\n{stdout[-2000:]}"
    assert float(m.group(1)) == pytest.approx(int(m.group(2)) / 397 * 100, abs=0.006)
    return float(m.group(1)) / 100


def test_accuracy_float_and_on_both_chips(run):
    _, stdout = run
    assert _accuracy(stdout, "snnTorch (float)") >= 0.95  # README: 96.98 %
    assert _accuracy(stdout, "neurocomp (float32)") == _accuracy(stdout, "snnTorch (float)")
    assert _accuracy(stdout, "reference chip (8-bit)") >= 0.95  # README: 97.73 %
    assert _accuracy(stdout, "loihi2 chip (8-bit)") >= 0.95  # README: 97.98 %


def test_export_is_spike_exact_and_lava_agrees(run):
    _, stdout = run
    assert re.search(r"float simulation vs snnTorch: 0 of 99250 output spikes differ", stdout)
    assert re.search(r"loihi2 program in Lava \(10 samples\): 0 output spikes differ", stdout)


def test_energy_per_inference_printed_and_plausible(run):
    out, stdout = run
    energies = [float(e) for e in re.findall(r"\s([\d.]+e-\d+) J\s+[\d.]+e-\d+ J$", stdout, re.M)]
    assert len(energies) == 2  # reference, loihi2
    assert all(1e-5 < e < 1e-2 for e in energies)  # README: 1.7e-4, 7.3e-4 J (host, static)
    results = json.loads((out / "results.json").read_text())
    chips = [r for r in results["rows"] if "target" in r]
    assert [r["target"] for r in chips] == ["reference", "loihi2"]
    assert [r["cores_used"] for r in chips] == [1, 1]
    np.testing.assert_allclose([r["energy_per_inference_j"] for r in chips], energies, rtol=1e-3)


def test_written_files_load_and_run(run):
    out, _ = run
    test = np.load(EXAMPLES / "digits" / "digits_test.npz")
    with pytest.warns(nc.NeurocompWarning, match="stored in the graph's metadata"):
        net = nc.load(out / "model.nir")  # from_torch(path=) records dt and the reset rule
    assert net.dt == pytest.approx(1e-4)
    assert [p.kind for p in net.populations] == ["LIF", "LIF"]
    prog = nc.load_program(out / "loihi2")
    assert prog.target.name == "loihi2"
    y = prog.simulate(test["x"][:, :50])
    assert y.shape == (25, 50, 10) and y.sum() > 0
