"""Sigma-delta neurons in the float simulation (`ir.sigma_delta`): the equations by hand on a
small case, and the float network against its integer program (neurocomp's engine) on random
networks: the payloads differ by no more than a bound derived from the arithmetic, path by
path (weight and bias rounding, the residue each neuron holds, the floor of each payload)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurocomp as nc
from neurocomp.ir import sigma_delta
from neurocomp.ir.network import Network, NeuronParams, Population, Projection
from neurocomp.ir.ops import Dense

UNIT = 1 / 128  # payload unit of both layers (state units per payload); vth = UNIT too
STEPS = 6


def test_step_follows_lavas_equations_by_hand() -> None:
    st_ = sigma_delta.SigmaDeltaState.zeros((1, 2), np.int64)
    bias, vth = np.array([0, -5]), np.array([4, 4])
    out = [sigma_delta.step(st_, np.array([[x, x]]), bias, vth, 2, "relu") for x in (3, 2, 10, -12)]
    # sigma 3, 5, 15, 3; act (bias 0) 3, 5, 15, 3 and (bias -5) 0, 0, 10, 0
    # deltas: 3 (held), 2 + 3 = 5 (sent, >> 1 = 2), 10 (5), -12 (-6);  0, 0, 10 (5), -10 (-5)
    assert np.concatenate(out).tolist() == [[0, 0], [2, 0], [5, 5], [-6, -5]]
    floats = sigma_delta.SigmaDeltaState.zeros((1,), np.float64)
    got = [
        sigma_delta.step(floats, np.array([x]), 0.0, 0.5, 0.25, "unit") for x in (0.3, 0.4, -1.0)
    ]
    assert np.concatenate(got).tolist() == [0.0, 2.0, -4.0]  # 0.3 held; 0.7 -> 2; -1.0 -> -4


def _net(seed: int, n_in: int, n_h: int, n_o: int) -> Network:
    rng = np.random.default_rng(seed)

    def sd(n: int, activation: str) -> NeuronParams:
        return NeuronParams(
            np.zeros(n), np.ones(n), rng.uniform(-0.2, 0.4, n), np.zeros(n), np.full(n, UNIT),
            sigma_delta=activation, payload_unit=UNIT,
        )  # fmt: skip

    return Network(
        inputs={"in": (n_in,)},
        populations=(
            Population("h", (n_h,), "SigmaDelta", sd(n_h, "relu")),
            Population("o", (n_o,), "SigmaDelta", sd(n_o, "unit")),
        ),
        projections=(
            Projection("w1", "in", "h", (Dense(rng.uniform(-0.02, 0.04, (n_h, n_in))),)),
            Projection("w2", "h", "o", (Dense(rng.uniform(-0.01, 0.01, (n_o, n_h))),)),
        ),
        outputs={"y": "o"},
    )


@dataclass(frozen=True)
class _Layer:
    """One layer in both runs: float weights and bias, the chip's (integer x scale), its
    threshold in each, and per neuron the payloads summed over the run and the sends."""

    w: np.ndarray
    b: np.ndarray
    w_chip: np.ndarray
    b_chip: np.ndarray
    scale: float
    vth: float
    vth_chip: np.ndarray
    payloads: np.ndarray  # float run (batch, n)
    payloads_chip: np.ndarray
    sends: np.ndarray  # float run: messages per neuron (batch, n)
    sends_chip: np.ndarray


def _layers(seed: int, n_in: int, n_h: int, n_o: int) -> tuple[np.ndarray, list[_Layer]]:
    """A static input (first step only) and both layers of the float and the chip's run."""
    net = _net(seed, n_in, n_h, n_o)
    x = np.zeros((STEPS, 3, n_in), np.int64)
    x[0] = np.random.default_rng(seed).integers(0, 100, (3, n_in))
    fl = nc.simulate(net, x, record=True)
    prog = nc.compile(net, target="loihi2")
    chip = prog.outputs(x, record=True)
    ints = {p.name: p for p in prog.net.populations}
    layers = []
    for pop, pr in zip(net.populations, net.projections, strict=True):
        ip = ints[pop.name]
        (wp,) = (q for q in prog.net.projections if q.name == pr.name)
        s = float(ip.scale[0])
        layers.append(
            _Layer(
                w=pr.ops[0].weight, b=pop.params.v_bias, w_chip=wp.weight.toarray() * s,
                b_chip=ip.bias * s, scale=s, vth=UNIT, vth_chip=ip.threshold * s,
                payloads=fl.spikes[pop.name].sum(0), payloads_chip=chip.spikes[pop.name].sum(0),
                sends=(fl.spikes[pop.name] != 0).sum(0),
                sends_chip=(chip.spikes[pop.name] != 0).sum(0),
            )
        )  # fmt: skip
    assert np.array_equal(chip.outputs["y"].sum(0), layers[-1].payloads_chip)
    assert np.array_equal(fl.outputs["y"].sum(0), layers[-1].payloads)
    return x[0].astype(np.float64), layers


def _below(bound: np.ndarray) -> np.ndarray:
    """The largest integer n < bound (payload differences are integers); 1e-6 covers the
    float64 sums that computed the bound."""
    return np.ceil(bound + 1e-6) - 1


def _floor_and_residue(layer: _Layer, depth: int) -> float:
    """What a neuron's payloads hold beyond its activation, in payload units, float minus
    chip at most. Over a run the sent deltas telescope: sum(sent) = act_final - residue, with
    |residue| < vth (a delta is sent whole or held whole), and each payload floor(sent / unit)
    drops a fraction in [0, 1). So payloads = (act_final - residue) / unit - (< sends), and two
    runs differ by < |d act| / unit + (vth + vth_chip) / unit + max(sends).

    Sends: a static input changes a float neuron's activation once (step 0); on the chip
    (synapse_delay 1) a neuron `depth` projections from the input sees its bias at step 0 and
    each upstream send one step later, so it sends at most depth + 1 times. (vth = unit here,
    so every send carries a non-zero payload and the non-zero payloads count the sends.)"""
    assert layer.sends.max() <= 1 and layer.sends_chip.max() <= depth + 1
    return float((layer.vth + layer.vth_chip.max()) / UNIT + depth + 1)


def _check_rounding(layer: _Layer) -> None:
    """8-bit rounding: each weight and bias on the chip within half its scale of the float."""
    half = layer.scale / 2 * (1 + 1e-9)
    assert np.abs(layer.w - layer.w_chip).max() <= half
    assert np.abs(layer.b - layer.b_chip).max() <= half


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31), st.integers(2, 12), st.integers(2, 12), st.integers(1, 6))
def test_float_and_integer_payloads_agree_within_the_derived_bound(seed, n_in, n_h, n_o) -> None:
    """The float network against neurocomp's bit-accurate engine running its loihi2 program,
    layer by layer and end to end (the bound per neuron: `_floor_and_residue`).

    Hidden (ReLU, 1-Lipschitz): |d act| <= |(W - W_chip) x + (b - b_chip)| (the rounding of
    the chip's weights and bias on this input). Readout: d act = W2 d P_h + (W2 - W2_chip)
    P_h_chip + (b - b_chip), with d P_h the hidden payload difference: measured (layer by
    layer) or its bound above (end to end, |W2| |d P_h| summed over the hidden paths)."""
    x, (h, o) = _layers(seed, n_in, n_h, n_o)
    for layer in (h, o):
        _check_rounding(layer)
    act_h = np.abs(x @ (h.w - h.w_chip).T + (h.b - h.b_chip)) / UNIT
    bound_h = _below(act_h + _floor_and_residue(h, 1))
    d_h = h.payloads - h.payloads_chip
    assert np.all(np.abs(d_h) <= bound_h), (d_h, bound_h)
    rounding_o = h.payloads_chip @ (o.w - o.w_chip).T + (o.b - o.b_chip)
    d_o = np.abs(o.payloads - o.payloads_chip)
    slack_o = _floor_and_residue(o, 2)
    layerwise = _below(np.abs(d_h @ o.w.T + rounding_o) / UNIT + slack_o)
    assert np.all(d_o <= layerwise), (d_o, layerwise)
    end_to_end = _below((bound_h @ np.abs(o.w).T + np.abs(rounding_o)) / UNIT + slack_o)
    assert np.all(d_o <= end_to_end), (d_o, end_to_end)
