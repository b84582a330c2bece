"""Sigma-delta neurons on Loihi 2: neurocomp's bit-accurate engine (`ir.sigma_delta` through
`backends.sigma_delta`) against Lava's own SigmaDelta process (its fixed-point model, an
independent implementation of the same equations): identical signed payloads and activations
on small random networks, and refusals where a chip has no payload for them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurocomp as nc
from neurocomp.backends.lava import LavaNetwork
from neurocomp.backends.lava_compat import lava_available
from neurocomp.errors import ResourceLimitError
from neurocomp.ir.network import Network, NeuronParams, Population, Projection
from neurocomp.ir.ops import Dense
from neurocomp.target import load_target

lava = pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")


def _sd(rng: np.random.Generator, n: int, activation: str, unit: float, vth: float) -> NeuronParams:
    return NeuronParams(
        dv=np.zeros(n),
        v_gain=np.ones(n),
        v_bias=rng.uniform(-0.3, 0.5, n),
        v_reset=np.zeros(n),
        v_threshold=np.full(n, vth),
        sigma_delta=activation,
        payload_unit=unit,
    )


def _net(seed: int, sizes=(6, 5, 4), units=(1 / 64, 1 / 32), vth=(2.0, 1.0), readout="unit"):
    """in -> sigma-delta ReLU -> sigma-delta `readout` (or a LIF), weights of both signs."""
    rng = np.random.default_rng(seed)
    n_in, n_h, n_o = sizes
    hidden = _sd(rng, n_h, "relu", units[0], vth[0] * units[0])
    if readout == "LIF":
        out = Population(
            "b", (n_o,), "LIF",
            NeuronParams(np.full(n_o, 0.1), np.ones(n_o), np.zeros(n_o), np.zeros(n_o),
                         np.full(n_o, 0.4)),
        )  # fmt: skip
    else:
        out = Population(
            "b", (n_o,), "SigmaDelta", _sd(rng, n_o, readout, units[1], vth[1] * units[1])
        )
    return Network(
        inputs={"in": (n_in,)},
        populations=(Population("a", (n_h,), "SigmaDelta", hidden), out),
        projections=(
            Projection("w1", "in", "a", (Dense(rng.uniform(-0.1, 0.2, (n_h, n_in))),)),
            Projection("w2", "a", "b", (Dense(rng.uniform(-0.08, 0.08, (n_o, n_h))),)),
        ),
        outputs={"y": "b"},
    )


def _agree(prog: nc.Program, x: np.ndarray) -> dict[str, np.ndarray]:
    ours = prog.outputs(x, "reference", record=True)
    theirs = prog.outputs(x, "lava", record=True)
    assert set(ours.spikes) == set(theirs.spikes)
    for name in ours.spikes:
        np.testing.assert_array_equal(ours.spikes[name], theirs.spikes[name], err_msg=name)
        np.testing.assert_array_equal(ours.v[name], theirs.v[name], err_msg=name)
    for name in ours.outputs:
        np.testing.assert_array_equal(ours.outputs[name], theirs.outputs[name], err_msg=name)
    return ours.spikes


X = np.random.default_rng(1).integers(0, 20, (10, 2, 6))


@lava
@pytest.mark.parametrize("readout", ["unit", "relu", "LIF"])
def test_sigma_delta_networks_equal_lavas_sigma_delta(readout) -> None:
    prog = nc.compile(_net(3, readout=readout), target="loihi2")
    kinds = {type(p).__name__ for p in LavaNetwork(prog.net, prog.target.format, 2).lif.values()}
    assert "SigmaDelta" in kinds  # Lava's own process, not neurocomp's
    spikes = _agree(prog, X)
    assert (spikes["a"] < 0).any() and (spikes["a"] > 1).any()  # signed, graded payloads
    assert prog.net.population("a").state_exp > 0


@st.composite
def sigma_delta_cases(draw):
    """Random two-layer sigma-delta networks: sizes, payload units, send thresholds, readout
    activation, inputs in the first step only or every step."""
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    sizes = tuple(int(v) for v in rng.integers(1, 7, 3))
    units = (2.0 ** -draw(st.integers(3, 8)), 2.0 ** -draw(st.integers(3, 8)))
    vth = (draw(st.sampled_from([1.0, 3.0])), draw(st.sampled_from([0.5, 1.0, 2.0])))
    net = _net(seed, sizes, units, vth, draw(st.sampled_from(["unit", "relu"])))
    x = rng.integers(0, 30, (8, 2, sizes[0]))
    if draw(st.booleans()):
        x[1:] = 0  # a static input: the first step carries it
    return net, x


@lava
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sigma_delta_cases())
def test_random_sigma_delta_networks_equal_in_lava(case) -> None:
    net, x = case
    _agree(nc.compile(net, target="loihi2"), x)


def test_reference_chip_refuses_sigma_delta_with_needed_and_available() -> None:
    with pytest.raises(ResourceLimitError) as err:
        nc.compile(_net(3), target="reference")
    text = str(err.value)
    assert "layer 'a': sigma-delta payload needed" in text
    assert "available 0 bits" in text


def test_a_narrow_payload_refuses_sigma_delta() -> None:
    spec = load_target("loihi2")
    narrow = dataclasses.replace(
        spec, format=dataclasses.replace(spec.format, spike_payload_bits=16)
    )
    prog = nc.compile(_net(3), target="loihi2")
    need = 24 - prog.net.population("a").state_exp
    with pytest.raises(
        ResourceLimitError, match=rf"sigma-delta payload needed {need} bits.*available 16 bits"
    ):
        nc.compile(_net(3), target=narrow)


def test_saved_sigma_delta_program_runs_the_same(tmp_path) -> None:
    prog = nc.compile(_net(3), target="loihi2")
    back = nc.load_program(prog.save(tmp_path / "p"))
    assert back.net.population("a").sigma_delta == "relu"
    assert back.net.population("a").state_exp == prog.net.population("a").state_exp
    np.testing.assert_array_equal(back.simulate(X), prog.simulate(X))
    assert (tmp_path / "p").is_dir()


def test_messages_and_synops_count_payloads_once() -> None:
    """A payload is one message and one synaptic op per fan-out synapse, whatever its value."""
    prog = nc.compile(_net(3), target="loihi2")
    run = prog.run(X, record=True)
    assert run.counts is not None
    a = run.spikes["a"]
    fanout = np.diff(prog.net.projections[1].weight.tocsc().indptr)
    sent = (a[:-1] != 0).sum(axis=(0, 1))  # the last step's payloads arrive after the run
    assert run.counts.per_layer["b"]["synops"] == int(sent @ fanout)
    assert run.counts.per_layer["a"]["spikes"] == int((a != 0).sum())
