"""The command line: outputs, one-line errors with exit status 2, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nir
import numpy as np
import pytest

from conftest import EXAMPLES, zoo_file

DIGITS = EXAMPLES / "digits" / "digits.nir"
DIGITS_X = EXAMPLES / "digits" / "digits_test.npz"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neurocomp.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_inspect_table():
    proc = run("inspect", DIGITS, "--dt", "1e-4")
    assert proc.returncode == 0, proc.stderr
    assert "lif1" in proc.stdout and "8192" in proc.stdout and "dt = 0.0001 s" in proc.stdout


def test_inspect_json_counts():
    proc = run("inspect", zoo_file("cnn_sinabs.nir"), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["neurons"] == 8970 and info["dt"] is None
    assert [p["kind"] for p in info["populations"]] == ["IF"] * 5


def test_inspect_warns_about_inferred_dt():
    proc = run("inspect", DIGITS)
    assert proc.returncode == 0
    assert "warning: dt not given: inferred dt = 0.0001 s" in proc.stderr


def test_simulate_writes_outputs_and_accuracy(tmp_path):
    out = tmp_path / "y.npz"
    proc = run("simulate", DIGITS, "--input", DIGITS_X, "-o", out, "--dt", "1e-4", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    with np.load(out) as y:
        assert y["output"].shape == (25, 397, 10)
        assert summary["outputs"]["output"]["total"] == float(y["output"].sum())
    assert summary["accuracy"] > 0.9
    assert [p.name for p in tmp_path.iterdir()] == ["y.npz"]  # no temporary file left


def test_reset_option_changes_the_network(tmp_path):
    path = zoo_file("braille_noDelay_noBias_subtract.nir")
    x = tmp_path / "x.npz"
    np.savez(x, x=(np.random.default_rng(0).random((80, 3, 12)) < 0.3).astype(np.uint8))
    totals = {}
    for mode in ("zero", "subtract"):
        proc = run("simulate", path, "--input", x, "--dt", "1e-4", "--reset", mode, "--json")
        assert proc.returncode == 0, proc.stderr
        totals[mode] = json.loads(proc.stdout)["spikes"]["lif1.lif"]
    assert totals["zero"] != totals["subtract"]


def test_missing_file():
    assert_one_line_error(
        run("inspect", "does-not-exist.nir"), "does-not-exist.nir", "no such file"
    )


def test_not_hdf5(tmp_path):
    path = tmp_path / "x.nir"
    path.write_text("hello")
    assert_one_line_error(run("inspect", path), "not an HDF5 file")


def test_unknown_nodes_all_listed(tmp_path):
    import h5py

    path = tmp_path / "u.nir"
    nir.write(path, nir.read(DIGITS))
    with h5py.File(path, "r+") as f:
        for name in ("lif1", "lif2"):
            del f[f"node/nodes/{name}/type"]
            f[f"node/nodes/{name}/type"] = b"Izhikevich"
    assert_one_line_error(run("inspect", path), "'lif1' (Izhikevich)", "'lif2' (Izhikevich)")


def test_shape_mismatch_names_edge(tmp_path):
    g = nir.read(DIGITS)
    g.nodes["fc2"] = nir.Affine(weight=np.ones((11, 128)), bias=np.zeros(11))
    path = tmp_path / "bad.nir"
    nir.write(path, g)
    assert_one_line_error(run("inspect", path, "--dt", "1e-4"), "'fc2' -> 'lif2'", "(11,)", "(10,)")


@pytest.mark.parametrize(
    "value,needle",
    [
        (np.nan, "must be finite"),
        (np.inf, "must be finite"),
        (-1e-3, "must be > 0"),
        (0.0, "must be > 0"),
    ],
)
def test_bad_time_constant(tmp_path, value, needle):
    g = nir.read(DIGITS)
    tau = np.array(g.nodes["lif1"].tau)
    tau[5] = value
    g.nodes["lif1"].tau = tau
    path = tmp_path / "bad.nir"
    nir.write(path, g)
    assert_one_line_error(run("inspect", path, "--dt", "1e-4"), "'lif1'", "tau", needle)


def test_missing_dt(tmp_path):
    assert_one_line_error(run("inspect", zoo_file("lif_norse.nir")), "--dt SECONDS")


def test_bad_input_file(tmp_path):
    x = tmp_path / "x.npz"
    np.savez(x, x=np.zeros((5, 2, 63)))
    out = tmp_path / "y.npz"
    proc = run("simulate", DIGITS, "--input", x, "-o", out, "--dt", "1e-4")
    assert_one_line_error(proc, "expected shape (T, batch, 64)")
    assert not out.exists()


def test_bad_reset_value():
    assert_one_line_error(run("inspect", DIGITS, "--reset", "half"), "reset = half")


def test_passes_on_the_command_line_match_the_api(tmp_path):
    import neurocomp as nc
    from neurocomp.analysis import accuracy

    calib = EXAMPLES / "digits" / "digits_calib.npz"
    pipeline = "quantize{weight_bits=8},prune{sparsity=0.5}"
    proc = run(
        "simulate",
        DIGITS,
        "--input",
        DIGITS_X,
        "--dt",
        "1e-4",
        "--passes",
        pipeline,
        "--calibration",
        calib,
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    c, t = np.load(calib), np.load(DIGITS_X)
    net = nc.transform(
        nc.load(DIGITS, dt=1e-4), pipeline, calibration=c["x"], labels=c["labels"]
    ).network
    assert summary["accuracy"] == accuracy(nc.simulate(net, t["x"]), t["labels"])
    from neurocomp.passes import parse_pipeline

    reported = ",".join(r["pass"] for r in summary["passes"])
    assert parse_pipeline(reported) == parse_pipeline(pipeline)


def test_bad_pipeline_is_one_line():
    assert_one_line_error(run("inspect", DIGITS, "--passes", "prune{x=1}"), "unknown option(s)")
