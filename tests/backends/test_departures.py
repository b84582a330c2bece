"""Neuron options beyond NIR's equations on chips: graded (multi-) spikes where the target
declares a payload width, the >= threshold test on neurocomp's engine (both through Lava:
tests/backends/test_lava_graded.py), and Spyx's spike-first timing refused everywhere - each by
layer, never dropped."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.errors import ResourceLimitError
from neurocomp.ir.network import Network, NeuronParams, Population, Projection
from neurocomp.ir.ops import Dense
from neurocomp.target import load_target

SPYX = Path(__file__).resolve().parents[1] / "data" / "spyx"


def _net(max_spikes: int | None = 1, inclusive: bool = False, reset: str = "subtract") -> Network:
    """input (6) -> IF (5) -> IF (4); weights 0 or 127 and thresholds 254: with 8-bit weights
    the quantization scale is 1, so the chip's integers are the float network's values."""
    rng = np.random.default_rng(0)

    def layer(n: int) -> NeuronParams:
        return NeuronParams(
            dv=np.zeros(n),
            v_gain=np.ones(n),
            v_bias=np.zeros(n),
            v_reset=np.zeros(n),
            v_threshold=np.full(n, 254.0),
            reset=reset,  # type: ignore[arg-type]
            max_spikes=max_spikes,
            inclusive=inclusive,
        )

    w1 = 127.0 * (rng.random((5, 6)) < 0.6)
    w2 = 127.0 * (rng.random((4, 5)) < 0.6)
    w1[0, 0] = w2[0, 0] = 127.0
    return Network(
        inputs={"in": (6,)},
        populations=(Population("a", (5,), "IF", layer(5)), Population("b", (4,), "IF", layer(4))),
        projections=(
            Projection("w1", "in", "a", (Dense(w1),)),
            Projection("w2", "a", "b", (Dense(w2),)),
        ),
        outputs={"y": "b"},
    )


def _payload(bits: int):
    spec = load_target("reference")
    return dataclasses.replace(
        spec, format=dataclasses.replace(spec.format, spike_payload_bits=bits)
    )


X = (np.random.default_rng(1).random((30, 3, 6)) < 0.5).astype(np.float64) * 3  # 3 spikes/step


def test_multi_spike_needs_a_payload() -> None:
    with pytest.raises(ResourceLimitError, match="'a': spikes per step needed up to 4.*payload"):
        nc.compile(_net(max_spikes=4), target="reference")


def test_payload_too_narrow_is_needed_vs_available() -> None:
    with pytest.raises(ResourceLimitError, match="spike payload needed 3 bits.*available 2 bits"):
        nc.compile(_net(max_spikes=4), target=_payload(2))


@pytest.mark.parametrize("max_spikes", [4, None])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_graded_spikes_on_chip_equal_the_float_network(max_spikes, reset) -> None:
    net = _net(max_spikes=max_spikes, reset=reset)
    want = nc.simulate(net, X)
    assert want.max() > 1  # several spikes per step happen
    prog = nc.compile(net, target=_payload(24 if max_spikes is None else 3))
    got = prog.simulate(X)
    np.testing.assert_array_equal(got, want)
    energy = prog.energy(X)  # a graded spike is one event, whatever its count
    assert energy.to_dict()  # runs


def test_inclusive_threshold_on_reference_equals_float() -> None:
    net = _net(inclusive=True)
    xb = X / 3  # binary spikes: the reference chip takes no graded input
    want = nc.simulate(net, xb)
    strict = nc.simulate(_net(inclusive=False), xb)
    assert np.abs(want - strict).sum() > 0  # ties at the threshold happen (2 x 127 = 254)
    np.testing.assert_array_equal(nc.compile(net, target="reference").simulate(xb), want)


def test_program_folder_keeps_graded_spikes(tmp_path: Path) -> None:
    prog = nc.compile(_net(max_spikes=4, inclusive=True), target=_payload(3))
    prog.save(tmp_path / "p")
    back = nc.load_program(tmp_path / "p")
    assert [(p.max_spikes, p.inclusive) for p in back.net.populations] == [(4, True)] * 2
    np.testing.assert_array_equal(back.simulate(X), prog.simulate(X))


def test_spike_first_refused_on_chips() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = nc.load(SPYX / "mlp_lif.nir", framework="spyx")
    with pytest.raises(ResourceLimitError, match="layer_1.*spike timing"):
        nc.compile(net, target="reference")
