"""examples/norse_digits/run.py: a Norse model trained, exported with nc.from_torch, checked
spike for spike against Norse and compiled (figures as its README states, with tolerances)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from conftest import EXAMPLES

pytestmark = pytest.mark.frameworks

SCRIPT = EXAMPLES / "norse_digits" / "run.py"


def _run(out, *args: str) -> str:
    pytest.importorskip("norse")
    pytest.importorskip("sklearn")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _accuracy(stdout: str, model: str) -> float:
    m = re.search(rf"^{re.escape(model)}\s+([\d.]+)% \(\s*(\d+)/397\)", stdout, re.MULTILINE)
    assert m, f"no accuracy line for {model!r} in:\n{stdout[-2000:]}"
    return int(m.group(2)) / 397


def test_lifbox_model_exact_and_on_both_chips(tmp_path):
    stdout = _run(tmp_path)
    assert "populations 1: LIF, 3: LIF" in stdout
    assert re.search(
        r"spike-for-spike vs Norse, every layer \(1369650 neuron-steps, \d+ spikes\):"
        r" 0 differ in float32 \(layer 1: 0, layer 3: 0\); output spikes differing"
        r" in float64: 0",
        stdout,
    )
    norse = _accuracy(stdout, "Norse (float)")
    assert norse >= 0.92  # README: 95.21 %
    assert _accuracy(stdout, "neurocomp (float32)") == norse
    for target in ("reference", "loihi2"):  # README: 95.72 %, 96.22 %
        assert _accuracy(stdout, f"{target} chip (8-bit)") >= norse - 0.03
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["mismatches"] == 0 and results["norse_spikes"] > 10_000
    assert results["refused"] == {}
    chips = [r for r in results["rows"] if "target" in r]
    assert all(1e-6 < r["energy_per_inference_j"] < 1e-3 for r in chips)
    assert (tmp_path / "model.nir").is_file() and (tmp_path / "loihi2" / "program.json").is_file()


def test_lifcell_model_exact_and_on_both_chips(tmp_path):
    """The Linear biases feed CubaLIF currents: loihi2 runs them through NcLIF's u_bias."""
    stdout = _run(tmp_path, "--cell", "lif")
    assert "populations 1: CubaLIF, 3: CubaLIF" in stdout
    assert " 0 differ in float32 (layer 1: 0, layer 3: 0)" in stdout
    norse = _accuracy(stdout, "Norse (float)")
    for target in ("reference", "loihi2"):  # README: 93.45 %, 93.45 %
        assert _accuracy(stdout, f"{target} chip (8-bit)") >= norse - 0.03
    assert "refused" not in stdout
    assert (tmp_path / "loihi2" / "program.json").is_file()
