"""Fit a network to a budget: prune, quantize and fine-tune step by step until it fits.

The search climbs a ladder of (sparsity, weight bits) rungs, least compressed first. The float
network is pruned gradually (global magnitude, fine-tuned in float between rungs, so each rung
starts from the last one's trained weights); at each rung a copy is quantized to the target's
format at that width and fine-tuned in the chip's arithmetic, then mapped onto the target and
measured: cores, synapse memory, energy per inference (a bit-accurate run on the validation
inputs), accuracy on the validation split (held out of every training step). The first rung that
meets the budget with accuracy at least the float network's minus `max_drop` is the answer; a
rung below that floor ends the search with a `FitError`, as does the end of the ladder.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import NeurocompError
from ..ir.network import Network
from ..passes.base import Calibration, PassContext
from ..passes.fold import ensure_folded
from ..passes.prune import prune_global
from ..passes.quantize import Quantize
from ..progress import advance
from ..target.spec import TargetSpec
from .loop import Split, TrainConfig, check_classes, evaluate, finetune_network, split
from .twin import Twin

# (sparsity, weight bits) from least to most compressed; bits above the target's are skipped.
LADDER: tuple[tuple[float, int], ...] = (
    (0.0, 8),
    (0.5, 8),
    (0.75, 8),
    (0.75, 4),
    (0.9, 4),
    (0.95, 4),
    (0.95, 3),
    (0.97, 3),
    (0.98, 2),
)


class FitError(NeurocompError):
    """A budget the network cannot meet without losing more accuracy than allowed."""


@dataclass(frozen=True)
class Budget:
    """What the compiled network may use: cores, synapse memory (bits, all cores), energy per
    inference (joules), and the accuracy it may lose (`max_drop`, 0.01 = 1 point)."""

    cores: int | None = None
    synapse_bits: int | None = None
    energy_j: float | None = None
    max_drop: float = 0.01

    def __post_init__(self) -> None:
        if self.cores is None and self.synapse_bits is None and self.energy_j is None:
            raise FitError("fit: give at least one of cores=, synapse_bits=, energy_j=")
        for key in ("cores", "synapse_bits", "energy_j"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise FitError(f"fit: {key} = {value} (must be > 0)")
        if not 0 <= self.max_drop < 1:
            raise FitError(f"fit: max_drop = {self.max_drop} (must be in [0, 1))")

    @classmethod
    def parse(cls, spec: str | MappingABC[str, Any] | Budget) -> Budget:
        """From "cores=2,max_drop=0.02" (',' or ';' between items) or a dict."""
        if isinstance(spec, Budget):
            return spec
        if not isinstance(spec, (str, MappingABC)):
            raise FitError(
                f"fit: {spec!r} ({type(spec).__name__}); expected 'cores=N,...' or a dict"
            )
        items = dict(spec) if isinstance(spec, MappingABC) else _items(spec)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(items) - known)
        if unknown:
            raise FitError(f"fit: unknown budget item(s) {unknown}; known: {sorted(known)}")
        return cls(
            cores=_number(items, "cores", int),
            synapse_bits=_number(items, "synapse_bits", int),
            energy_j=_number(items, "energy_j", float),
            max_drop=_number(items, "max_drop", float, 0.01),
        )

    def misses(self, m: Measure) -> list[str]:
        """What `m` exceeds, as 'cores 3 > 2' phrases (empty when it fits)."""
        out = []
        if self.cores is not None and m.cores > self.cores:
            out.append(f"cores {m.cores} > {self.cores}")
        if self.synapse_bits is not None and m.synapse_bits > self.synapse_bits:
            out.append(f"synapse_bits {m.synapse_bits} > {self.synapse_bits}")
        if self.energy_j is not None and m.energy_j > self.energy_j:
            out.append(f"energy_j {m.energy_j:.3e} > {self.energy_j:.3e}")
        return out


def _number(items: MappingABC[str, Any], key: str, kind: type, default: Any = None) -> Any:
    """items[key] as an int or float (default where absent), or a FitError naming the item."""
    value = items.get(key)
    if value is None:
        return default
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and value % 1):
            raise ValueError  # True is not a count, 2.5 cores is not 2
        return kind(value)
    except (TypeError, ValueError):
        noun = "an integer" if kind is int else "a number"
        raise FitError(f"fit: {key} = {value!r} (must be {noun})") from None


def _items(text: str) -> dict[str, str]:
    out = {}
    for part in re.split(r"[;,]", text):
        if not part.strip():
            continue
        if "=" not in part:
            raise FitError(f"fit: '{part.strip()}' is not key=value (e.g. cores=2,max_drop=0.01)")
        key, value = part.split("=", 1)
        out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class Measure:
    """A quantized network on the target: resources, energy per inference (J), violations."""

    cores: int
    synapse_bits: int
    synapses: int
    energy_j: float
    violations: tuple[str, ...] = ()


@dataclass(frozen=True)
class FitStep:
    """One rung of the search: what was tried and what it measured."""

    sparsity: float
    weight_bits: int
    val_accuracy: float
    measure: Measure
    fits: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "sparsity": self.sparsity,
            "weight_bits": self.weight_bits,
            "val_accuracy": self.val_accuracy,
            "cores": self.measure.cores,
            "synapse_bits": self.measure.synapse_bits,
            "synapses": self.measure.synapses,
            "energy_per_inference_j": self.measure.energy_j,
            "violations": list(self.measure.violations),
            "fits": self.fits,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class FitResult:
    """The network that fits (quantized for the target), the path taken, the float baseline."""

    network: Network
    budget: Budget
    baseline_accuracy: float
    path: list[FitStep] = field(default_factory=list)

    @property
    def final(self) -> FitStep:
        return self.path[-1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": dataclasses.asdict(self.budget),
            "baseline_val_accuracy": self.baseline_accuracy,
            "path": [s.to_dict() for s in self.path],
        }


def measure(net: Network, spec: TargetSpec, x: Any) -> Measure:
    """Map a quantized network onto `spec` and run it bit-accurately on x for its energy."""
    from ..analysis.energy import energy_report
    from ..backends.registry import engine
    from ..lowering import to_integers
    from ..mapping import map_network

    intnet, violations = to_integers(net, spec)
    mapping = map_network(intnet, spec)
    violations += mapping.violations
    bits = sum(int(c.usage()["synapse_bits"]) for c in mapping.cores)
    if violations:
        return Measure(
            len(mapping.cores), bits, intnet.synapses, float("inf"), tuple(map(str, violations))
        )
    run = engine("reference").run(intnet, x, spec.format, mapping=mapping)
    assert run.counts is not None
    report = energy_report(intnet, run.counts, spec, mapping.usage(spec))
    return Measure(mapping.cores_used, bits, intnet.synapses, report.energy_per_inference_j)


def target_quantize(spec: TargetSpec, bits: int) -> Quantize:
    """The target's quantize pass at `bits` weight bits."""
    fmt = spec.format
    return Quantize(
        weight_bits=bits,
        state_bits=fmt.state_bits,
        decay_bits=fmt.decay_bits,
        overflow="wrap" if fmt.overflow == "wrap" else "saturate",
        threshold_bits=fmt.threshold_bits,
        bias_bits=fmt.bias_bits,
    )


@dataclass(frozen=True)
class FitConfig:
    """How the search trains: epochs per rung, validation share, seed, the ladder."""

    epochs: int = 8
    lr: float = 5e-3
    val: float = 0.2
    seed: int = 0
    ladder: tuple[tuple[float, int], ...] = LADDER


def fit_network(
    net: Network,
    spec: TargetSpec,
    calibration: Calibration,
    budget: Budget | str | MappingABC[str, Any],
    config: FitConfig | None = None,
) -> FitResult:
    """Prune, quantize and fine-tune `net` rung by rung until it meets `budget` on `spec`.

    calibration: labelled data (x (T, batch, ...), labels); a validation split of it judges
    every step. Raises FitError when no rung meets the budget within the accuracy floor."""
    cfg = config or FitConfig()
    budget = Budget.parse(budget)
    check_classes(net, calibration.labels)
    data = split(calibration, cfg.val, cfg.seed)
    net, _ = ensure_folded(net)
    baseline = evaluate(Twin(net, "float"), data.x_val, data.y_val)[0]
    floor = baseline - budget.max_drop
    ladder = [(s, b) for s, b in cfg.ladder if b <= spec.format.weight_bits]
    train = TrainConfig(epochs=cfg.epochs, lr=cfg.lr, seed=cfg.seed)
    result = FitResult(net, budget, baseline)
    current, original, done_sparsity = net, net.synapses, 0.0
    for i, (sparsity, bits) in enumerate(ladder):
        advance("fit", i, len(ladder))
        if sparsity > done_sparsity:  # the float network carries the pruning to later rungs
            current, _ = finetune_network(
                prune_global(current, sparsity, original),
                data,
                dataclasses.replace(train, arithmetic="float"),
                None,
                f"fit: prune {sparsity:.0%}",
            )
            done_sparsity = sparsity
        step, candidate = _rung(current, data, spec, train, sparsity, bits, budget)
        result.path.append(step)
        if step.val_accuracy < floor:
            raise FitError(_failure(budget, baseline, result.path, spec.name))
        if step.fits:
            advance("fit", len(ladder), len(ladder))
            result.network = candidate
            return result
    raise FitError(_failure(budget, baseline, result.path, spec.name))


def _rung(
    current: Network,
    data: Split,
    spec: TargetSpec,
    train: TrainConfig,
    sparsity: float,
    bits: int,
    budget: Budget,
) -> tuple[FitStep, Network]:
    t0 = time.perf_counter()
    ctx = PassContext(calibration=Calibration(data.x_train))
    quantized = target_quantize(spec, bits).run(current, ctx).network
    tuned, log = finetune_network(quantized, data, train, spec.format, f"fit: {bits}-bit")
    m = measure(tuned, spec, data.x_val)
    fits = not m.violations and not budget.misses(m)
    step = FitStep(sparsity, bits, log.val_after, m, fits, time.perf_counter() - t0)
    return step, tuned


def _failure(budget: Budget, baseline: float, path: list[FitStep], target: str) -> str:
    last = path[-1]
    floor = baseline - budget.max_drop
    tried = "; ".join(
        f"{s.sparsity:.0%} pruned {s.weight_bits}-bit: {s.measure.cores} cores, "
        f"val {s.val_accuracy:.4f}"
        for s in path
    )
    if last.val_accuracy < floor:
        why = (
            f"accuracy {last.val_accuracy:.4f} fell below the floor {floor:.4f} "
            f"(float {baseline:.4f} - max_drop {budget.max_drop})"
        )
    else:
        why = "the most compressed step still misses it: " + (
            ", ".join(budget.misses(last.measure)) or "; ".join(last.measure.violations)
        )
    return f"fit: cannot meet the budget on target '{target}': {why}. Tried: {tried}"


def as_calibration(x: Any, labels: np.ndarray | None) -> Calibration:
    """Labelled calibration data for `fit`, or a FitError saying what is missing."""
    if x is None or labels is None:
        raise FitError("fit needs labelled calibration data (calibration= and labels=)")
    cal = Calibration.of(x, labels)
    assert cal is not None
    return cal


def fit_for_compile(
    net: Network,
    spec: TargetSpec,
    calibration: Any,
    labels: np.ndarray | None,
    budget: Budget | str | MappingABC[str, Any],
    passes: Any = None,
) -> tuple[Network, dict[str, Any]]:
    """What `compile(fit=...)` runs: the fitted network (quantized for `spec`) and its report,
    whose `pipeline` and `weight_bits` describe the step chosen."""
    if passes:
        raise FitError("fit: give either passes or fit (fit chooses the passes itself)")
    result = fit_network(net, spec, as_calibration(calibration, labels), budget)
    step = result.final
    pipeline = (
        f"fit{{{_budget_text(result.budget)}}}: prune_global{{sparsity={step.sparsity}}},"
        f"quantize{{weight_bits={step.weight_bits}}},finetune"
    )
    report = {"pass": "fit", "changed": True, **result.to_dict()}
    return result.network, {"report": report, "pipeline": pipeline, "weight_bits": step.weight_bits}


def _budget_text(b: Budget) -> str:
    items = {k: v for k, v in dataclasses.asdict(b).items() if v is not None}
    return ",".join(f"{k}={v}" for k, v in items.items())
