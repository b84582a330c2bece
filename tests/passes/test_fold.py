"""fold keeps what a network computes while turning it into explicit synapse matrices."""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest

import neurocomp as nc
from neurocomp.ir import Matrix
from neurocomp.passes import is_folded

from graphs import every_primitive

CASES = every_primitive(np.random.default_rng(11))


@pytest.mark.parametrize("name", sorted(CASES))
def test_fold_preserves_outputs(name):
    graph, shape = CASES[name]
    if name == "Delay":  # a folded bias is added from the first step, not after the delay
        graph.nodes["fc"].bias = np.zeros_like(graph.nodes["fc"].bias)
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


def test_fold_turns_delays_into_synaptic_delays():
    graph, _ = CASES["Delay"]  # Affine then Delay(0, 1, 3, 5 steps): per post neuron
    folded = nc.transform(nc.load(graph, dt=1e-4), "fold").network
    (m,) = folded.projections[0].ops
    assert m.delay is not None
    rows = m.weight.tocoo().row
    np.testing.assert_array_equal(np.asarray(m.delay[m.weight.nonzero()]).ravel(),
                                  np.array([0, 1, 3, 5])[rows])  # fmt: skip


def test_fold_refuses_a_delay_it_cannot_give_each_synapse():
    rng = np.random.default_rng(0)
    g = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([3])),
        nir.Linear(weight=rng.normal(size=(4, 3))),
        nir.Delay(delay=np.array([0.0, 1e-4, 2e-4, 0.0])),
        nir.Linear(weight=rng.normal(size=(2, 4))),
        nir.LIF(tau=np.full(2, 2e-3), r=np.ones(2), v_leak=np.zeros(2),
                v_threshold=np.ones(2), v_reset=np.zeros(2)),
        nir.Output(output_type=np.array([2])),
    )  # fmt: skip
    with pytest.raises(nc.PassError, match="Delay between two linear operators"):
        nc.transform(nc.load(g, dt=1e-4), "fold")


@pytest.mark.parametrize("op_kind", ["matrix", "conv", "dense"])
def test_compose_of_one_operator_equals_its_product_with_identity(op_kind):
    """One operator folds to its own matrix (no product with the identity, which took seconds
    on 1e8-synapse conv layers), canonical, equal to the product, the input left unedited."""
    from scipy import sparse

    from neurocomp.ir.ops import Conv, Dense
    from neurocomp.passes.fold import compose

    rng = np.random.default_rng(5)
    if op_kind == "matrix":  # unsorted, a duplicate and an explicit zero: compose cleans a copy
        w = sparse.csr_matrix(
            (np.array([1.0, 0.0, 2.0, 3.0, 4.0]), np.array([2, 1, 0, 0, 3]),
             np.array([0, 3, 5])), shape=(2, 4),
        )  # fmt: skip
        op, shape = Matrix(w, (4,), (2,)), (4,)
    elif op_kind == "conv":
        op = Conv(rng.normal(size=(3, 2, 3, 3)), (1, 1), (1, 1), (1, 1))
        shape = (2, 5, 4)
    else:
        op, shape = Dense(rng.normal(size=(3, 4)).astype(np.float32)), (2, 4)
    before = op.matrix(shape).copy()
    got = compose((op,), shape, "p").weight
    want = sparse.csr_matrix(op.matrix(shape) @ sparse.identity(int(np.prod(shape))))
    want.eliminate_zeros()
    want.sort_indices()
    assert got.dtype == want.dtype and got.has_canonical_format
    for a, b in ((got.indptr, want.indptr), (got.indices, want.indices), (got.data, want.data)):
        assert np.array_equal(a, b)
    after = op.matrix(shape)
    assert np.array_equal(after.indices, before.indices) and np.array_equal(after.data, before.data)
