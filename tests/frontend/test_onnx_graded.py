"""Graded ONNX conversion (`load_onnx(..., max_spikes=G)`): multi-spike IF layers with cap G,
biases carried by a chain of bias neurons, an integrator readout and `graded_code` input. The
figure of examples/onnx_digits/README.md: at T = 6 the loihi2 program reaches the binary
version's 98.49 % (T = 25); chips without a spike payload refuse it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.errors import InputError, ParameterError, ResourceLimitError
from neurocomp.frontend.onnx_frontend import graded_code, load_onnx
from neurocomp.present.metrics import accuracy
from neurocomp.target import load_target

from conftest import EXAMPLES, onnx_digits_split

pytest.importorskip("onnx")

SHIPPED = EXAMPLES / "onnx_digits" / "digits_ann.onnx"
BINARY_T25 = 0.9849  # examples/onnx_digits/README.md: float and reference chip at T = 25


@pytest.fixture(scope="module")
def digits():
    return onnx_digits_split()


@pytest.fixture(scope="module")
def graded(digits):
    return load_onnx(SHIPPED, calibration=digits[0], max_spikes=16)


def test_graded_code_quantises_every_step() -> None:
    x = np.array([[0.0, 0.49, 0.51, 1.0]])
    got = graded_code(x, 3, 4)
    assert got.shape == (3, 1, 4) and got.dtype == np.int64
    np.testing.assert_array_equal(got[2], [[0, 2, 2, 4]])
    for bad in ({"x01": x * 2}, {"steps": 0}, {"levels": 0}, {"levels": 2.5}):
        args = {"x01": x, "steps": 3, "levels": 4, **bad}
        with pytest.raises(InputError, match="graded_code"):
            graded_code(**args)


def test_graded_network_structure(graded, digits) -> None:
    pops = {p.name: p for p in graded.populations}
    chain = [n for n in pops if n.startswith("graded_bias.")]
    assert chain == [f"graded_bias.{d}" for d in range(1, 5)]  # one per depth
    hidden = [p for n, p in pops.items() if n not in chain and n != "logits"]
    assert all(p.params.max_spikes == 16 and p.params.reset == "subtract" for p in hidden)
    assert all(not np.any(p.params.v_bias) for p in hidden)  # biases travel as spikes
    assert pops["logits"].kind == "I" and not pops["logits"].params.spiking
    assert graded.metadata["spikes"] == "graded" and graded.metadata["max_spikes"] == 16
    binary = load_onnx(SHIPPED, calibration=digits[0])
    assert not any(p.name.startswith("graded_bias") for p in binary.populations)
    assert "spikes" not in binary.metadata


@pytest.mark.parametrize("bad", [0, None, True, 2.0])
def test_max_spikes_must_be_a_whole_cap(bad, digits) -> None:
    with pytest.raises(ParameterError, match="max_spikes"):
        load_onnx(SHIPPED, calibration=digits[0][:50], max_spikes=bad)


def test_graded_calibration_trains(digits) -> None:
    trains = graded_code(digits[0][:100], 4, 16)
    net = load_onnx(SHIPPED, calibration=trains, max_spikes=16)
    assert net.metadata["max_spikes"] == 16
    with pytest.raises(InputError, match="values 0..8"):
        load_onnx(SHIPPED, calibration=trains, max_spikes=8)


def test_graded_reaches_binary_accuracy_in_a_quarter_of_the_steps(graded, digits) -> None:
    _, x_test, _, y_test = digits
    x = graded_code(x_test, 6, 16)
    assert accuracy(nc.simulate(graded, x), y_test) >= BINARY_T25
    prog = nc.compile(graded, target="loihi2")
    assert accuracy(prog.simulate(x), y_test) >= BINARY_T25


def test_chips_without_payload_refuse_graded(graded, digits) -> None:
    with pytest.raises(ResourceLimitError, match="spikes per step needed up to 16"):
        nc.compile(graded, target="reference")
    spec = load_target("loihi2")
    narrow = dataclasses.replace(
        spec, format=dataclasses.replace(spec.format, spike_payload_bits=4)
    )
    with pytest.raises(ResourceLimitError, match="spike payload needed 5 bits.*available 4 bits"):
        nc.compile(graded, target=narrow)
    with pytest.raises(InputError, match="binary spikes 0 or 1"):
        nc.compile(load_onnx(SHIPPED, calibration=digits[0][:50])).simulate(
            graded_code(digits[1][:2], 2, 16)
        )


def test_api_and_cli_reach_the_graded_mode(tmp_path, digits) -> None:
    from typer.testing import CliRunner

    from neurocomp.cli import app

    x_train, x_test, _, y_test = digits
    net = nc.load(SHIPPED, calibration=x_train[:200], max_spikes=16)
    assert net.metadata["spikes"] == "graded"
    with pytest.raises(ParameterError, match="framework"):
        nc.load(SHIPPED, calibration=x_train[:200], framework="sinabs")
    cal, test = tmp_path / "cal.npz", tmp_path / "test.npz"
    np.savez(cal, x=nc.graded_code(x_train, 6, 16))
    np.savez(test, x=nc.graded_code(x_test, 6, 16), labels=y_test)
    run = CliRunner().invoke
    out = str(tmp_path / "b")
    args = ["compile", str(SHIPPED), "--calibration", str(cal), "--max-spikes", "16"]
    res = run(app, [*args, "--target", "loihi2", "-o", out])
    assert res.exit_code == 0, res.output
    res = run(app, ["simulate", out, "--input", str(test), "--json"])
    assert res.exit_code == 0, res.output
    assert '"accuracy"' in res.output
    res = run(app, [*args, "-o", str(tmp_path / "r")])  # the reference chip: no payload
    assert res.exit_code == 2 and "spikes per step" in res.output
