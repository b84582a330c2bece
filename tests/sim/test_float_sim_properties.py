"""Property test: on random small graphs the float simulator equals the independent NIR oracle."""

from __future__ import annotations

import warnings

import nir
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurocomp as nc

from nir_oracle import Oracle

NEURONS = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I")


def _neuron(kind: str, n: int, rng: np.random.Generator) -> nir.NIRNode:
    thr, zeros = rng.uniform(0.3, 1.0, n), np.zeros(n)
    tau, r = rng.uniform(2e-4, 5e-3, n), rng.uniform(0.5, 20, n)
    if kind == "LIF":
        return nir.LIF(
            tau=tau,
            r=r,
            v_leak=rng.normal(0, 0.1, n),
            v_threshold=thr,
            v_reset=rng.uniform(-0.3, 0, n),
        )
    if kind == "LI":
        return nir.LI(tau=tau, r=r, v_leak=rng.normal(0, 0.1, n))
    if kind in ("CubaLIF", "CubaLI"):
        kw = dict(
            tau_syn=rng.uniform(2e-4, 3e-3, n),
            tau_mem=tau,
            r=r,
            v_leak=zeros,
            w_in=rng.uniform(0.5, 3, n),
        )
        return (
            nir.CubaLIF(v_threshold=thr, v_reset=zeros, **kw)
            if kind == "CubaLIF"
            else nir.CubaLI(**kw)
        )
    if kind == "IF":
        return nir.IF(r=rng.uniform(0.5, 1.5, n), v_threshold=thr, v_reset=zeros)
    return nir.I(r=rng.uniform(0.5, 1.5, n))


@st.composite
def graphs(draw):
    """A chain of 1-3 layers, with optional recurrent and skip connections."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    depth = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 6)) for _ in range(depth + 1)]
    kinds = [draw(st.sampled_from(NEURONS)) for _ in range(depth)]
    nodes = {"in": nir.Input(input_type=np.array([sizes[0]]))}
    edges, prev = [], "in"
    for i in range(depth):
        w, p = f"w{i}", f"p{i}"
        bias = draw(st.booleans())
        weight = rng.normal(0, 1.5, (sizes[i + 1], sizes[i]))
        nodes[w] = (
            nir.Affine(weight=weight, bias=rng.normal(0, 0.2, sizes[i + 1]))
            if bias
            else nir.Linear(weight=weight)
        )
        nodes[p] = _neuron(kinds[i], sizes[i + 1], rng)
        edges += [(prev, w), (w, p)]
        if draw(st.booleans()):  # recurrent weights onto this layer
            n = sizes[i + 1]
            nodes[f"r{i}"] = nir.Affine(
                weight=rng.normal(0, 0.8, (n, n)), bias=rng.normal(0, 0.3, n)
            )
            edges += [(p, f"r{i}"), (f"r{i}", p)]
        prev = p
    if depth > 1 and draw(st.booleans()):  # skip connection from the input to the last layer
        nodes["skip"] = nir.Linear(weight=rng.normal(0, 1.0, (sizes[-1], sizes[0])))
        edges += [("in", "skip"), ("skip", prev)]
    nodes["out"] = nir.Output(output_type=np.array([sizes[-1]]))
    edges.append((prev, "out"))
    reset = draw(st.sampled_from(["zero", "subtract"]))
    x = (rng.random((40, 2, sizes[0])) < draw(st.floats(0.05, 0.9))).astype(np.float64)
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), reset, x


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_float_simulator_equals_oracle(case):
    graph, reset, x = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(graph, dt=1e-4, reset=reset)
    ours = nc.simulate(net, x)
    ref = Oracle(graph, 1e-4, reset).run(x)["out"]
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)
