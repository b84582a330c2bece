"""Neuron options beyond NIR's equations (multi-spike, >= threshold, spike-first, reset amount)
are refused on chips that lack them, naming the layer, never dropped silently."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.errors import ResourceLimitError

SPYX = Path(__file__).resolve().parents[1] / "data" / "spyx"


def _load(path: Path, **kw) -> nc.Network:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nc.load(path, **kw)


def test_spike_first_refused_on_reference_chip() -> None:
    net = _load(SPYX / "mlp_lif.nir", framework="spyx")
    with pytest.raises(ResourceLimitError, match="layer_1.*spike timing"):
        nc.compile(net, target="reference")


@pytest.mark.parametrize(
    "change, quantity",
    [
        ({"max_spikes": 4}, "spikes per step"),
        ({"max_spikes": None}, "spikes per step"),
        ({"inclusive": True}, "threshold test"),
    ],
)
def test_departures_refused(change: dict, quantity: str) -> None:
    net = _load(SPYX / "mlp_if.nir", framework="nir")
    pops = tuple(
        dataclasses.replace(p, params=dataclasses.replace(p.params, **change))
        if p.params.spiking
        else p
        for p in net.populations
    )
    bad = dataclasses.replace(net, populations=pops)
    with pytest.raises(ResourceLimitError, match=quantity):
        nc.compile(bad, target="reference")
    assert np.isfinite(nc.simulate(bad, np.zeros((2, 1, 20)))).all()  # the float model runs
