"""prune: exact sparsity, thresholds, global ranking, bias correction, accuracy guard."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurocomp as nc
from neurocomp.passes.fold import matrix_of
from neurocomp.passes.prune import dead_ends

from graphs import affine, chain, lif


def _net(seed: int = 0):
    rng = np.random.default_rng(seed)
    g = chain(
        ("fc", affine(20, 10, rng, 1.0)),
        ("h", lif(20, rng)),
        ("fc2", affine(4, 20, rng, 1.0)),
        ("o", lif(4, rng)),
        input_shape=(10,),
        out=(4,),
    )
    return nc.load(g, dt=1e-4)


def _nnz(net):
    return {pr.name: matrix_of(pr).weight.nnz for pr in net.projections}


@settings(max_examples=30, deadline=None)
@given(sparsity=st.floats(0, 0.95), seed=st.integers(0, 1000))
def test_layer_sparsity_is_exact_and_keeps_the_most_important(sparsity, seed):
    """Importance = |w| / post threshold: every kept synapse outranks every removed one that
    could reach an output (synapses into a hidden neuron left without outputs go first)."""
    net = nc.transform(_net(seed), "fold").network
    pruned = nc.transform(net, f"prune{{sparsity={sparsity}}}").network
    dead = dead_ends(pruned)
    for pr, pr0 in zip(pruned.projections, net.projections, strict=True):
        w0, w = matrix_of(pr0).weight.tocoo(), matrix_of(pr).weight.tocoo()
        assert w.nnz == w0.nnz - int(round(sparsity * w0.nnz))
        thr = net.population(pr.post).params.v_threshold.reshape(-1)
        imp0 = np.abs(w0.data) / thr[w0.row]
        kept = set(zip(w.row.tolist(), w.col.tolist(), strict=True))
        is_kept = np.array([(r, c) in kept for r, c in zip(w0.row, w0.col, strict=True)])
        stranded = dead.get(pr.post, np.zeros(w0.shape[0], bool))
        live = ~stranded[w0.row]
        assert not np.any(is_kept & ~live)
        if is_kept.any() and (~is_kept & live).any():
            assert imp0[is_kept].min() >= imp0[~is_kept & live].max()
        np.testing.assert_array_equal(
            matrix_of(pr).weight.toarray()[w.row, w.col],
            matrix_of(pr0).weight.toarray()[w.row, w.col],
        )


def test_global_scope_ranks_across_layers():
    net = nc.transform(_net(2), "fold").network
    per_layer = _nnz(nc.transform(net, "prune{sparsity=0.5}").network)
    glob = nc.transform(net, "prune{sparsity=0.5,scope=global}")
    assert sum(_nnz(glob.network).values()) == sum(per_layer.values())
    assert glob.reports[0]["sparsity"] == pytest.approx(0.5, abs=0.01)


def test_threshold_mode():
    net = nc.transform(_net(3), "fold").network
    pruned = nc.transform(net, "prune{threshold=0.3}").network
    for pr in pruned.projections:
        thr = pruned.population(pr.post).params.v_threshold.reshape(-1)
        w = matrix_of(pr).weight.tocoo()
        assert np.all(np.abs(w.data) / thr[w.row] >= 0.3)


def test_bias_correction_keeps_mean_drive():
    net = nc.transform(_net(4), "fold").network
    x = (np.random.default_rng(0).random((60, 8, 10)) < 0.4).astype(float)
    plain = nc.transform(net, "prune{sparsity=0.6,bias_correction=false}", calibration=x).network
    corrected = nc.transform(net, "prune{sparsity=0.6}", calibration=x)
    assert corrected.reports[0]["bias_corrected"] is True
    rate_in = x.mean(axis=(0, 1))
    pr0, pr1, pr_plain = net.projections[0], corrected.network.projections[0], plain.projections[0]
    drive0 = matrix_of(pr0).weight @ rate_in + matrix_of(pr0).bias
    drive1 = matrix_of(pr1).weight @ rate_in + matrix_of(pr1).bias
    drive_plain = matrix_of(pr_plain).weight @ rate_in + matrix_of(pr_plain).bias
    np.testing.assert_allclose(drive1, drive0, atol=1e-9)
    assert np.abs(drive_plain - drive0).max() > 1e-3


def test_accuracy_guard_stops_before_the_drop():
    """On labelled calibration data whose labels are the unpruned network's own predictions,
    the guard must stop at the last sparsity whose accuracy drop stays within max_drop."""
    net = _net(5)
    x = (np.random.default_rng(1).random((40, 64, 10)) < 0.4).astype(float)
    from neurocomp.analysis import predictions

    labels = predictions(nc.simulate(net, x))
    res = nc.transform(
        net, "prune{sparsity=0.95,max_drop=0.05,step=0.1}", calibration=x, labels=labels
    )
    guard = res.reports[0]["guard"]
    assert guard["baseline_accuracy"] == 1.0
    ok = [t for t in guard["tried"] if 1.0 - t["accuracy"] <= 0.05]
    assert guard["chosen_sparsity"] == pytest.approx(ok[-1]["sparsity"] if ok else 0.0)
    assert guard["stopped_early"] == (guard["chosen_sparsity"] < 0.95)
    assert 1.0 - guard["chosen_accuracy"] <= 0.05


def test_a_projection_pruned_to_nothing_is_named_in_a_warning():
    """A global ranking can take a whole layer whose weights are small: nothing passes it then,
    so the pass says which projection (the conv SNN lost its convolution this way at 90 %)."""
    rng = np.random.default_rng(0)
    fc = affine(20, 10, rng, 1.0)
    fc.weight *= 1e-3  # every synapse of fc ranks below every synapse of fc2
    g = chain(
        ("fc", fc),
        ("h", lif(20, rng)),
        ("fc2", affine(4, 20, rng, 1.0)),
        ("o", lif(4, rng)),
        input_shape=(10,),
        out=(4,),
    )
    net = nc.transform(nc.load(g, dt=1e-4), "fold").network
    with pytest.warns(nc.NeurocompWarning, match=r"prune: projection 'fc': synapses 200 -> 0"):
        result = nc.transform(net, "prune{sparsity=0.75,scope=global}")
    assert _nnz(result.network)["fc"] == 0
    assert result.reports[-1]["emptied"] == ["fc"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", nc.NeurocompWarning)  # per layer: no layer emptied
        kept = nc.transform(net, "prune{sparsity=0.75}")
    assert "emptied" not in kept.reports[-1]
