"""fold keeps what a network computes while turning it into explicit synapse matrices."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.ir import Matrix
from neurocomp.passes import is_folded

from graphs import every_primitive

CASES = every_primitive(np.random.default_rng(11))


@pytest.mark.parametrize("name", sorted(set(CASES) - {"Delay"}))
def test_fold_preserves_outputs(name):
    graph, shape = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(graph, dt=1e-4)
    folded = nc.transform(net, "fold").network
    assert is_folded(folded)
    assert all(isinstance(p.ops[0], Matrix) for p in folded.projections)
    x = (np.random.default_rng(2).random((60, 3, *shape)) < 0.3).astype(float)
    np.testing.assert_allclose(nc.simulate(folded, x), nc.simulate(net, x), rtol=1e-9, atol=1e-9)


def test_fold_is_idempotent():
    graph, _ = CASES["recurrent"]
    folded = nc.transform(nc.load(graph, dt=1e-4), "fold,fold")
    assert [r["changed"] for r in folded.reports] == [True, False]


def test_fold_refuses_delays_by_name():
    graph, _ = CASES["Delay"]
    with pytest.raises(nc.PassError, match="projection 'fc\\+delay'.*delays cannot be folded"):
        nc.transform(nc.load(graph, dt=1e-4), "fold")
