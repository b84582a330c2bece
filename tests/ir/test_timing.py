"""Output lag on chips with a synapse delay, and comparisons aligned by it."""

from __future__ import annotations

import numpy as np

from neurocomp.ir.network import Network, NeuronParams, Population, Projection
from neurocomp.ir.ops import Dense
from neurocomp.ir.timing import align, feedforward_depth, output_lags


def _if(n: int) -> NeuronParams:
    return NeuronParams(
        dv=np.zeros(n),
        v_gain=np.ones(n),
        v_bias=np.zeros(n),
        v_reset=np.zeros(n),
        v_threshold=np.full(n, 0.5),
    )


def _net(skip: bool, recurrent: bool) -> Network:
    pops = tuple(Population(name, (3,), "IF", _if(3)) for name in ("a", "b", "c"))
    eye = Dense(np.eye(3))
    prs = [
        Projection("ia", "in", "a", (eye,)),
        Projection("ab", "a", "b", (eye,)),
        Projection("bc", "b", "c", (eye,)),
    ]
    if skip:
        prs.append(Projection("ac", "a", "c", (eye,)))
    if recurrent:
        prs.append(Projection("bb", "b", "b", (eye,), recurrent=True))
    return Network(
        inputs={"in": (3,)},
        populations=pops,
        projections=tuple(prs),
        outputs={"y": "c", "hidden": "a", "raw": "in"},
    )


def test_lag_counts_feedforward_projections_only() -> None:
    net = _net(skip=False, recurrent=True)
    assert feedforward_depth(net) == {"in": 0, "a": 1, "b": 2, "c": 3}
    assert output_lags(net, 1) == {"y": 3, "hidden": 1, "raw": 0}
    assert output_lags(net, 0) == {"y": 0, "hidden": 0, "raw": 0}


def test_routes_of_different_length_have_no_single_lag() -> None:
    assert output_lags(_net(skip=True, recurrent=False), 1)["y"] is None


def test_align_shifts_the_chip_output() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((20, 2, 3)) < 0.4).astype(float)
    chip = np.concatenate([np.zeros((2, 2, 3)), y[:-2]])
    assert align(y, chip, 2).mismatches == 0 and align(y, chip, 2).compared_steps == 18
    assert align(y, chip, 0).mismatches > 0
