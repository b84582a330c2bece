"""Sigma-delta ONNX conversion (`load_onnx(..., neurons="sigma_delta")`): ReLU layers as
sigma-delta neurons sending signed activation changes, one bias neuron per layer, a unit
(identity) readout whose summed payloads are the logits, and `sigma_delta_code` input (the
image in the first step). The figure of examples/onnx_digits/README.md: the loihi2 program
reaches the binary version's 98.49 % (T = 25) at T = 5; chips without a payload refuse it."""

from __future__ import annotations

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.errors import InputError, ParameterError, ResourceLimitError
from neurocomp.frontend.onnx_frontend import load_onnx, sigma_delta_code
from neurocomp.present.metrics import accuracy

from conftest import EXAMPLES, onnx_digits_split

pytest.importorskip("onnx")

SHIPPED = EXAMPLES / "onnx_digits" / "digits_ann.onnx"
BINARY_T25 = 391 / 397 - 1e-9  # 98.49 %: README.md, binary float and reference chip at T = 25


@pytest.fixture(scope="module")
def digits():
    return onnx_digits_split()


@pytest.fixture(scope="module")
def sd_net(digits):
    return load_onnx(SHIPPED, calibration=digits[0], neurons="sigma_delta")


def test_sigma_delta_code_carries_the_image_once() -> None:
    x = np.array([[0.0, 0.5, 1.0]])
    got = sigma_delta_code(x, 3, 10)
    assert got.shape == (3, 1, 3) and got.dtype == np.int64
    np.testing.assert_array_equal(got[0], [[0, 5, 10]])
    assert not got[1:].any()
    with pytest.raises(InputError, match="steps"):
        sigma_delta_code(x, 0)


def test_sigma_delta_network_structure(sd_net) -> None:
    pops = {p.name: p for p in sd_net.populations}
    assert {p.kind for p in pops.values()} == {"SigmaDelta"}
    layers = ["2.Relu", "6.Relu", "11.Relu", "logits"]
    assert [n for n in pops if not n.endswith(".bias")] == layers
    assert [pops[n].params.sigma_delta for n in layers] == ["relu"] * 3 + ["unit"]
    for name in layers:  # a bias neuron each, sending once, into that layer only
        bias = pops[f"{name}.bias"].params
        assert bias.sigma_delta == "unit" and bias.v_bias[0] == bias.v_threshold[0] >= 1
        assert [pr.post for pr in sd_net.projections if pr.pre == f"{name}.bias"] == [name]
        p = pops[name].params
        assert p.payload_unit is not None and np.all(p.v_threshold == p.payload_unit)
        assert np.all(p.v_bias == 0)  # biases come through synapses
    assert sd_net.metadata["neurons"] == "sigma_delta"


def test_sigma_delta_reaches_binary_accuracy_in_five_steps(sd_net, digits) -> None:
    _, x_test, _, y_test = digits
    prog = nc.compile(sd_net, target="loihi2")
    assert max(p.state_exp for p in prog.net.populations) == 6  # SD_UNIT_PER_PEAK: 64 / 127
    x = sigma_delta_code(x_test, 5)
    assert accuracy(nc.simulate(sd_net, x), y_test) >= BINARY_T25
    assert accuracy(prog.simulate(x), y_test) >= BINARY_T25
    # four projections, each a step late on loihi2: at T = 4 the readout has nothing yet
    assert accuracy(prog.simulate(sigma_delta_code(x_test, 4)), y_test) < 0.2


def test_reference_chip_refuses_sigma_delta(sd_net) -> None:
    with pytest.raises(ResourceLimitError) as err:
        nc.compile(sd_net, target="reference")
    text = str(err.value)
    assert "layer '2.Relu': sigma-delta payload needed 18 bits (signed)" in text
    assert "available 0 bits" in text
    assert "neuron model needed SigmaDelta" in text


def test_sigma_delta_option_refusals(digits) -> None:
    cal = digits[0]
    with pytest.raises(ParameterError, match="neurons"):
        load_onnx(SHIPPED, calibration=cal, neurons="lif")
    with pytest.raises(ParameterError, match="max_spikes"):
        load_onnx(SHIPPED, calibration=cal, neurons="sigma_delta", max_spikes=4)
    with pytest.raises(ParameterError, match="readout"):
        load_onnx(SHIPPED, calibration=cal, neurons="sigma_delta", readout="spikes")
    with pytest.raises(ParameterError, match="levels"):
        load_onnx(SHIPPED, calibration=cal, neurons="sigma_delta", levels=0)


def test_load_and_cli_reach_sigma_delta(digits, tmp_path) -> None:
    from typer.testing import CliRunner

    from neurocomp.cli import app

    net = nc.load(SHIPPED, calibration=digits[0][:200], neurons="sigma_delta")
    assert net.metadata["neurons"] == "sigma_delta"
    np.savez(tmp_path / "cal.npz", x=sigma_delta_code(digits[0][:200], 5))
    out = tmp_path / "build"
    res = CliRunner().invoke(
        app,
        ["compile", str(SHIPPED), "--calibration", str(tmp_path / "cal.npz"),
         "--neurons", "sigma-delta", "--target", "loihi2", "-o", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert nc.load_program(out).net.population("logits").sigma_delta == "unit"
