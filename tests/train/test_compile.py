"""Training passes and fit in compile, the API and the command line."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

import neurocomp as nc
from neurocomp.cli import app
from neurocomp.compiler import target_pipeline
from neurocomp.target.spec import load_target

from conftest import EXAMPLES

pytest.importorskip("torch")

DIGITS = EXAMPLES / "digits"


def test_target_quantize_goes_before_the_first_training_pass():
    spec = load_target("loihi2")
    names = [p.name for p in target_pipeline("prune_gradual,finetune,prune_lottery", spec)]
    assert names == ["quantize", "prune_gradual", "finetune", "prune_lottery"]
    assert [p.name for p in target_pipeline("prune{sparsity=0.5}", spec)] == ["prune", "quantize"]
    q = target_pipeline("finetune", spec)[0]
    assert q.weight_bits == spec.format.weight_bits and q.threshold_bits == 17


def test_one_shot_prune_before_training_runs_gradually():
    spec = load_target("loihi2")
    text = "prune{sparsity=0.9},quantize{weight_bits=4},finetune{seed=3,lr=0.01}"
    out = target_pipeline(text, spec)
    assert [p.name for p in out] == ["prune_gradual", "quantize", "finetune"]
    # the finetune's shared options (seed, learning rate), prune_gradual's own epochs per step
    assert (out[0].sparsity, out[0].seed, out[0].lr, out[0].epochs) == (0.9, 3, 0.01, 30)
    kept = [
        "prune{sparsity=0.5}",
        "prune{threshold=0.2},finetune",
        "prune{sparsity=0.9,max_drop=0.01},finetune",
    ]
    for text in kept:  # nothing trains after it, or not a plain one-shot sparsity
        assert target_pipeline(text, spec)[0].name == "prune"


def test_compile_runs_a_training_pipeline_in_the_targets_arithmetic():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(DIGITS / "digits.nir")
    cal = np.load(DIGITS / "digits_calib.npz")
    x, y = cal["x"][:, :200], cal["labels"][:200]
    prog = nc.compile(net, target="loihi2", passes="finetune{epochs=1}", calibration=x, labels=y)
    names = [r["pass"].split("{")[0] for r in prog.pass_reports]
    assert names == ["quantize", "finetune"]
    assert prog.pass_reports[1]["val_samples"] == 40


def test_cli_fit(tmp_path):
    cal = np.load(DIGITS / "digits_calib.npz")
    path = tmp_path / "cal.npz"
    np.savez(path, x=cal["x"][:, :200], labels=cal["labels"][:200])
    runner = CliRunner()
    out = tmp_path / "prog"
    args = ["compile", str(DIGITS / "digits.nir"), "-o", str(out), "--calibration", str(path)]
    result = runner.invoke(app, [*args, "--fit", "cores=1,max_drop=0.2", "--json", "-q"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["pipeline"].startswith("fit{cores=1")
    assert summary["fit_path"][-1]["fits"] and summary["cores_used"] == 1
    assert nc.load_program(out).simulate(cal["x"][:, :5]).shape == (25, 5, 10)
    bad = runner.invoke(app, [*args[:2], "-o", str(tmp_path / "bad"), "--fit", "cores=1"])
    assert bad.exit_code == 2
    assert bad.stderr.strip().startswith("error: fit needs labelled calibration data")
    assert not (tmp_path / "bad").exists()
