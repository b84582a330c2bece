"""Pipelines are data: strings and pass lists, option errors, reports, no mutation."""

from __future__ import annotations

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.passes import Prune, Quantize, describe, parse_pipeline

from graphs import every_primitive


def test_parse_string_and_options():
    passes = parse_pipeline("quantize{weight_bits=4,granularity=channel},prune{sparsity=0.5}")
    assert passes == [Quantize(weight_bits=4, granularity="channel"), Prune(sparsity=0.5)]
    assert [describe(p) for p in passes] == [
        "quantize{weight_bits=4,granularity=channel}",
        "prune{sparsity=0.5}",
    ]
    assert parse_pipeline("fold, merge{tol=0.001}")[1].tol == 0.001


@pytest.mark.parametrize(
    "text,needle",
    [
        ("quantise", "unknown pass 'quantise'"),
        ("quantize{bits=8}", "unknown option(s) ['bits']"),
        ("quantize{weight_bits=1}", "weight_bits = 1"),
        ("prune{sparsity=1.5}", "sparsity = 1.5"),
        ("prune", "exactly one of sparsity= or threshold="),
        ("quantize{weight_bits}", "is not key=value"),
        ("quantize{{", "cannot parse pipeline"),
        # an int option given a float the pass's own range check would convert (int(inf)
        # raised OverflowError, a traceback)
        ("quantize{weight_bits=inf}", "weight_bits = inf (float); expected a whole number"),
        ("quantize{weight_bits=-inf}", "weight_bits = -inf (float)"),
        ("quantize{weight_bits=1e400}", "weight_bits = inf (float)"),
        ("quantize{weight_bits=true}", "weight_bits = True (bool)"),
        ("quantize{weight_bits=4,granularity=channel,percentile=nan}", "a finite number"),
        ("prune_gradual{sparsity=0.5,steps=inf}", "steps = inf (float)"),
        ("finetune{epochs=inf}", "epochs = inf (float)"),
        ("finetune{seed=-1}", "seed = -1 (must be in [0, 2**63))"),
        ("finetune{seed=1180591620717411303424}", "must be in [0, 2**63)"),
        ("finetune{temperature=0}", "temperature = 0 (must be > 0)"),
        ("finetune{distill=2}", "distill = 2 (must be in [0, 1])"),
        # which of two values was meant cannot be guessed (the last one won silently)
        ("prune{sparsity=0.5,sparsity=0.6}", "option 'sparsity' given twice"),
    ],
)
def test_bad_pipelines(text, needle):
    with pytest.raises(nc.PassError) as info:
        parse_pipeline(text)
    assert needle in str(info.value)


def test_string_and_objects_give_the_same_network():
    graph, shape = every_primitive(np.random.default_rng(0))["recurrent"]
    net = nc.load(graph, dt=1e-4)
    a = nc.transform(net, "quantize{weight_bits=6},prune{sparsity=0.3}").network
    b = nc.transform(net, [Quantize(weight_bits=6), Prune(sparsity=0.3)]).network
    x = (np.random.default_rng(1).random((50, 2, *shape)) < 0.4).astype(float)
    np.testing.assert_array_equal(nc.simulate(a, x), nc.simulate(b, x))


def test_transform_reports_and_does_not_mutate():
    graph, shape = every_primitive(np.random.default_rng(0))["LIF"]
    net = nc.load(graph, dt=1e-4)
    weight_before = net.projections[0].ops[0].weight.copy()
    result = nc.transform(net, "quantize{weight_bits=4},prune{sparsity=0.5}")
    np.testing.assert_array_equal(net.projections[0].ops[0].weight, weight_before)
    assert [r["pass"] for r in result.reports] == ["quantize{weight_bits=4}", "prune{sparsity=0.5}"]
    assert result.reports[0]["folded_first"] is True
    assert result.reports[1]["synapses_after"] == result.reports[1]["synapses_before"] // 2
    assert result.pipeline == "quantize{weight_bits=4},prune{sparsity=0.5}"


def test_calibration_required_message():
    graph, _ = every_primitive(np.random.default_rng(0))["LIF"]
    net = nc.load(graph, dt=1e-4)
    with pytest.raises(nc.PassError, match="needs calibration input"):
        nc.transform(net, "prune_neurons{silent=false}")
    with pytest.raises(nc.PassError, match="needs labelled calibration"):
        nc.transform(net, "prune{sparsity=0.5,max_drop=0.01}", calibration=np.zeros((3, 1, 5)))
