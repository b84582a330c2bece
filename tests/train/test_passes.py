"""Passes that train: masks and grid kept, improvement over post-training, determinism."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.passes import PassError, make_pass, parse_pipeline
from neurocomp.passes.base import describe
from neurocomp.passes.fold import matrix_of
from neurocomp.progress import reporting
from neurocomp.train.loop import evaluate
from neurocomp.train.twin import Twin

from conftest import EXAMPLES

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def digits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(EXAMPLES / "digits" / "digits.nir")
    cal = np.load(EXAMPLES / "digits" / "digits_calib.npz")
    test = np.load(EXAMPLES / "digits" / "digits_test.npz")
    return net, cal["x"][:, :300], cal["labels"][:300], test["x"][:, :200], test["labels"][:200]


def _structure(net):
    return {pr.name: matrix_of(pr).weight.copy() for pr in net.projections}


def test_pipeline_as_written_parses_with_defaults():
    passes = parse_pipeline("prune{sparsity=0.9},quantize{weight_bits=4},finetune")
    assert [p.name for p in passes] == ["prune", "quantize", "finetune"]
    assert describe(passes[2]) == "finetune"
    for name in ("prune_gradual", "prune_lottery", "cluster_neurons"):
        assert make_pass(name).name == name
    with pytest.raises(PassError, match="epochs"):
        make_pass("finetune", epochs=-1)


def test_finetune_needs_labels(digits):
    net, x, _, _, _ = digits
    with pytest.raises(PassError, match="labels"):
        nc.transform(net, "quantize,finetune{epochs=1}", calibration=x)


def test_labels_beyond_the_outputs_are_refused_naming_the_output(digits):
    net, x, y, _, _ = digits  # 10 output neurons: classes 0..9 (torch raised IndexError)
    with pytest.raises(nc.NeurocompError, match=r"class 12 given, but output 'output' has 10"):
        nc.transform(net, "finetune{epochs=1}", calibration=x, labels=np.where(y == 3, 12, y))


def test_finetune_keeps_grid_and_masks_and_beats_post_training(digits):
    net, x, y, x_test, y_test = digits
    post = nc.transform(net, "prune{sparsity=0.9},quantize{weight_bits=4}", calibration=x).network
    copy = [(matrix_of(pr).weight.copy(), matrix_of(pr).bias.copy()) for pr in post.projections]
    biases = [p.params.v_bias.copy() for p in post.populations]
    result = nc.transform(post, "finetune{epochs=8,lr=0.01}", calibration=x, labels=y)
    for pr, (w, b) in zip(post.projections, copy, strict=True):  # the input is not modified
        assert (matrix_of(pr).weight != w).nnz == 0
        np.testing.assert_array_equal(matrix_of(pr).bias, b)
    for pop, b in zip(post.populations, biases, strict=True):
        np.testing.assert_array_equal(pop.params.v_bias, b)
    tuned = result.network
    report = result.reports[0]
    assert report["val_accuracy_after"] > report["val_accuracy_before"]
    before, after = _structure(post), _structure(tuned)
    for pr in tuned.projections:
        b, a = before[pr.name], after[pr.name]
        kept = set(zip(*a.nonzero(), strict=True))
        assert kept <= set(zip(*b.nonzero(), strict=True)), "a pruned synapse came back"
        pop = tuned.population(pr.post)
        scale = post.population(pr.post).quant.scale.reshape(-1)
        np.testing.assert_array_equal(pop.quant.scale.reshape(-1), scale)  # the grid is kept
        ints = a.toarray() / scale[:, None]
        np.testing.assert_allclose(ints, np.round(ints), atol=1e-9)
        assert np.abs(np.round(ints)).max() <= 7  # 4-bit signed
    assert not np.array_equal(before["fc1"].toarray(), after["fc1"].toarray())
    # On held-out data, in the chip's arithmetic (the chip twin equals the program, see
    # test_twin.py): fine-tuning recovers much of what post-training lost.
    acc_post = evaluate(Twin(post, "chip"), x_test, y_test)[0]
    acc_tuned = evaluate(Twin(tuned, "chip"), x_test, y_test)[0]
    print(report["val_accuracy_before"], report["val_accuracy_after"], acc_post, acc_tuned)
    assert acc_tuned > acc_post + 0.2


def test_finetune_is_deterministic_for_a_seed(digits):
    net, x, y, _, _ = digits
    q = nc.transform(net, "quantize{weight_bits=4}", calibration=x).network
    seen = []
    with reporting(lambda task, done, total: seen.append((task, done, total))):
        runs = [
            nc.transform(q, "finetune{epochs=1,seed=3}", calibration=x, labels=y).network
            for _ in range(2)
        ]
    assert ("finetune", 1, 1) in seen  # the progress bar of the epochs
    for a, b in zip(*[_structure(r).values() for r in runs], strict=True):
        assert (a != b).nnz == 0


def test_gradual_and_lottery_reach_their_sparsity_keeping_the_grid(digits):
    net, x, y, _, _ = digits
    q = nc.transform(net, "quantize{weight_bits=6}", calibration=x).network
    for pipeline in (
        "prune_gradual{sparsity=0.8,steps=2,epochs=1}",
        "prune_lottery{sparsity=0.8,rounds=2,epochs=1,rewind=1}",
    ):
        result = nc.transform(q, pipeline, calibration=x, labels=y)
        out = result.network
        assert out.synapses <= round(0.2 * q.synapses) + 1, pipeline
        assert result.reports[0]["sparsity"] >= 0.79
        for pop in out.populations:
            np.testing.assert_array_equal(pop.quant.scale, q.population(pop.name).quant.scale)


def test_gradual_guard_rejects_a_step_that_loses_too_much(digits):
    net, x, y, _, _ = digits
    result = nc.transform(
        net, "prune_gradual{sparsity=0.99,steps=2,epochs=1,max_drop=0.0}", calibration=x, labels=y
    )
    steps = result.reports[0]["steps"]
    assert not steps[-1]["accepted"]
    assert result.network.synapses > 0.01 * net.synapses + 1


def test_cluster_neurons_halves_the_hidden_layer(digits):
    net, x, y, _, _ = digits
    result = nc.transform(
        net, "quantize{weight_bits=8},cluster_neurons{keep=0.5,epochs=2}", calibration=x, labels=y
    )
    out = result.network
    assert out.population("lif1").size == 64
    assert out.population("lif2").size == 10  # outputs keep every neuron
    report = result.reports[1]
    assert report["neurons_removed"] == {"lif1": 64}
    assert report["finetune"]["val_accuracy_after"] >= report["val_accuracy_clustered"]
    assert nc.compile(out).simulate(x[:, :20]).shape == (25, 20, 10)


def test_training_aware_pruning_beats_post_training(digits):
    """Gradual pruning with training between steps against one-shot magnitude pruning, both
    at 90 % with 4-bit weights, on held-out samples in the chip's arithmetic."""
    net, x, y, x_test, y_test = digits
    post = nc.transform(net, "prune{sparsity=0.9},quantize{weight_bits=4}", calibration=x)
    aware = nc.transform(
        net,
        "prune_gradual{sparsity=0.9,steps=2,epochs=3},quantize{weight_bits=4}",
        calibration=x,
        labels=y,
    )
    assert aware.network.synapses <= post.network.synapses + 30  # about the same budget
    acc_post = evaluate(Twin(post.network, "chip"), x_test, y_test)[0]
    acc_aware = evaluate(Twin(aware.network, "chip"), x_test, y_test)[0]
    print(acc_post, acc_aware)
    assert acc_aware > acc_post + 0.3


def test_pruning_spends_no_synapse_on_a_dead_end(digits):
    from neurocomp.passes.fold import ensure_folded
    from neurocomp.passes.prune import _apply_masks, _importance, _largest, dead_ends, prune_global

    net = ensure_folded(digits[0])[0]
    keep = round(0.1 * net.synapses)
    one_ranking = _apply_masks(net, _largest(_importance(net), keep))
    assert dead_ends(one_ranking)["lif1"].sum() > 30  # one ranking strands many hidden neurons
    pruned = [
        prune_global(net, 0.9, net.synapses),
        nc.transform(net, "prune{sparsity=0.9,scope=global}").network,
        nc.transform(net, "prune{sparsity=0.9}").network,  # per layer, the one-shot default
    ]
    for p in pruned:
        assert p.synapses == keep
        fan_in = sum(
            np.diff(matrix_of(pr).weight.tocsr().indptr) for pr in p.projections_into("lif1")
        )
        stranded = dead_ends(p).get("lif1", np.zeros(128, bool))
        assert not np.any(fan_in[stranded])  # a neuron without outputs keeps no inputs
    assert _nnz(pruned[0]) == _nnz(pruned[1])
    assert _nnz(pruned[2])["fc2"] == 128  # the per-layer budget of the output layer


def _nnz(net):
    return {pr.name: matrix_of(pr).weight.nnz for pr in net.projections}


def test_finetune_clips_latent_weights_to_the_grid(digits):
    net, x, y, _, _ = digits
    q = nc.transform(net, "quantize{weight_bits=2}", calibration=x).network
    twin = Twin(q, "chip")
    from neurocomp.train.loop import Split, TrainConfig, train_twin

    data = Split(x[:, :200], y[:200], x[:, 200:], y[200:])
    train_twin(twin, data, TrainConfig(epochs=2, lr=0.05))
    for pr in q.projections:
        s = q.population(pr.post).quant.scale.reshape(-1)[:, None]
        latent = twin.layers[pr.name].weight.detach().numpy()
        assert np.all(np.abs(latent) <= 1.5 * s + 1e-12)  # qmax 1, plus half a step


def test_resample_auto_follows_the_input(digits):
    from neurocomp.train.loop import rate_coded

    net, x, y, _, _ = digits
    assert rate_coded(x)
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, 25)[:, None, None] * np.ones((25, 40, 64))
    assert not rate_coded((rng.random(ramp.shape) < ramp).astype(np.uint8))
    onset = np.zeros((25, 40, 64), np.uint8)
    onset[3] = 1
    assert not rate_coded(onset)
    assert not rate_coded(rng.random((25, 40, 64)))  # not spikes
    q = nc.transform(net, "quantize{weight_bits=8}", calibration=x).network
    for option, expected in (("", True), (",resample=false", False)):
        r = nc.transform(q, f"finetune{{epochs=1{option}}}", calibration=x, labels=y)
        assert r.reports[0]["resampled"] is expected
    with pytest.raises(PassError, match="resample"):
        make_pass("finetune", resample="sometimes")


def test_distillation_term_and_teacher(digits):
    import torch

    from neurocomp.train.loop import TrainConfig, _loss

    scores = torch.tensor([[2.0, 0.0, 1.0]])
    target = torch.tensor([0])
    plain = _loss(torch, scores, target, None, TrainConfig())
    assert float(plain) == pytest.approx(float(torch.nn.functional.cross_entropy(scores, target)))
    same = _loss(torch, scores, target, scores.detach(), TrainConfig(distill=1.0))
    assert float(same) == pytest.approx(0.0, abs=1e-12)  # a student equal to its teacher
    other = _loss(torch, scores, target, torch.tensor([[0.0, 3.0, 0.0]]), TrainConfig(distill=1.0))
    assert float(other) > 0.1
    net, x, y, _, _ = digits
    from neurocomp.passes.base import Calibration, PassContext, run_pipeline

    # The pipeline's input network is the teacher: distilling changes what training does.
    pruned = nc.transform(net, "prune{sparsity=0.9}").network
    runs = [
        run_pipeline(
            pruned,
            f"finetune{{epochs=1,distill={a},arithmetic=float}}",
            PassContext(Calibration(x[:, :128], y[:128]), {"teacher": net}),
        )
        for a in (0.0, 0.9)
    ]
    w0, w1 = (matrix_of(r.network.projections_into("lif1")[0]).weight for r in runs)
    assert abs(w0 - w1).max() > 1e-6
    assert runs[1].reports[0]["distilled"] is True
    assert make_pass("finetune").distill == 0.5  # on by default
    # A teacher no better than the student on the validation split is not used: here the
    # pipeline's input is the pruned network itself.
    r = nc.transform(pruned, "finetune{epochs=1,arithmetic=float}", calibration=x, labels=y)
    assert r.reports[0]["distilled"] is False


def test_standardized_distillation_ignores_the_students_margin():
    """With `standardize` the soft term compares z-scored counts: a student whose counts are
    the teacher's scaled and shifted costs nothing (raw distillation charges it), a silent
    student stays finite, and the pattern still matters."""
    import torch

    import neurocomp.train.passes  # noqa: F401  (registers the training passes)
    from neurocomp.train.loop import TrainConfig, _loss, zscored

    teacher = torch.tensor([[6.0, 1.0, 0.0, 2.0]])
    scaled = (3 * teacher + 5).requires_grad_()
    target = torch.tensor([0])
    raw = TrainConfig(distill=1.0, temperature=1.0)
    z = TrainConfig(distill=1.0, temperature=1.0, standardize=True)
    assert float(_loss(torch, scaled, target, teacher, raw)) > 0.1
    assert float(_loss(torch, scaled, target, teacher, z)) == pytest.approx(0.0, abs=1e-6)
    other = torch.tensor([[0.0, 6.0, 1.0, 2.0]])
    assert float(_loss(torch, other, target, teacher, z)) > 0.1
    silent = torch.zeros(1, 4, requires_grad=True)
    loss = _loss(torch, silent, target, teacher, z)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(silent.grad).all()
    zs = zscored(torch.tensor([[2.0, 0.0, 1.0], [5.0, 5.0, 5.0]]))
    assert zs.mean(dim=1).abs().max() < 1e-6
    assert float(zs[0].pow(2).mean()) == pytest.approx(1.0, rel=0.02)
    assert float(zs[1].abs().max()) == 0.0
    with pytest.raises(PassError, match="standardize"):
        make_pass("finetune", standardize="yes")


def test_rewire_swaps_the_weakest_for_the_steepest_absent_synapses(digits):
    """Drop-and-regrow on a computed case: the count stays, the dropped synapses are the least
    important, the grown ones the absent ones of largest gradient, signed against it."""
    from neurocomp.passes.fold import ensure_folded
    from neurocomp.passes.prune import _importance, prune_global, rewire

    net = prune_global(ensure_folded(digits[0])[0], 0.9, ensure_folded(digits[0])[0].synapses)
    rng = np.random.default_rng(3)
    grads = {pr.name: rng.normal(size=matrix_of(pr).weight.shape) for pr in net.projections}
    new, swapped = rewire(net, grads, 0.25)
    imp = _importance(net)
    for pr, pr0 in zip(new.projections, net.projections, strict=True):
        w, w0 = matrix_of(pr).weight.toarray(), matrix_of(pr0).weight.toarray()
        k = int(round(0.25 * (w0 != 0).sum()))
        assert swapped[pr.name] == k and (w != 0).sum() == (w0 != 0).sum()
        dropped = (w0 != 0) & (w == 0)
        grown = (w0 == 0) & (w != 0)
        assert dropped.sum() == k and grown.sum() == k
        dense_imp = np.zeros_like(w0)
        rows = np.repeat(np.arange(w0.shape[0]), np.diff(matrix_of(pr0).weight.indptr))
        dense_imp[rows, matrix_of(pr0).weight.indices] = imp[pr.name]
        assert dense_imp[dropped].max() <= dense_imp[(w0 != 0) & ~dropped].min()
        g = np.abs(grads[pr.name])
        assert g[grown].min() >= g[(w0 == 0) & ~grown].max()
        assert np.all(np.sign(w[grown]) == -np.sign(grads[pr.name][grown]))


def test_dense_gradients_reach_pruned_synapses_and_match_the_masked_ones(digits):
    """The gradient the regrowth ranks by: at present synapses it is the training gradient;
    at pruned ones it is nonzero (what the loss would gain from growing them)."""
    from neurocomp.passes.fold import ensure_folded
    from neurocomp.passes.prune import prune_global
    from neurocomp.train.loop import Split, TrainConfig, dense_gradients

    net, x, y, _, _ = digits
    folded = ensure_folded(net)[0]
    pruned = prune_global(folded, 0.9, folded.synapses)
    data = Split(x[:, :64], y[:64], x[:, 64:96], y[64:96])
    grads = dense_gradients(pruned, data, TrainConfig(arithmetic="float"), None)
    twin = Twin(pruned, "float")
    import torch

    loss = torch.nn.functional.cross_entropy(
        twin.scores(data.x_train), torch.from_numpy(data.y_train.astype(np.int64))
    )
    loss.backward()
    for pr in pruned.projections:
        present = matrix_of(pr).weight.toarray() != 0
        masked = twin.layers[pr.name].weight.grad.numpy()
        np.testing.assert_allclose(grads[pr.name][present], masked[present], rtol=1e-9, atol=1e-12)
        assert np.abs(grads[pr.name][~present]).max() > 0


def test_gradual_regrow_keeps_the_sparsity_and_is_deterministic(digits):
    net, x, y, _, _ = digits
    pipeline = "prune_gradual{sparsity=0.9,steps=1,epochs=1,regrow=2,distill=0}"
    runs = [nc.transform(net, pipeline, calibration=x, labels=y) for _ in range(2)]
    report = runs[0].reports[0]
    assert [r["round"] for r in report["regrow"]] == [1, 2]
    assert report["regrow"][0]["swapped"] > 0
    assert runs[0].network.synapses <= round(0.1 * net.synapses)
    for a, b in zip(*[_structure(r.network).values() for r in runs], strict=True):
        assert (a != b).nnz == 0
    with pytest.raises(PassError, match="regrow_fraction"):
        make_pass("prune_gradual", regrow_fraction=1.5)


def test_finetune_can_train_thresholds_on_their_grid(digits):
    import torch

    from neurocomp.train.loop import Split, TrainConfig, train_twin

    net, x, y, _, _ = digits
    q = nc.transform(net, "quantize{weight_bits=4}", calibration=x).network
    assert make_pass("finetune").thresholds == "auto"
    twin = Twin(q, "chip", thresholds=True)
    opt = torch.optim.Adam(list(twin.thresholds.values()), lr=0.05)
    for _ in range(3):  # thresholds alone, a few large steps
        loss = torch.nn.functional.cross_entropy(
            twin.scores(x[:, :64]), torch.from_numpy(y[:64].astype(np.int64))
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        twin.constrain()
    tuned = twin.to_network()
    moved = 0
    for pop in tuned.populations:
        s = pop.quant.scale.reshape(-1)
        steps = pop.params.v_threshold.reshape(-1) / s
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)  # whole steps
        assert np.all(np.round(steps) >= 1)
        before = q.population(pop.name).params.v_threshold
        moved += int(np.count_nonzero(pop.params.v_threshold != before))
    assert moved > 0
    # The pass option reaches the twin: the thresholds are among the trained tensors.
    data = Split(x[:, :200], y[:200], x[:, 200:], y[200:])
    log = train_twin(Twin(q, "chip", thresholds=True), data, TrainConfig(epochs=1))
    assert log.epochs_run == 1
    with pytest.raises(PassError, match="thresholds"):
        make_pass("finetune", thresholds="sometimes")


def test_thresholds_auto_trains_them_at_low_bits_only(digits):
    """`thresholds="auto"`: trained in chip arithmetic at 3 weight bits or fewer (quantize's
    low-bit regime), not at 4 bits, not in float; true and false are kept as given."""
    from neurocomp.train.loop import AUTO_THRESHOLD_BITS, TrainConfig, thresholds_for

    net, x, y, _, _ = digits
    auto, on, off = TrainConfig(), TrainConfig(thresholds=True), TrainConfig(thresholds=False)
    q2 = nc.transform(net, "quantize{weight_bits=2}", calibration=x).network
    q4 = nc.transform(net, "quantize{weight_bits=4}", calibration=x).network
    assert AUTO_THRESHOLD_BITS == 3
    assert thresholds_for(auto, q2, "chip") is True
    assert thresholds_for(auto, q4, "chip") is False
    assert thresholds_for(auto, q2, "float") is False
    assert thresholds_for(auto, net, "float") is False
    assert thresholds_for(on, q4, "chip") is True
    assert thresholds_for(off, q2, "chip") is False

    # The pass resolves it and says so; at 4 bits the thresholds stay as they were.
    for bits, q in ((2, q2), (4, q4)):
        result = nc.transform(q, "finetune{epochs=2,lr=0.05,distill=0}", calibration=x, labels=y)
        assert result.reports[0]["thresholds"] is (bits == 2)
        moved = sum(
            int(np.count_nonzero(p.params.v_threshold != q.population(p.name).params.v_threshold))
            for p in result.network.populations
        )
        assert bits == 2 or moved == 0
