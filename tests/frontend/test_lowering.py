"""Every NIR primitive lowers, and the float simulator matches the independent NIR oracle."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neurocomp as nc

from graphs import every_primitive
from nir_oracle import Oracle

DT = 1e-4
CASES = every_primitive(np.random.default_rng(7))


def _spikes(shape, rng, rate=0.3, steps=60, batch=3):
    return (rng.random((steps, batch, *shape)) < rate).astype(np.float64)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_primitive_matches_oracle(name, reset):
    graph, in_shape = CASES[name]
    x = _spikes(in_shape, np.random.default_rng(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(graph, dt=DT, reset=reset)
    ours = nc.simulate(net, x)
    ref = Oracle(graph, DT, reset).run(x)["output"]
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)
    # A test that can fail: the graphs must produce activity.
    assert np.abs(ref).sum() > 0, f"{name}: the test graph is silent"


def test_every_nir_primitive_is_covered():
    import nir

    names = {
        "Input",
        "Output",
        "Affine",
        "Linear",
        "Scale",
        "Conv1d",
        "Conv2d",
        "SumPool2d",
        "AvgPool2d",
        "Flatten",
        "Delay",
        "Threshold",
        "I",
        "IF",
        "LI",
        "LIF",
        "CubaLI",
        "CubaLIF",
        "NIRGraph",
    }
    assert names <= set(nir.ir.__all__) | {"NIRGraph"}
    covered = set()
    for graph, _ in CASES.values():
        stack = [graph]
        while stack:
            g = stack.pop()
            for node in g.nodes.values():
                covered.add(type(node).__name__)
                if isinstance(node, nir.NIRGraph):
                    stack.append(node)
    assert names <= covered, names - covered


def test_merge_counts_bias_once():
    graph, in_shape = CASES["merge"]
    net = nc.load(graph, dt=DT)
    into_m = [p for p in net.projections if p.post == "b"]
    biases = [op.bias is not None for p in into_m for op in p.ops if hasattr(op, "bias")]
    assert sorted(biases) == [False, True]


def test_recurrent_edge_is_marked_and_delayed():
    graph, _ = CASES["recurrent"]
    net = nc.load(graph, dt=DT)
    rec = [p for p in net.projections if p.recurrent]
    assert [(p.pre, p.post) for p in rec] == [("l1.lif", "l1.lif")]
    assert [p.name for p in net.populations] == ["l1.lif", "l2"]


def test_float32_close_to_float64():
    graph, in_shape = CASES["LIF"]
    net = nc.load(graph, dt=DT)
    x = _spikes(in_shape, np.random.default_rng(3))
    tr64 = nc.simulate(net, x, record=True)
    tr32 = nc.simulate(net, x, record=True, dtype=np.float32)
    assert tr32.v["lif"].dtype == np.float32
    np.testing.assert_allclose(tr32.v["lif"], tr64.v["lif"], atol=1e-4)


def test_record_gives_every_population():
    graph, in_shape = CASES["recurrent"]
    net = nc.load(graph, dt=DT)
    x = _spikes(in_shape, np.random.default_rng(4), steps=20)
    tr = nc.simulate(net, x, record=True)
    assert set(tr.spikes) == {"l1.lif", "l2"} and set(tr.u) == {"l1.lif", "l2"}
    assert tr.spikes["l1.lif"].shape == (20, 3, 6)
    np.testing.assert_array_equal(tr.spikes["l2"], tr.outputs["output"])
