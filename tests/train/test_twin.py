"""The differentiable twin equals the simulators spike for spike in its forward pass."""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurocomp as nc
from neurocomp.compiler import target_pipeline
from neurocomp.passes.fold import ensure_folded
from neurocomp.sim.float_sim import simulate
from neurocomp.target.spec import load_target
from neurocomp.train.twin import Twin

from conftest import EXAMPLES, zoo_file

pytest.importorskip("torch")


def _load(source, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        return nc.load(source, **kw)


def _digits():
    test = np.load(EXAMPLES / "digits" / "digits_test.npz")
    cal = np.load(EXAMPLES / "digits" / "digits_calib.npz")
    return _load(EXAMPLES / "digits" / "digits.nir"), test["x"][:, :120], cal["x"][:, :200]


def test_float_twin_equals_float_simulator_on_digits():
    net, x, _ = _digits()
    folded, _ = ensure_folded(net)
    ours = Twin(folded).run(x)["output"].detach().numpy()
    ref = simulate(folded, x).outputs["output"]
    assert ref.sum() > 100  # the comparison is about spikes that happen
    np.testing.assert_array_equal(ours, ref)


def test_float_twin_equals_float_simulator_on_a_conv_net():
    net = _load(zoo_file("cnn_sinabs.nir"), dt=1e-3)
    folded, _ = ensure_folded(net)
    rng = np.random.default_rng(0)
    x = (rng.random((8, 2, *net.inputs["input"])) < 0.3).astype(np.float64)
    ours = Twin(folded).run(x)
    trace = simulate(folded, x, record=True)
    np.testing.assert_array_equal(ours["output"].detach().numpy(), trace.outputs["output"])
    assert sum(int(s.sum()) for s in trace.spikes.values()) > 100


@pytest.mark.parametrize("target", ["reference", "loihi2"])
def test_chip_twin_equals_the_bit_accurate_program(target):
    net, x, cal = _digits()
    spec = load_target(target)
    prog = nc.compile(net, target=target, calibration=cal)
    quantized = nc.transform(net, target_pipeline(None, spec), calibration=cal).network
    ours = Twin(quantized, "chip", spec.format).run(x)["output"].detach().numpy()
    chip = prog.simulate(x)
    assert chip.sum() > 100
    np.testing.assert_array_equal(ours, chip)


NEURONS = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I")


def _neuron(kind: str, n: int, rng: np.random.Generator) -> nir.NIRNode:
    thr, zeros = rng.uniform(0.3, 1.0, n), np.zeros(n)
    tau, r = rng.uniform(2e-4, 5e-3, n), rng.uniform(0.5, 20, n)
    cuba = dict(tau_syn=rng.uniform(2e-4, 3e-3, n), tau_mem=tau, r=r, v_leak=zeros, w_in=np.ones(n))
    return {
        "LIF": lambda: nir.LIF(
            tau=tau,
            r=r,
            v_leak=rng.normal(0, 0.1, n),
            v_threshold=thr,
            v_reset=rng.uniform(-0.3, 0, n),
        ),
        "LI": lambda: nir.LI(tau=tau, r=r, v_leak=rng.normal(0, 0.1, n)),
        "CubaLIF": lambda: nir.CubaLIF(v_threshold=thr, v_reset=zeros, **cuba),
        "CubaLI": lambda: nir.CubaLI(**cuba),
        "IF": lambda: nir.IF(r=rng.uniform(0.5, 1.5, n), v_threshold=thr, v_reset=zeros),
        "I": lambda: nir.I(r=rng.uniform(0.5, 1.5, n)),
    }[kind]()


@st.composite
def cases(draw):
    """A chain of 1-3 layers with optional recurrence, a reset mode, input spikes."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    depth = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 6)) for _ in range(depth + 1)]
    nodes = {"in": nir.Input(input_type=np.array([sizes[0]]))}
    edges, prev = [], "in"
    for i in range(depth):
        weight = rng.normal(0, 1.5, (sizes[i + 1], sizes[i]))
        nodes[f"w{i}"] = nir.Linear(weight=weight)
        nodes[f"p{i}"] = _neuron(draw(st.sampled_from(NEURONS)), sizes[i + 1], rng)
        edges += [(prev, f"w{i}"), (f"w{i}", f"p{i}")]
        if draw(st.booleans()):
            n = sizes[i + 1]
            nodes[f"r{i}"] = nir.Linear(weight=rng.normal(0, 0.8, (n, n)))
            edges += [(f"p{i}", f"r{i}"), (f"r{i}", f"p{i}")]
        prev = f"p{i}"
    nodes["out"] = nir.Output(output_type=np.array([sizes[-1]]))
    edges.append((prev, "out"))
    x = (rng.random((30, 2, sizes[0])) < draw(st.floats(0.05, 0.9))).astype(np.float64)
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    return graph, draw(st.sampled_from(["zero", "subtract"])), draw(st.sampled_from([4, 8])), x


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_twins_equal_both_simulators_on_random_networks(case):
    graph, reset, bits, x = case
    net = _load(graph, dt=1e-4, reset=reset)
    folded, _ = ensure_folded(net)
    ours = Twin(folded).run(x)["out"].detach().numpy()
    # Spikes (0/1) must be equal; a voltage readout may differ in the last bits (summation order).
    np.testing.assert_allclose(ours, simulate(folded, x).outputs["out"], rtol=1e-9, atol=1e-12)
    spec = load_target("reference")
    passes = target_pipeline(f"quantize{{weight_bits={bits}}}", spec)
    quantized = nc.transform(net, passes, calibration=x).network
    prog = nc.compile(net, passes=f"quantize{{weight_bits={bits}}}", calibration=x)
    chip = Twin(quantized, "chip", spec.format).run(x)["out"].detach().numpy()
    np.testing.assert_array_equal(chip, prog.simulate(x))


def test_gradients_reach_every_weight():
    net, x, cal = _digits()
    quantized = nc.transform(net, "quantize{weight_bits=4}", calibration=cal).network
    twin = Twin(quantized, "chip")
    twin.scores(x[:, :16]).sum().backward()
    for p in twin.parameters()[:2]:  # the two weight matrices
        assert p.grad is not None and float(p.grad.abs().sum()) > 0


def test_trained_thresholds_start_equal_and_receive_gradients():
    """`thresholds=True`: the same forward pass as the fixed thresholds (they start on their
    grid), a gradient into every spiking population's threshold, and a network written back
    whose thresholds are still whole steps of its scale."""
    net, x, cal = _digits()
    quantized = nc.transform(net, "quantize{weight_bits=4}", calibration=cal).network
    fixed, trained = Twin(quantized, "chip"), Twin(quantized, "chip", thresholds=True)
    assert set(trained.thresholds) == {"lif1", "lif2"}
    out = trained.scores(x[:, :16])
    np.testing.assert_array_equal(out.detach().numpy(), fixed.scores(x[:, :16]).detach().numpy())
    out.sum().backward()
    for t in trained.thresholds.values():
        assert t.grad is not None and float(t.grad.abs().sum()) > 0
    import torch

    with torch.no_grad():
        trained.thresholds["lif1"].mul_(1.3)
    back = trained.to_network().population("lif1")
    s = back.quant.scale.reshape(-1)
    steps = back.params.v_threshold.reshape(-1) / s
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
    assert not np.array_equal(
        back.params.v_threshold, quantized.population("lif1").params.v_threshold
    )
