"""Determinism: the same model compiled in two separate processes gives byte-identical folders.

tests/backends/test_program.py checks one configuration (reference, calibration). Here: both
shipped targets, with and without passes and calibration, in processes with different hash seeds
(set and dict-of-set iteration order differ between them), through the API and the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from robust_util import DIGITS

CONFIGS = {
    f"{target}-{name}": (target, passes, calib)
    for target in ("reference", "loihi2")
    for name, passes, calib in (
        ("plain", None, False),
        ("prune", "prune{sparsity=0.5}", False),
        ("calib", None, True),
        ("prune-calib", "prune{sparsity=0.5},quantize{granularity=channel}", True),
    )
}

CLI = [sys.executable, "-m", "neurocomp.cli"]
COMPILE_ALL = """
import json, sys, warnings
import numpy as np
import neurocomp as nc
warnings.simplefilter("ignore")
model, calib_path, out = sys.argv[1:4]
configs = json.loads(sys.argv[4])
calib = np.load(calib_path)
for name, (target, passes, use_calib) in configs.items():
    prog = nc.compile(
        model,
        target=target,
        passes=passes,
        calibration=calib["x"] if use_calib else None,
        labels=calib["labels"] if use_calib and "labels" in calib.files else None,
    )
    prog.save(f"{out}/{name}")
"""


def _env(seed: int) -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": str(seed)}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))}


def test_api_compiles_are_byte_identical_across_processes(tmp_path):
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                COMPILE_ALL,
                str(DIGITS / "digits.nir"),
                str(DIGITS / "digits_calib.npz"),
                str(tmp_path / f"run{k}"),
                json.dumps(CONFIGS),
            ],
            env=_env(seed),
            stderr=subprocess.PIPE,
        )
        for k, seed in enumerate((1, 2))
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-3000:]
    for name in CONFIGS:
        a, b = (_snapshot(tmp_path / f"run{k}" / name) for k in (0, 1))
        assert sorted(a) == sorted(b), name
        assert {"program.json", "arrays.npz"} <= set(a), (name, sorted(a))
        differ = [f for f in a if a[f] != b[f]]
        assert not differ, f"{name}: {differ} differ between two processes"
    # The configurations themselves differ (the test would be vacuous otherwise).
    assert _snapshot(tmp_path / "run0" / "reference-plain") != _snapshot(
        tmp_path / "run0" / "reference-prune"
    )
    assert (tmp_path / "run0" / "loihi2-plain" / "run_lava.py").exists()


@pytest.mark.parametrize("target", ["reference", "loihi2"])
def test_cli_compiles_are_byte_identical_across_processes(tmp_path, target):
    args = [
        str(DIGITS / "digits.nir"),
        "--target",
        target,
        "--passes",
        "prune{sparsity=0.5}",
        "--calibration",
        str(DIGITS / "digits_calib.npz"),
        "--json",
    ]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "neurocomp.cli",
                "compile",
                *args,
                "-o",
                str(tmp_path / f"b{k}"),
            ],
            env=_env(seed),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k, seed in enumerate((3, 4))
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-3000:]
        outs.append(out.decode().replace(str(tmp_path / "b1"), str(tmp_path / "b0")))
    assert outs[0] == outs[1]  # the --json summary too
    assert _snapshot(tmp_path / "b0") == _snapshot(tmp_path / "b1")
