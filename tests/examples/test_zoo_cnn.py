"""examples/zoo_cnn/run.py: the NIR zoo's Sinabs CNN loaded, simulated, compiled for both
targets, compared and costed (figures as its README states, with tolerances)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import EXAMPLES, zoo_file

SCRIPT = EXAMPLES / "zoo_cnn" / "run.py"


def _run(out, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(out), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


@pytest.mark.zoo
@pytest.mark.frameworks
def test_cnn_sinabs_float_vs_chips(tmp_path):
    pytest.importorskip("sklearn")
    zoo = zoo_file("cnn_sinabs.nir").parent
    proc = _run(tmp_path, {"NEUROCOMP_ZOO": str(zoo)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    stdout = proc.stdout
    assert "neuron kinds ['IF']" in stdout and "dt: None" in stdout
    assert "(30, 64, 2, 34, 34) (no N-MNIST here)" in stdout
    sanity = re.search(r"float prediction = digit label in ([\d.]+)% of 64", stdout)
    assert sanity and float(sanity.group(1)) > 30  # README: 57.8 %; chance 10 %
    rows = {
        m.group(1): [float(v) for v in m.groups()[1:]]
        for m in re.finditer(
            r"^(reference|loihi2)\s+(\d+)\s+(\d+)\s+([\d.]+)%\s+([\d.]+)\s+([\d.]+)%\s+([\d.]+)%"
            r"\s+([\d.]+e-\d+) J",
            stdout,
            re.MULTILINE,
        )
    }
    assert set(rows) == {"reference", "loihi2"}, stdout
    for cores, bound, counts_equal, _, predictions_equal, _, energy in rows.values():
        assert bound <= cores <= 17  # README: 16 and 8 cores, lower bounds 10 and 4
        assert counts_equal > 60 and predictions_equal > 75  # README (loihi2 compared aligned)
        assert 1e-4 < energy < 1e-1  # README: 6.0e-3, 2.4e-2 J (host traffic and static power)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["neurons"] == 8970 and results["synapses"] == 908288
    assert [r["cores_used"] for r in results["targets"]] == [
        int(rows[t][0]) for t in ("reference", "loihi2")
    ]


def test_missing_zoo_is_one_line_and_status_2(tmp_path):
    proc = _run(tmp_path / "out", {"NEUROCOMP_ZOO": str(tmp_path / "no-zoo")})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "NEUROCOMP_ZOO" in lines[0]
    assert not (tmp_path / "out").exists()
