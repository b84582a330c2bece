"""Passes that train: fine-tuning, gradual and lottery-ticket pruning, neuron clustering.

Each trains the differentiable twin (`neurocomp.train.twin`) on the labelled calibration data
(`calibration=`, `labels=`) and judges every choice on a validation split held out of it
(`val`, a fraction of every class). On a quantized network the twin computes in the chip's
arithmetic (the target's, when `compile` runs the pass; the reference chip's otherwise) and the
quantization grid is kept; synapses already pruned stay pruned. torch is imported only when one
of these passes runs.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import sparse

from ..ir.network import Network
from ..ir.ops import Matrix
from ..passes.base import PassContext, PassResult, register
from ..passes.fold import ensure_folded, matrix_of
from ..passes.prune import prune_global, rewire, synapse_counts, warn_emptied
from ..passes.structured import reshape_neurons
from ..progress import advance
from ..target.spec import NumberFormat
from .loop import (
    Split,
    TrainConfig,
    TrainLog,
    check_classes,
    evaluate,
    finetune_network,
    split,
)
from .twin import Twin


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


@dataclass(frozen=True)
class _Training:
    """Options every training pass shares (mixed into each pass)."""

    epochs: int = 40
    lr: float = 2e-3
    batch: int = 64
    val: float = 0.2  # fraction of the labelled calibration data held out for every choice
    seed: int = 0
    patience: int = 40
    arithmetic: Literal["chip", "float"] = "chip"
    resample: bool | str = "auto"  # fresh spikes at the same rates every epoch; "auto": where
    # the calibration input looks rate-coded (`neurocomp.train.loop.rate_coded`)
    distill: float = 0.5  # weight of the pipeline input's soft targets (knowledge distillation)
    temperature: float = 4.0
    standardize: bool = False  # distil z-scored logits: the teacher's pattern, not its margins
    thresholds: bool | str = "auto"  # train the neurons' thresholds too (on the quantization
    # grid); "auto": in chip arithmetic at <= 3-bit weights (`neurocomp.train.loop.thresholds_for`)

    trains: ClassVar[bool] = True

    def _check_training(self) -> None:
        _check(int(self.epochs) >= 0, f"epochs = {self.epochs} (must be >= 0)")
        _check(float(self.lr) > 0, f"lr = {self.lr} (must be > 0)")
        _check(int(self.batch) >= 1, f"batch = {self.batch} (must be >= 1)")
        _check(0 < float(self.val) < 1, f"val = {self.val} (must be in (0, 1))")
        _check(int(self.patience) >= 1, f"patience = {self.patience} (must be >= 1)")
        _check(0 <= int(self.seed) < 2**63, f"seed = {self.seed} (must be in [0, 2**63))")
        _check(0 <= float(self.distill) <= 1, f"distill = {self.distill} (must be in [0, 1])")
        _check(float(self.temperature) > 0, f"temperature = {self.temperature} (must be > 0)")
        _check(
            self.resample in (True, False, "auto"),
            f"resample = {self.resample} (must be true, false or auto)",
        )
        _check(
            self.arithmetic in ("chip", "float"),
            f"arithmetic = {self.arithmetic} (must be chip or float)",
        )
        _check(
            isinstance(self.standardize, bool),
            f"standardize = {self.standardize} (must be true or false)",
        )
        _check(
            self.thresholds in (True, False, "auto"),
            f"thresholds = {self.thresholds} (must be true, false or auto)",
        )

    def config(self, epochs: int | None = None) -> TrainConfig:
        return TrainConfig(
            epochs=int(self.epochs if epochs is None else epochs),
            lr=float(self.lr),
            batch=int(self.batch),
            seed=int(self.seed),
            patience=int(self.patience),
            arithmetic=self.arithmetic,
            resample=self.resample,
            distill=float(self.distill),
            temperature=float(self.temperature),
            standardize=bool(self.standardize),
            thresholds=self.thresholds,
        )

    def data(self, ctx: PassContext, name: str, net: Network) -> Split:
        cal = ctx.require_calibration(name, labels=True)
        check_classes(net, cal.labels)
        return split(cal, float(self.val), int(self.seed))


def _teacher(ctx: PassContext) -> Network | None:
    t = ctx.options.get("teacher")
    return t if isinstance(t, Network) else None


def _format(ctx: PassContext) -> NumberFormat | None:
    fmt = ctx.options.get("format")
    return fmt if isinstance(fmt, NumberFormat) else None


def val_accuracy(net: Network, data: Split, ctx: PassContext, arithmetic: str = "chip") -> float:
    """Accuracy of `net` on the validation split, in the chip's arithmetic when quantized."""
    from .loop import arithmetic_for

    twin = Twin(net, arithmetic_for(net, arithmetic), _format(ctx))
    return evaluate(twin, data.x_val, data.y_val)[0]


def _common(
    net: Network, before: Network, data: Split, seconds: float, name: str
) -> dict[str, Any]:
    emptied = warn_emptied(synapse_counts(before), synapse_counts(net), name)
    return {
        **({"emptied": emptied} if emptied else {}),  # reports are part of the program's bytes
        "train_samples": data.sizes[0],
        "val_samples": data.sizes[1],
        "synapses_before": before.synapses,
        "synapses_after": net.synapses,
        "neurons_before": before.neurons,
        "neurons_after": net.neurons,
        "seconds": round(seconds, 2),
    }


@register
@dataclass(frozen=True)
class Finetune(_Training):
    """Fine-tune weights and biases by surrogate-gradient BPTT, keeping masks and grid."""

    name: ClassVar[str] = "finetune"

    def __post_init__(self) -> None:
        self._check_training()

    def run(self, net: Network, ctx: PassContext) -> PassResult:
        t0 = time.perf_counter()
        net, folded = ensure_folded(net)
        data = self.data(ctx, self.name, net)
        new, log = finetune_network(net, data, self.config(), _format(ctx), teacher=_teacher(ctx))
        report = {"folded_first": folded, **log.to_dict()}
        report.update(_common(new, net, data, time.perf_counter() - t0, self.name))
        return PassResult(new, report, changed=log.best_epoch > 0)


@register
@dataclass(frozen=True)
class PruneGradual(_Training):
    """Gradual global magnitude pruning: sparsity rises on a cubic schedule over `steps`, with
    fine-tuning after each step; with `max_drop` it stops before a step whose validation accuracy
    falls more than that below the starting network's."""

    name: ClassVar[str] = "prune_gradual"
    sparsity: float = 0.9
    steps: int = 4
    # Per step. Float epochs are cheap, and a sparse network trains slowly: on the digits model
    # at 95 % the float network scored 3.44 points below the dense one with 12 epochs at lr
    # 2e-3 (seeds 0-2), 2.60 with 30 epochs, 0.76 with 30 epochs at 5e-3.
    epochs: int = 30
    lr: float = 5e-3
    max_drop: float | None = None
    regrow: int = 0  # rounds of drop-and-regrow (RigL) at the final sparsity
    regrow_fraction: float = 0.3  # share of each layer's synapses swapped in the first round
    # (cosine decay over the rounds, as in RigL)

    def __post_init__(self) -> None:
        self._check_training()
        _check(0 <= float(self.sparsity) < 1, f"sparsity = {self.sparsity} (must be in [0, 1))")
        _check(int(self.steps) >= 1, f"steps = {self.steps} (must be >= 1)")
        _check(int(self.regrow) >= 0, f"regrow = {self.regrow} (must be >= 0)")
        _check(
            0 < float(self.regrow_fraction) < 1,
            f"regrow_fraction = {self.regrow_fraction} (must be in (0, 1))",
        )

    def schedule(self, start: float) -> list[float]:
        """Sparsity after each step (Zhu & Gupta 2017's cubic ramp from `start`)."""
        n, end = int(self.steps), float(self.sparsity)
        return [end + (start - end) * (1 - k / n) ** 3 for k in range(1, n + 1)]

    def run(self, net: Network, ctx: PassContext) -> PassResult:
        t0 = time.perf_counter()
        net, folded = ensure_folded(net)
        data = self.data(ctx, self.name, net)
        fmt = _format(ctx)
        original = net.synapses
        start = 0.0
        base = val_accuracy(net, data, ctx, self.arithmetic)
        current, path = net, []
        for i, s in enumerate(self.schedule(start)):
            advance(self.name, i, int(self.steps))
            cand, log = finetune_network(
                prune_global(current, s, original),
                data,
                self.config(),
                fmt,
                f"{self.name} {s:.2f}",
                _teacher(ctx),
            )
            step = {"sparsity": round(s, 4), "synapses": cand.synapses, **_brief(log)}
            if self.max_drop is not None and base - log.val_after > float(self.max_drop):
                path.append({**step, "accepted": False})
                break
            path.append({**step, "accepted": True})
            current = cand
        advance(self.name, int(self.steps), int(self.steps))
        rewired: list[dict[str, Any]] = []
        if int(self.regrow) and len(path) == int(self.steps) and path[-1]["accepted"]:
            current, rewired = self._regrow(current, data, ctx, original)
        report = {"folded_first": folded, "val_accuracy_before": base, "steps": path}
        if rewired:
            report["regrow"] = rewired
        report["sparsity"] = 1.0 - current.synapses / original if original else 0.0
        report.update(_common(current, net, data, time.perf_counter() - t0, self.name))
        return PassResult(current, report, changed=current is not net)

    def _regrow(
        self, net: Network, data: Split, ctx: PassContext, original: int
    ) -> tuple[Network, list[dict[str, Any]]]:
        """Rounds of drop-and-regrow by gradient (`rewire`) with fine-tuning after each; the
        network with the best validation accuracy (then loss) is kept."""
        from .loop import arithmetic_for, dense_gradients

        fmt, cfg = _format(ctx), self.config()
        rounds = int(self.regrow)

        def score(n: Network) -> tuple[float, float]:
            acc, loss = evaluate(
                Twin(n, arithmetic_for(n, self.arithmetic), fmt), data.x_val, data.y_val
            )
            return acc, -loss

        best, best_key, current, path = net, score(net), net, []
        for r in range(rounds):
            advance(f"{self.name} regrow", r, rounds)
            frac = float(self.regrow_fraction) * 0.5 * (1 + np.cos(np.pi * r / rounds))
            grads = dense_gradients(current, data, cfg, fmt)
            grown, swapped = rewire(current, grads, frac)
            current, log = finetune_network(
                grown, data, cfg, fmt, f"{self.name} regrow {r + 1}", _teacher(ctx)
            )
            current = prune_global(current, float(self.sparsity), original)
            key = score(current)
            path.append(
                {
                    "round": r + 1,
                    "swapped": sum(swapped.values()),
                    "synapses": current.synapses,
                    **_brief(log),
                    "kept": key > best_key,
                }
            )
            if key > best_key:
                best, best_key = current, key
        advance(f"{self.name} regrow", rounds, rounds)
        return best, path


def gradual_before_training(passes: list[Any]) -> list[Any]:
    """`passes` with each one-shot `prune{sparsity=s}` (magnitude, no guard) that precedes a
    pass that trains run as `prune_gradual{sparsity=s}` with that pass's training options
    (but prune_gradual's own epochs per step).

    Fine-tuning keeps a mask, and a mask cut in one shot from the dense weights is a poor one:
    on the digits model at 90 % with 4-bit weights, one-shot pruning then `finetune` (40 to 80
    epochs, learning rates 2e-3 to 1e-2, seeds 0-2) ended 1.0 to 4.3 points below float on
    the test set, the gradual mask 0 to 1 point below (docs/benchmarks.md section 5)."""
    from ..passes.prune import Prune

    out = list(passes)
    for i, p in enumerate(out):
        later = next((q for q in out[i + 1 :] if getattr(q, "trains", False)), None)
        one_shot = isinstance(p, Prune) and p.sparsity is not None and p.max_drop is None
        if later is None or not one_shot or p.criterion != "magnitude":
            continue
        shared = {f.name: getattr(later, f.name) for f in dataclasses.fields(_Training)}
        # prune_gradual's own epochs per step; the training pass's learning rate (0.002 by
        # default: at 90 % prune_gradual's 0.005 scored 0.9597 on the digits test set against
        # 0.9673, seed 0).
        shared.pop("epochs")
        out[i] = PruneGradual(sparsity=float(p.sparsity), **shared)
    return out


def _brief(log: TrainLog) -> dict[str, Any]:
    return {
        "val_accuracy": log.val_after,
        "best_epoch": log.best_epoch,
        "seconds": round(log.seconds, 2),
    }


def _rewound(values: Network, structure: Network) -> Network:
    """`structure`'s surviving synapses with the weights they had in `values` (same shapes)."""
    projections = []
    for pr, src in zip(structure.projections, values.projections, strict=True):
        m, v = matrix_of(pr), matrix_of(src)
        keep = sparse.csr_matrix(m.weight, copy=True)
        keep.data[:] = 1.0
        w = sparse.csr_matrix(v.weight.multiply(keep))
        w.eliminate_zeros()
        w.sort_indices()
        op = Matrix(w, m.in_shape, m.out_shape_, v.bias)
        projections.append(dataclasses.replace(pr, ops=(op,)))
    pops = tuple(
        dataclasses.replace(p, params=values.population(p.name).params)
        for p in structure.populations
    )
    return dataclasses.replace(structure, populations=pops, projections=tuple(projections))


@register
@dataclass(frozen=True)
class PruneLottery(_Training):
    """Iterative magnitude pruning with weight rewinding (lottery tickets): train, prune a share
    of the surviving synapses globally, rewind the survivors to their weights after
    `rewind` epochs, repeat for `rounds`, then train the ticket."""

    name: ClassVar[str] = "prune_lottery"
    sparsity: float = 0.9
    rounds: int = 3
    rewind: int = 1  # epochs of training before the weights rewound to are saved
    epochs: int = 6

    def __post_init__(self) -> None:
        self._check_training()
        _check(0 <= float(self.sparsity) < 1, f"sparsity = {self.sparsity} (must be in [0, 1))")
        _check(int(self.rounds) >= 1, f"rounds = {self.rounds} (must be >= 1)")
        _check(int(self.rewind) >= 0, f"rewind = {self.rewind} (must be >= 0)")

    def run(self, net: Network, ctx: PassContext) -> PassResult:
        t0 = time.perf_counter()
        net, folded = ensure_folded(net)
        data = self.data(ctx, self.name, net)
        fmt = _format(ctx)
        original = net.synapses
        rewind_to = net
        if int(self.rewind):
            rewind_to, _ = finetune_network(
                net, data, self.config(int(self.rewind)), fmt, teacher=_teacher(ctx)
            )
        start = 0.0
        keep_per_round = (1 - float(self.sparsity)) ** (1 / int(self.rounds))
        current, path = rewind_to, []
        for r in range(1, int(self.rounds) + 1):
            advance(self.name, r - 1, int(self.rounds))
            trained, log = finetune_network(
                current, data, self.config(), fmt, f"{self.name} {r}", _teacher(ctx)
            )
            s = 1 - (1 - start) * keep_per_round**r
            current = _rewound(rewind_to, prune_global(trained, s, original))
            path.append({"round": r, "sparsity": round(s, 4), "trained": _brief(log)})
        ticket, log = finetune_network(
            current, data, self.config(), fmt, f"{self.name} ticket", _teacher(ctx)
        )
        advance(self.name, int(self.rounds), int(self.rounds))
        report = {
            "folded_first": folded,
            "val_accuracy_before": val_accuracy(net, data, ctx, self.arithmetic),
            "rounds": path,
            "ticket": _brief(log),
            "sparsity": 1.0 - ticket.synapses / original if original else 0.0,
        }
        report.update(_common(ticket, net, data, time.perf_counter() - t0, self.name))
        return PassResult(ticket, report)


def kmeans(points: np.ndarray, k: int, seed: int, iters: int = 50) -> np.ndarray:
    """Cluster label of every row of `points` (k-means with k-means++ seeding, deterministic)."""
    rng = np.random.default_rng(seed)
    n = points.shape[0]
    centres = [points[rng.integers(n)]]
    for _ in range(1, k):
        d = np.min([((points - c) ** 2).sum(1) for c in centres], axis=0)
        total = d.sum()
        centres.append(points[rng.choice(n, p=d / total) if total > 0 else rng.integers(n)])
    c = np.array(centres)
    labels = np.zeros(n, np.int64)
    for _ in range(iters):
        dist = ((points[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        new = dist.argmin(1)
        if _ and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            if np.any(labels == j):
                c[j] = points[labels == j].mean(0)
    return labels


def _features(net: Network, name: str) -> np.ndarray:
    """Per neuron of `name`: its incoming weights and biases, in units of its threshold."""
    pop = net.population(name)
    parts = [sparse.csr_matrix(matrix_of(pr).weight).toarray() for pr in net.projections_into(name)]
    parts += [pop.params.v_bias.reshape(-1, 1)]
    for pr in net.projections_into(name):
        b = matrix_of(pr).bias
        if b is not None:
            parts.append(b.reshape(-1, 1))
    feats = np.hstack(parts)
    thr = pop.params.v_threshold
    ref = np.abs(thr.reshape(-1, 1)) if thr is not None else 1.0
    return feats / np.where(ref > 0, ref, 1.0)


def _clip_to_grid(net: Network, posts: set[str]) -> Network:
    """Outgoing weights summed by a merge may exceed `weight_bits`: clip them to the grid."""
    projections = []
    for pr in net.projections:
        quant = net.population(pr.post).quant
        if pr.post not in posts or quant is None:
            projections.append(pr)
            continue
        m = matrix_of(pr)
        w = sparse.csr_matrix(m.weight, copy=True)
        s = np.repeat(quant.scale.reshape(-1), np.diff(w.indptr))
        qmax = 2 ** (quant.weight_bits - 1) - 1
        w.data = np.clip(np.round(w.data / s), -qmax, qmax) * s
        w.eliminate_zeros()
        op = Matrix(w, m.in_shape, m.out_shape_, m.bias)
        projections.append(dataclasses.replace(pr, ops=(op,)))
    return dataclasses.replace(net, projections=tuple(projections))


def cluster_population(net: Network, name: str, keep: float, seed: int) -> tuple[Network, int]:
    """Cluster the neurons of `name` by their incoming weight vectors into round(keep * n)
    groups; each group becomes its medoid, which takes the sum of the group's outgoing weights."""
    pop = net.population(name)
    n = pop.size
    k = max(1, int(round(keep * n)))
    if k >= n:
        return net, 0
    feats = _features(net, name)
    labels = kmeans(feats, k, seed)
    used = np.unique(labels)
    medoids = []
    for j in used:
        members = np.flatnonzero(labels == j)
        centre = feats[members].mean(0)
        medoids.append(members[((feats[members] - centre) ** 2).sum(1).argmin()])
    order = np.argsort(medoids)
    keep_idx = np.asarray(medoids)[order]
    column = {int(j): i for i, j in enumerate(used[order])}
    cols = np.array([column[int(j)] for j in labels])
    column_map = sparse.csr_matrix((np.ones(n), (np.arange(n), cols)), shape=(n, keep_idx.size))
    new = reshape_neurons(net, name, keep_idx, column_map)
    posts = {pr.post for pr in new.projections if pr.pre == name}
    return _clip_to_grid(new, posts), n - int(keep_idx.size)


@register
@dataclass(frozen=True)
class ClusterNeurons(_Training):
    """Structured pruning: cluster each hidden population's neurons by their incoming weight
    vectors (k-means), keep one neuron per cluster carrying the cluster's outgoing weights,
    then fine-tune. `keep` is the fraction of neurons kept per hidden population."""

    name: ClassVar[str] = "cluster_neurons"
    keep: float = 0.5

    def __post_init__(self) -> None:
        self._check_training()
        _check(0 < float(self.keep) <= 1, f"keep = {self.keep} (must be in (0, 1])")

    def run(self, net: Network, ctx: PassContext) -> PassResult:
        t0 = time.perf_counter()
        net, folded = ensure_folded(net)
        data = self.data(ctx, self.name, net)
        outputs = set(net.outputs.values())
        hidden = [p.name for p in net.populations if p.name not in outputs and p.params.spiking]
        base = val_accuracy(net, data, ctx, self.arithmetic)
        current, removed = net, {}
        for name in hidden:
            current, removed[name] = cluster_population(current, name, float(self.keep), self.seed)
        merged = val_accuracy(current, data, ctx, self.arithmetic)
        tuned, log = finetune_network(
            current, data, self.config(), _format(ctx), self.name, _teacher(ctx)
        )
        report = {
            "folded_first": folded,
            "neurons_removed": removed,
            "val_accuracy_before": base,
            "val_accuracy_clustered": merged,
            "finetune": log.to_dict(),
        }
        report.update(_common(tuned, net, data, time.perf_counter() - t0, self.name))
        return PassResult(tuned, report, changed=sum(removed.values()) > 0)
