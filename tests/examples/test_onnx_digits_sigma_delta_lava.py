"""examples/onnx_digits, sigma-delta: the `neurons="sigma_delta"` conversion compiled for loihi2
gives identical signed payloads, activations and outputs in Lava's own SigmaDelta processes and
in neurocomp's bit-accurate engine, on 4 test images x 6 steps (Lava is slow);
examples/onnx_digits/sigma_delta_steps.py --lava does the same from the command line."""

from __future__ import annotations

import pytest

import neurocomp as nc
from neurocomp.backends.lava_compat import lava_available
from neurocomp.frontend.onnx_frontend import load_onnx, sigma_delta_code

from conftest import EXAMPLES
from lava_agree import digits_split, engines_agree

pytest.importorskip("onnx")
pytestmark = pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")


def test_sigma_delta_digits_identical_in_lava() -> None:
    x_train, x_test = digits_split()
    net = load_onnx(
        EXAMPLES / "onnx_digits" / "digits_ann.onnx", calibration=x_train, neurons="sigma_delta"
    )
    prog = nc.compile(net, target="loihi2")
    xs = sigma_delta_code(x_test[:4], 6)
    ours = engines_agree(prog, xs)
    assert any((s < 0).any() for s in ours.spikes.values())  # signed payloads: some fell
