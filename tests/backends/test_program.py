"""Compiling the shipped digits model for the reference chip: accuracy, synops, save/load."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.analysis import accuracy

from conftest import EXAMPLES

DIGITS = EXAMPLES / "digits"


@pytest.fixture(scope="module")
def digits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(DIGITS / "digits.nir")
    test, calib = np.load(DIGITS / "digits_test.npz"), np.load(DIGITS / "digits_calib.npz")
    prog = nc.compile(net, calibration=calib["x"])
    return net, prog, test["x"], test["labels"]


def test_bit_accurate_accuracy_within_one_point_of_float(digits):
    net, prog, x, labels = digits
    float_acc = accuracy(nc.simulate(net, x), labels)
    chip_acc = accuracy(prog.simulate(x), labels)
    assert abs(chip_acc - float_acc) <= 0.01, (chip_acc, float_acc)


def test_first_layer_synops_are_input_spikes_times_fan_out(digits):
    _, prog, x, _ = digits
    report = prog.energy(x).to_dict()
    first = report["layers"][0]
    assert first["name"] == "lif1"
    w = prog.net.projections_into("lif1")[0].weight
    fan_out = np.diff(w.tocsc().indptr)  # synapses leaving each input pixel
    expected = int((x.astype(np.int64).sum(axis=(0, 1)) * fan_out).sum())
    assert first["synops"] == expected
    assert report["input_spikes"] == int(x.sum())


def test_cores_used_against_the_lower_bound(digits):
    _, prog, _, _ = digits
    s = prog.summary
    assert s["cores_used"] >= s["cores_lower_bound"] >= 1
    assert s["cores_used"] == 1  # 138 neurons and 9.4k synapses fit one Loihi-1-sized core
    for row in prog.mapping.usage_table(prog.target):
        for key in ("neurons", "synapse_bits", "input_axons", "output_axons", "fan_in"):
            used, limit = row[key]
            assert 0 <= used <= limit


def test_summary_json_fields(digits):
    _, prog, _, _ = digits
    for key in (
        "target",
        "cores_used",
        "cores_available",
        "neurons",
        "synapses",
        "synapses_input",
        "weight_bits",
    ):
        assert key in prog.summary
    assert prog.summary["synapses_input"] == 64 * 128 + 128 * 10
    assert prog.summary["weight_bits"] == 8


def test_save_load_round_trip(digits, tmp_path):
    _, prog, x, _ = digits
    prog.save(tmp_path / "build")
    again = nc.load_program(tmp_path / "build")
    np.testing.assert_array_equal(again.simulate(x[:, :50]), prog.simulate(x[:, :50]))
    assert again.summary == prog.summary
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["arrays.npz", "program.json"]


def test_save_refuses_a_foreign_folder(digits, tmp_path):
    _, prog, _, _ = digits
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(nc.NeurocompError, match="not a neurocomp program folder"):
        prog.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_integer_inputs_required(digits):
    _, prog, x, _ = digits
    with pytest.raises(nc.InputError, match="integer spike counts"):
        prog.simulate(x * 0.5)


COMPILE = """
import sys, warnings, numpy as np, neurocomp as nc
warnings.simplefilter("ignore")
calib = np.load(sys.argv[2])["x"]
nc.compile(sys.argv[1], calibration=calib).save(sys.argv[3])
"""


def test_compile_is_deterministic_across_processes(tmp_path):
    outs = []
    for k in range(2):
        out = tmp_path / f"b{k}"
        subprocess.run(
            [
                sys.executable,
                "-c",
                COMPILE,
                str(DIGITS / "digits.nir"),
                str(DIGITS / "digits_calib.npz"),
                str(out),
            ],
            check=True,
            timeout=300,
        )
        outs.append({p.name: p.read_bytes() for p in out.iterdir()})
    assert outs[0] == outs[1]
