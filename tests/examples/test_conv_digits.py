"""The shipped conv SNN example: loads, and classifies the held-out digits as measured."""

from __future__ import annotations

import warnings

import numpy as np

import neurocomp as nc
from neurocomp.analysis.metrics import accuracy

from conftest import EXAMPLES


def test_conv_digits_accuracy_on_the_test_spikes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(EXAMPLES / "conv_digits" / "conv_digits.nir")
    test = np.load(EXAMPLES / "digits" / "digits_test.npz")
    x = test["x"].reshape(25, -1, 1, 8, 8)
    assert [p.shape for p in net.populations] == [(8, 8, 8), (10,)]
    acc = accuracy(nc.simulate(net, x), test["labels"])
    assert abs(acc - 0.9622) <= 0.01  # the README figure (float: a spike at threshold may differ)
