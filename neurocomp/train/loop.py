"""Supervised training of a twin: data split, BPTT epochs, best-epoch choice on held-out data.

Every choice a training pass makes (the epoch to keep, a pruning step to accept) is judged on a
validation split held out of the calibration data, never on the samples trained on. The loss is
cross-entropy on the output summed over time (spike counts, or voltages for a non-spiking
readout), the same score `neurocomp.analysis.metrics.predictions` takes the argmax of. Results
are deterministic for a given seed on one machine (torch's deterministic algorithms, one thread
count fixed for the duration of a run).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir.network import Network
from ..passes.base import Calibration
from ..passes.quantize import LOW_BITS
from ..progress import advance
from ..target.spec import NumberFormat
from . import TrainingError, require_torch
from .twin import Arithmetic, Twin

Inputs = np.ndarray | dict[str, np.ndarray]


@dataclass(frozen=True)
class Split:
    """Calibration data split by sample into a training and a validation part."""

    x_train: Inputs
    y_train: np.ndarray
    x_val: Inputs
    y_val: np.ndarray

    @property
    def sizes(self) -> tuple[int, int]:
        return len(self.y_train), len(self.y_val)


def _take(x: Inputs, idx: np.ndarray) -> Inputs:
    if isinstance(x, Mapping):
        return {k: np.asarray(v)[:, idx] for k, v in x.items()}
    return np.asarray(x)[:, idx]


def check_classes(net: Network, labels: np.ndarray | None) -> None:
    """Every label names a neuron of the network's first output (its classes are 0..n-1)."""
    if labels is None or np.asarray(labels).size == 0:
        return
    out, src = next(iter(net.outputs.items()))
    classes = int(np.prod(net.shape_of(src)))
    top = int(np.max(labels))
    if top >= classes:
        raise TrainingError(
            f"labels: class {top} given, but output '{out}' has {classes} neurons "
            f"(classes 0 to {classes - 1})"
        )


def split(cal: Calibration, val_fraction: float, seed: int) -> Split:
    """Stratified split of labelled calibration data: `val_fraction` of every class held out."""
    if cal.labels is None:
        raise TrainingError("training needs labelled calibration data (labels=...)")
    y = np.asarray(cal.labels).reshape(-1)
    first = next(iter(cal.x.values())) if isinstance(cal.x, Mapping) else cal.x
    if np.asarray(first).shape[1] != y.size:
        raise TrainingError(
            f"labels: {y.size} labels for {np.asarray(first).shape[1]} calibration samples"
        )
    if not 0 < val_fraction < 1:
        raise TrainingError(f"val = {val_fraction} (must be in (0, 1))")
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        val.append(members[: int(round(val_fraction * members.size))])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, np.int64)
    train_idx = np.setdiff1d(np.arange(y.size), val_idx)
    if val_idx.size == 0 or train_idx.size == 0:
        raise TrainingError(f"{y.size} labelled samples are too few to hold out a validation split")
    return Split(_take(cal.x, train_idx), y[train_idx], _take(cal.x, val_idx), y[val_idx])


@contextmanager
def deterministic(seed: int, threads: int = 1) -> Iterator[Any]:
    """torch seeded, deterministic algorithms, a fixed thread count; restored afterwards."""
    torch = require_torch()
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield torch
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser settings: epochs, Adam learning rate, batch size, seed, early stopping."""

    epochs: int = 40
    lr: float = 2e-3
    batch: int = 64
    seed: int = 0
    patience: int = 40  # stop after this many epochs without a better validation score
    arithmetic: Arithmetic = "chip"  # "float" for unquantized networks
    resample: bool | str = "auto"  # redraw rate-coded training spikes every epoch ("auto":
    # where the input looks rate-coded, `rate_coded`)
    select: str = "accuracy"  # the epoch kept: best validation "accuracy" or "loss"
    distill: float = 0.0  # weight of the teacher's soft targets in the loss (0: labels only)
    temperature: float = 4.0  # softmax temperature of the distillation term
    standardize: bool = False  # distil z-scored logits (student's and teacher's, per sample)
    thresholds: bool | str = "auto"  # train the thresholds too (on their grid, straight
    # through); "auto": where the twin computes in chip arithmetic with weights of at most
    # AUTO_THRESHOLD_BITS bits (`thresholds_for`)


@dataclass
class TrainLog:
    """What one training run did: validation accuracy before/after, per epoch, time."""

    val_before: float
    val_after: float
    best_epoch: int
    epochs_run: int
    seconds: float
    resampled: bool = False
    distilled: bool = False
    thresholds: bool = False  # whether the thresholds were trained
    history: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "val_accuracy_before": self.val_before,
            "val_accuracy_after": self.val_after,
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "seconds": round(self.seconds, 2),
            "resampled": self.resampled,
            "distilled": self.distilled,
            "thresholds": self.thresholds,
            "history": self.history,
        }


def evaluate(twin: Twin, x: Inputs, y: np.ndarray, batch: int = 256) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of the twin on x, y, without gradients."""
    torch = twin.torch
    n = len(y)
    correct, loss = 0, 0.0
    with torch.no_grad():
        for start in range(0, n, batch):
            idx = np.arange(start, min(n, start + batch))
            scores = twin.scores(_take(x, idx))
            target = torch.from_numpy(y[idx].astype(np.int64))
            loss += float(torch.nn.functional.cross_entropy(scores, target, reduction="sum"))
            correct += int((np.argmax(scores.numpy(), axis=1) == y[idx]).sum())
    return correct / n, loss / n


def resampled(x: Inputs, rng: np.random.Generator) -> Inputs:
    """Fresh Bernoulli spikes at each sample's and input's mean rate over time (an augmentation
    for rate-coded input; it discards any temporal pattern, so it is off by default)."""
    if isinstance(x, Mapping):
        return {k: resampled(v, rng) for k, v in x.items()}  # type: ignore[misc]
    x = np.asarray(x)
    rate = np.clip(x.mean(axis=0, dtype=np.float64), 0.0, 1.0)
    return (rng.random(x.shape) < rate).astype(np.uint8)


def zscored(scores: Any, eps: float = 1e-2) -> Any:
    """Per sample, the scores less their mean over classes, over their standard deviation
    (Sun et al. 2024, logit standardisation): distillation then asks the student for the
    teacher's pattern of spike counts, not its margins in spikes (`eps`, in squared counts,
    keeps a silent output finite)."""
    centred = scores - scores.mean(dim=1, keepdim=True)
    return centred / (centred.pow(2).mean(dim=1, keepdim=True) + eps).sqrt()


def _loss(torch: Any, scores: Any, target: Any, soft: Any, cfg: TrainConfig) -> Any:
    """Cross-entropy on the labels, mixed with the teacher's softened scores (Hinton et al.
    2015: KL divergence at temperature T, scaled by T^2 to keep its gradient's size)."""
    f = torch.nn.functional
    loss = f.cross_entropy(scores, target)
    if soft is None or cfg.distill <= 0:
        return loss
    t = cfg.temperature
    if cfg.standardize:
        scores, soft = zscored(scores), zscored(soft)
    kl = f.kl_div(
        f.log_softmax(scores / t, dim=1),
        f.log_softmax(soft / t, dim=1),
        log_target=True,
        reduction="batchmean",
    )
    return (1 - cfg.distill) * loss + cfg.distill * t * t * kl


def rate_coded(x: Inputs, ratio: float = 1.5) -> bool:
    """Whether spike input looks like independent draws at a rate constant in time (Bernoulli
    rate coding): binary, and neither (per sample and input) the counts in the two halves of
    the window nor (per input) the counts over all samples at each step vary more than such
    draws do (at most `ratio` times the binomial variance). Input with a temporal pattern
    (events, a ramp, a shared onset) fails the test."""
    if isinstance(x, Mapping):
        return all(rate_coded(v, ratio) for v in x.values())
    x = np.asarray(x)
    steps = x.shape[0]
    h = steps // 2
    if h < 2 or not np.isin(x, (0, 1)).all():
        return False
    x = x.reshape(steps, x.shape[1], -1)
    rate = x.mean(0, dtype=np.float64)  # (sample, input)
    var = rate * (1 - rate)
    halves = x[:h].sum(0, dtype=np.float64) - x[h : 2 * h].sum(0, dtype=np.float64)
    per_step = x.sum(1, dtype=np.float64) - rate.sum(0)  # (step, input) around its mean
    tests = (
        (float((halves**2).sum()), 2 * h * float(var.sum())),
        (float((per_step**2).sum()), steps * float(var.sum())),
    )
    return all(expected > 0 and seen <= ratio * expected for seen, expected in tests)


def resample_for(cfg: TrainConfig, x: Inputs) -> bool:
    """The `resample` setting resolved ("auto": `rate_coded(x)`)."""
    if cfg.resample == "auto":
        return rate_coded(x)
    if isinstance(cfg.resample, bool):
        return cfg.resample
    raise TrainingError(f"resample = {cfg.resample} (must be true, false or auto)")


def train_twin(
    twin: Twin, data: Split, cfg: TrainConfig, task: str = "finetune", teacher: Twin | None = None
) -> TrainLog:
    """Adam on the training split; keeps the parameters of the epoch with the best validation
    accuracy (lower validation loss breaks ties), the untrained ones if no epoch beats them."""
    t0 = time.perf_counter()
    with deterministic(cfg.seed) as torch:
        rng = np.random.default_rng(cfg.seed)
        opt = torch.optim.Adam(twin.parameters(), lr=cfg.lr)
        # Cosine decay to zero over the epochs: late epochs settle on the grid instead of
        # hopping between neighbouring integer weights.
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs))
        best = (*evaluate(twin, data.x_val, data.y_val), 0)
        val_before = best[0]
        best_state, history, since = twin.state(), [], 0
        n = len(data.y_train)
        fresh = resample_for(cfg, data.x_train)
        epoch = 0
        for epoch in range(1, cfg.epochs + 1):
            advance(task, epoch - 1, cfg.epochs)
            order = rng.permutation(n)
            x_epoch = resampled(data.x_train, rng) if fresh else data.x_train
            for start in range(0, n, cfg.batch):
                idx = np.sort(order[start : start + cfg.batch])
                xb = _take(x_epoch, idx)
                scores = twin.scores(xb)
                target = torch.from_numpy(data.y_train[idx].astype(np.int64))
                soft = None
                if teacher is not None and cfg.distill > 0:
                    with torch.no_grad():
                        soft = teacher.scores(xb)
                loss = _loss(torch, scores, target, soft, cfg)
                opt.zero_grad()
                loss.backward()
                opt.step()
                twin.constrain()
            sched.step()
            acc, val_loss = evaluate(twin, data.x_val, data.y_val)
            history.append({"epoch": epoch, "val_accuracy": acc, "val_loss": round(val_loss, 4)})
            key = (acc, -val_loss) if cfg.select == "accuracy" else (-val_loss, acc)
            best_key = (best[0], -best[1]) if cfg.select == "accuracy" else (-best[1], best[0])
            if key > best_key:
                best, best_state, since = (acc, val_loss, epoch), twin.state(), 0
            else:
                since += 1
                if since >= cfg.patience:
                    break
        advance(task, cfg.epochs, cfg.epochs)
        twin.load(best_state)
    return TrainLog(
        val_before, best[0], best[2], epoch, time.perf_counter() - t0, fresh, history=history
    )


# quantize's low-bit regime (its "auto" clip and granularity): on the digits model training the
# thresholds gained 0.6 point at 2 bits and cost the 90 % 4-bit row 0.7 (docs/passes.md).
AUTO_THRESHOLD_BITS = LOW_BITS


def thresholds_for(cfg: TrainConfig, net: Network, arithmetic: Arithmetic) -> bool:
    """The `thresholds` setting resolved ("auto": chip arithmetic and every population's
    weights at most `AUTO_THRESHOLD_BITS` wide: a coarse grid leaves thresholds off their
    best ratio to the weights, which only training them recovers)."""
    if cfg.thresholds == "auto":
        bits = [p.quant.weight_bits for p in net.populations if p.quant is not None]
        return arithmetic == "chip" and bool(bits) and max(bits) <= AUTO_THRESHOLD_BITS
    if isinstance(cfg.thresholds, bool):
        return cfg.thresholds
    raise TrainingError(f"thresholds = {cfg.thresholds} (must be true, false or auto)")


def arithmetic_for(net: Network, requested: str) -> Arithmetic:
    """ "chip" when every population is quantized and chip arithmetic is asked for, else float."""
    if requested not in ("chip", "float"):
        raise TrainingError(f"arithmetic = {requested} (must be chip or float)")
    quantized = all(p.quant is not None for p in net.populations)
    return "chip" if requested == "chip" and quantized else "float"


def finetune_network(
    net: Network,
    data: Split,
    cfg: TrainConfig,
    fmt: NumberFormat | None,
    task: str = "finetune",
    teacher: Network | None = None,
) -> tuple[Network, TrainLog]:
    """Fine-tune `net` (its pruning structure and quantization grid kept) and return it;
    `teacher` (a network with the same inputs and outputs) gives soft targets."""
    arithmetic = arithmetic_for(net, cfg.arithmetic)
    thresholds = thresholds_for(cfg, net, arithmetic)
    twin = Twin(net, arithmetic, fmt, thresholds)
    guide = None
    if teacher is not None and cfg.distill > 0:
        guide = Twin(teacher, "float")
        # A teacher no better than the student on held-out data (the pipeline's input already
        # compressed, say) would pull it down: distil only from a better one.
        if evaluate(guide, data.x_val, data.y_val)[0] <= evaluate(twin, data.x_val, data.y_val)[0]:
            guide = None
    log = train_twin(twin, data, cfg, task, guide)
    log.distilled = guide is not None
    log.thresholds = thresholds
    return twin.to_network(), log


def dense_gradients(
    net: Network, data: Split, cfg: TrainConfig, fmt: NumberFormat | None
) -> dict[str, np.ndarray]:
    """Per projection trained densely (`Twin` below `DENSE_LIMIT`), the gradient of the mean
    training cross-entropy with respect to every weight, present or pruned (post x pre): the
    twin's mask lifted, which changes no forward value since pruned latent weights are zero."""
    twin = Twin(net, arithmetic_for(net, cfg.arithmetic), fmt)
    with deterministic(cfg.seed) as torch:
        dense = {k: layer for k, layer in twin.layers.items() if layer.dense}
        for layer in dense.values():
            layer.mask = torch.ones_like(layer.mask)
        n = len(data.y_train)
        for start in range(0, n, 256):
            idx = np.arange(start, min(n, start + 256))
            target = torch.from_numpy(data.y_train[idx].astype(np.int64))
            loss = torch.nn.functional.cross_entropy(
                twin.scores(_take(data.x_train, idx)), target, reduction="sum"
            )
            (loss / n).backward()
        return {
            k: layer.weight.grad.numpy().copy()
            for k, layer in dense.items()
            if layer.weight.grad is not None
        }
