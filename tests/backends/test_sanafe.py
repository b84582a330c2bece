"""SANA-FE, an independent architecture simulator fitted to Loihi, on the same mapped program:
it counts the same events and its energy and latency fall inside neurocomp's band."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.program.folder import _toml_shape
from neurocomp.target import load_target, spec_from_dict

from conftest import EXAMPLES

pytest.importorskip("sanafe")


def _program(neurons_per_core: int):
    raw = _toml_shape(load_target("reference").to_dict())
    raw["core"]["neurons"] = neurons_per_core
    spec = spec_from_dict(raw, f"reference with {neurons_per_core} neurons per core")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        return nc.compile(EXAMPLES / "digits" / "digits.nir", target=spec)


@pytest.mark.parametrize("neurons_per_core", [1024, 24])  # one core; six cores over tiles
def test_sanafe_counts_the_same_events_and_lands_in_the_band(neurons_per_core):
    prog = _program(neurons_per_core)
    x = np.load(EXAMPLES / "digits" / "digits_test.npz")["x"][:, :3]
    ours = prog.energy(x).to_dict()
    theirs = prog.energy(x, engine="sanafe").to_dict()
    assert theirs["cores"] == prog.summary["cores_used"]
    assert theirs["synaptic_events"] == ours["synops"]
    messages = ours["messages_local"] + ours["messages_remote"] + ours["messages_input"]
    assert theirs["messages"] == messages
    assert theirs["hops"] == ours["hops"]
    if neurons_per_core < 138:
        assert ours["hops"] > 0
    # SANA-FE updates every neuron every step, and the replaying somas when they fire
    assert theirs["updated"] == ours["neuron_updates"] + theirs["fired"]
    lo, hi = ours["dynamic_per_inference_low_j"], ours["dynamic_per_inference_high_j"]
    assert lo <= theirs["energy_per_inference_j"] <= hi
    assert ours["chip_latency_low_s"] <= theirs["latency_s"] <= ours["chip_latency_high_s"]


def test_sanafe_refuses_what_it_cannot_model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        prog = nc.compile(EXAMPLES / "digits" / "digits.nir", chips=2)
    x = np.load(EXAMPLES / "digits" / "digits_test.npz")["x"][:, :1]
    with pytest.raises(nc.InputError, match="models one chip"):
        prog.energy(x, engine="sanafe")
    one = _program(1024)
    with pytest.raises(nc.InputError, match="binary spikes"):
        one.energy(2 * x, engine="sanafe")
    with pytest.raises(nc.InputError, match="must be 'reference' or 'sanafe'"):
        one.energy(x, engine="brian")
