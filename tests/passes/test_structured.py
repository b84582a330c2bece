"""prune_neurons and merge: planted dead, silent and duplicate neurons are found exactly."""

from __future__ import annotations

import warnings

import nir
import numpy as np

import neurocomp as nc
from neurocomp.analysis import accuracy
from neurocomp.passes import silent_neurons
from neurocomp.passes.fold import matrix_of

from conftest import EXAMPLES

DIGITS = EXAMPLES / "digits"


def _digits_graph() -> nir.NIRGraph:
    return nir.read(DIGITS / "digits.nir")


def _load(g):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        return nc.load(g)


def _data(name):
    d = np.load(DIGITS / f"digits_{name}.npz")
    return d["x"], d["labels"]


def test_planted_silent_neurons_are_proven_silent():
    """Neurons whose incoming weights are all <= 0 and bias <= 0 can never reach threshold."""
    g = _digits_graph()
    planted = np.array([3, 17, 40, 99])
    w, b = np.array(g.nodes["fc1"].weight), np.array(g.nodes["fc1"].bias)
    w[planted] = -np.abs(w[planted])
    b[planted] = -np.abs(b[planted])
    g.nodes["fc1"] = nir.Affine(weight=w, bias=b)
    net = _load(g)
    folded = nc.transform(net, "fold").network
    silent = silent_neurons(folded)
    np.testing.assert_array_equal(np.flatnonzero(silent["lif1"]), planted)
    assert not silent["lif2"].any()
    res = nc.transform(net, "prune_neurons{dead=false}")
    assert res.network.population("lif1").size == 128 - planted.size
    assert res.reports[0]["layers"][0]["removed_silent"] == planted.size
    x, _ = _data("test")
    np.testing.assert_array_equal(nc.simulate(res.network, x), nc.simulate(net, x))


def test_dead_neurons_on_calibration_are_all_removed():
    net = _load(_digits_graph())
    xc, _ = _data("calib")
    trace = nc.simulate(net, xc, record=True)
    dead = int((trace.spikes["lif1"].sum(axis=(0, 1)) == 0).sum())
    assert dead > 0  # the shipped model has neurons that never fire on its calibration data
    res = nc.transform(net, "prune_neurons", calibration=xc)
    pruned = res.network
    assert pruned.population("lif1").size == 128 - dead
    assert res.reports[0]["neurons_removed"] == dead
    after = nc.simulate(pruned, xc, record=True)
    assert (after.spikes["lif1"].sum(axis=(0, 1)) > 0).all()  # no dead neuron left
    np.testing.assert_array_equal(after.outputs["output"], trace.outputs["output"])
    x, labels = _data("test")  # held out: removing calibration-dead neurons kept accuracy here
    assert accuracy(nc.simulate(pruned, x), labels) == accuracy(nc.simulate(net, x), labels)


def test_merge_recovers_planted_duplicates_exactly():
    """Duplicate 30 hidden neurons (same incoming weights and parameters), splitting each one's
    outgoing weights at random between the copies: merge must give back exactly 128 neurons and
    the same outputs."""
    g = _digits_graph()
    rng = np.random.default_rng(0)
    dup = rng.choice(128, 30, replace=False)
    fc1, lif1, fc2 = g.nodes["fc1"], g.nodes["lif1"], g.nodes["fc2"]
    order = np.concatenate([np.arange(128), dup])
    share = rng.uniform(0.2, 0.8, dup.size)
    w2 = np.array(fc2.weight)[:, order]
    w2[:, dup] *= share
    w2[:, 128:] *= 1 - share
    g.nodes["fc1"] = nir.Affine(weight=np.array(fc1.weight)[order], bias=np.array(fc1.bias)[order])
    g.nodes["lif1"] = nir.LIF(
        **{
            k: np.array(getattr(lif1, k))[order]
            for k in ("tau", "r", "v_leak", "v_threshold", "v_reset")
        }
    )
    g.nodes["fc2"] = nir.Affine(weight=w2, bias=np.array(fc2.bias))
    original, expanded = _load(_digits_graph()), _load(g)
    assert expanded.population("lif1").size == 158
    merged = nc.transform(expanded, "merge")
    assert merged.network.population("lif1").size == 128
    assert merged.reports[0]["neurons_merged"] == 30
    x, _ = _data("test")
    y0, y1 = nc.simulate(original, x), nc.simulate(merged.network, x)
    np.testing.assert_allclose(y1, y0)
    folded = nc.transform(original, "fold").network  # the copies' shares add back up
    np.testing.assert_allclose(
        matrix_of(merged.network.projections[1]).weight.toarray(),
        matrix_of(folded.projections[1]).weight.toarray(),
        atol=1e-12,
    )


def test_merge_keeps_distinct_neurons():
    net = _load(_digits_graph())
    assert nc.transform(net, "merge").network.population("lif1").size == 128
