"""examples/onnx_digits, sigma-delta: the `neurons="sigma_delta"` conversion compiled for loihi2
gives identical signed payloads, activations and outputs in Lava's own SigmaDelta processes and
in neurocomp's bit-accurate engine, on 4 test images x 6 steps (Lava is slow);
examples/onnx_digits/sigma_delta_steps.py --lava does the same from the command line."""

from __future__ import annotations

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.backends.lava_compat import lava_available
from neurocomp.frontend.onnx_frontend import load_onnx, sigma_delta_code

from conftest import EXAMPLES

pytest.importorskip("onnx")
pytestmark = pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")


def test_sigma_delta_digits_identical_in_lava() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    x_train, x_test, _, _ = train_test_split(
        x, d.target, test_size=397, random_state=0, stratify=d.target
    )
    net = load_onnx(
        EXAMPLES / "onnx_digits" / "digits_ann.onnx", calibration=x_train, neurons="sigma_delta"
    )
    prog = nc.compile(net, target="loihi2")
    xs = sigma_delta_code(x_test[:4], 6)
    ours = prog.outputs(xs, "reference", record=True)
    lava = prog.outputs(xs, "lava", record=True)
    assert set(ours.spikes) == set(lava.spikes)
    for name in ours.spikes:
        np.testing.assert_array_equal(ours.spikes[name], lava.spikes[name], err_msg=name)
        np.testing.assert_array_equal(ours.v[name], lava.v[name], err_msg=name)
    for name in ours.outputs:
        np.testing.assert_array_equal(ours.outputs[name], lava.outputs[name], err_msg=name)
    assert any((s < 0).any() for s in ours.spikes.values())  # signed payloads: some fell
