"""examples/onnx_digits, graded: the G = 16 conversion compiled for loihi2 gives identical
spikes (counts) and outputs in Lava's own simulation and in neurocomp's bit-accurate engine, on
4 test images x 6 steps (Lava is slow); examples/onnx_digits/graded_steps.py --lava does the
same from the command line."""

from __future__ import annotations

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.backends.lava_compat import lava_available
from neurocomp.frontend.onnx_frontend import graded_code, load_onnx

from conftest import EXAMPLES
from lava_agree import digits_split, engines_agree

pytest.importorskip("onnx")
pytestmark = pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")


def test_graded_digits_identical_in_lava() -> None:
    x_train, x_test = digits_split()
    net = load_onnx(
        EXAMPLES / "onnx_digits" / "digits_ann.onnx", calibration=x_train, max_spikes=16
    )
    prog = nc.compile(net, target="loihi2")
    xs = graded_code(x_test[:4], 6, 16)
    ours = engines_agree(prog, xs)
    assert max(int(s.max()) for s in ours.spikes.values()) > 1  # graded: counts above 1
    assert np.any(ours.outputs["logits"][-1] != 0)  # the readout has received the pipeline
