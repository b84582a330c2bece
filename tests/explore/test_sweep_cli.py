"""`neurocomp sweep`: files written, JSON table, one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from sweep_data import DIGITS


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neurocomp.cli", "sweep", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def small_eval(tmp_path):
    d = np.load(DIGITS / "digits_test.npz")
    path = tmp_path / "eval.npz"
    np.savez(path, x=d["x"][:, :40], labels=d["labels"][:40])
    return path


def test_sweep_on_two_workers_writes_table_and_report(tmp_path):
    out = tmp_path / "out"
    proc = run(
        DIGITS / "digits.nir", "--dt", "1e-4", "-t", "reference", "-t", "loihi2",
        "--passes", "", "--passes", "prune{sparsity=0.5}", "--passes", "quantize{weight_bits=16}",
        "--calibration", DIGITS / "digits_calib.npz", "--eval", small_eval(tmp_path),
        "-o", out, "--workers", "2", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["target"], r["passes"]) for r in rows][:3] == [
        ("reference", ""),
        ("reference", "prune{sparsity=0.5}"),
        ("reference", "quantize{weight_bits=16}"),
    ]
    assert [bool(r["error"]) for r in rows] == [False, False, True] * 2
    assert all(r["samples"] == 40 and 0 <= r["accuracy"] <= 1 for r in rows if not r["error"])
    assert rows[2]["accuracy"] is None  # NaN becomes null
    for name in ("table.csv", "table.parquet", "report.html"):
        assert (out / name).stat().st_size > 0
    assert len(list((out / "cache").glob("*.json"))) == 6


def test_bad_target_one_error_line_nothing_written(tmp_path):
    out = tmp_path / "out"
    proc = run(DIGITS / "digits.nir", "--dt", "1e-4", "-t", "nochip", "--eval",
               small_eval(tmp_path), "-o", out)  # fmt: skip
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "nochip" in errors[0] and "Traceback" not in proc.stderr
    assert not out.exists()
    both = run(DIGITS / "digits.nir", "--dt", "1e-4", "--eval", small_eval(tmp_path),
               "-o", out, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1")  # fmt: skip
    assert both.returncode == 2 and "not both" in both.stderr
