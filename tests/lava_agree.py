"""Shared by the tests that hold neurocomp's bit-accurate engine against Lava's own simulation
of the same program: every population's spikes (graded counts, signed payloads) and voltages,
and every output, equal."""

from __future__ import annotations

from typing import Any

import numpy as np


def engines_agree(prog: Any, x: np.ndarray) -> Any:
    """Run `prog` on `x` in both engines, assert equality, return neurocomp's recording."""
    ours = prog.outputs(x, "reference", record=True)
    lava = prog.outputs(x, "lava", record=True)
    assert set(ours.spikes) == set(lava.spikes)
    for name in ours.spikes:
        np.testing.assert_array_equal(ours.spikes[name], lava.spikes[name], err_msg=name)
        np.testing.assert_array_equal(ours.v[name], lava.v[name], err_msg=name)
    assert set(ours.outputs) == set(lava.outputs)
    for name in ours.outputs:
        np.testing.assert_array_equal(ours.outputs[name], lava.outputs[name], err_msg=name)
    return ours


def digits_split() -> tuple[np.ndarray, np.ndarray]:
    """The ONNX example's ANN inputs (n, 1, 8, 8) in [0, 1]: train and the 397-image test split
    (stratified, random_state 0, as examples/onnx_digits/train_ann.py)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    x_train, x_test, _, _ = train_test_split(
        x, d.target, test_size=397, random_state=0, stratify=d.target
    )
    return x_train, x_test
