"""compile: network -> passes -> integer program -> mapping, checked against a target.

The target's number format drives quantization: a pipeline without `quantize` gets one at the
target's weight width, and a `quantize` in the pipeline inherits the target's state width, decay
precision and overflow behaviour. Nothing is written here; `Program.save` writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from scipy import sparse

from .backends.registry import engine, engines_for
from .errors import ResourceLimitError, Violation
from .ir.counts import weight_count
from .ir.integer import IntNetwork
from .ir.network import Network
from .ir.ops import Conv, Dense, Matrix
from .ir.timing import output_lags
from .lowering import to_integers
from .mapping import ChipMapping, map_network
from .passes.base import (
    Calibration,
    Pass,
    PassContext,
    PassError,
    as_passes,
    describe,
    run_pipeline,
)
from .passes.fold import compose
from .passes.quantize import Quantize
from .program.artifact import Program
from .program.schema import CompileSummary
from .sim.float_sim import simulate
from .target.spec import TargetSpec, load_target
from .train import passes as _training  # noqa: F401  (registers finetune, prune_gradual, ...)


def _overflow(mode: str) -> Literal["saturate", "wrap"]:
    return "wrap" if mode == "wrap" else "saturate"


def target_pipeline(passes: str | Sequence[Pass] | None, spec: TargetSpec) -> list[Pass]:
    """The user's passes, with quantization set to (and checked against) the target's format,
    the target's quantize before the first pass that trains if none is given, and a one-shot
    prune before a pass that trains run gradually (`gradual_before_training`)."""
    fmt = spec.format
    out: list[Pass] = []
    seen = False
    for p in as_passes(passes):
        if isinstance(p, Quantize):
            if p.weight_bits > fmt.weight_bits:
                raise PassError(
                    f"quantize: weight_bits = {p.weight_bits} exceeds target "
                    f"'{spec.name}' maximum {fmt.weight_bits}"
                )
            p = dataclasses.replace(
                p,
                state_bits=fmt.state_bits,
                decay_bits=fmt.decay_bits,
                overflow=_overflow(fmt.overflow),
                threshold_bits=fmt.threshold_bits,
                bias_bits=fmt.bias_bits,
            )
            seen = True
        out.append(p)
    out = _training.gradual_before_training(out)
    if not seen:
        # Before the first pass that trains, so that training sees the chip's arithmetic.
        first = next((i for i, p in enumerate(out) if getattr(p, "trains", False)), len(out))
        out.insert(
            first,
            Quantize(
                weight_bits=fmt.weight_bits,
                state_bits=fmt.state_bits,
                decay_bits=fmt.decay_bits,
                overflow=_overflow(fmt.overflow),
                threshold_bits=fmt.threshold_bits,
                bias_bits=fmt.bias_bits,
            ),
        )
    return out


def _activity(net: Network, cal: Calibration | None) -> dict[str, np.ndarray] | None:
    """Mean spikes per step of every neuron (flat) on the calibration input, for placement."""
    if cal is None:
        return None
    trace = simulate(net, cal.x, record=True)
    return {k: v.mean(axis=(0, 1)).reshape(-1) for k, v in trace.spikes.items()}


def _summary(
    net: Network, intnet: IntNetwork, spec: TargetSpec, mapping: ChipMapping, pipeline: list[Pass]
) -> CompileSummary:
    """The compile summary: cores, synapses kept, pipeline, placement."""
    return CompileSummary(
        target=spec.name,
        chips=spec.chips,
        cores_used=mapping.cores_used,
        cores_available=spec.cores_available,
        cores_lower_bound=mapping.lower_bound["cores"],
        cores_lower_bound_packing=mapping.lower_bound.get("packing"),
        cores_lower_bound_lp=mapping.lower_bound.get("lp"),
        cores_lower_bound_lp_method=mapping.bound_method or None,
        neurons=intnet.neurons,
        synapses=intnet.synapses,
        synapses_input=folded_synapses(net),
        weights_input=weight_count(net),
        weight_bits=next((p.weight_bits for p in pipeline if isinstance(p, Quantize)), None),
        pipeline=",".join(describe(p, full=isinstance(p, Quantize)) for p in pipeline),
        cores_per_layer={
            p.name: len(
                {c.index for c in mapping.cores for b in c.blocks if b.population == p.name}
            )
            for p in intnet.populations
        },
        placement=mapping.placement.get("method"),
        traffic_hops=mapping.placement.get("traffic_hops"),
        dt=net.dt,
        output_lag_steps=output_lags(intnet, spec.format.synapse_delay),
    )


def _arrays(value: Any, depth: int = 2) -> list[np.ndarray]:
    """The arrays an operator holds (a sparse matrix's arrays, nested operators' too)."""
    if isinstance(value, np.ndarray):
        return [value]
    if sparse.issparse(value):
        return [a for a in vars(value).values() if isinstance(a, np.ndarray)]
    if depth and dataclasses.is_dataclass(value):
        return [a for v in vars(value).values() for a in _arrays(v, depth - 1)]
    return []


def _owns_weights(net: Network, others: Sequence[Network]) -> bool:
    """Whether no synapse matrix of `net` shares memory with an operator of `others` (the
    networks the caller of compile still holds): then lowering may write over them."""
    if any(other is net for other in others):
        return False
    ours = [
        a
        for pr in net.projections
        for op in pr.ops
        if isinstance(op, Matrix)
        for a in _arrays(op.weight)
        if a.size
    ]
    theirs = [
        a for other in others for pr in other.projections for op in pr.ops for a in _arrays(op)
    ]
    return not any(np.may_share_memory(a, b) for a in ours for b in theirs)


def folded_synapses(net: Network) -> int:
    """Connections of `net` counted as the chip counts them: the non-zero entries of each
    projection's operators folded into one matrix (a dense layer without folding it)."""
    total = 0
    for pr in net.projections:
        shape = net.shape_of(pr.pre)
        if len(pr.ops) == 1 and isinstance(pr.ops[0], Dense):
            total += pr.ops[0].synapses(shape)
        elif len(pr.ops) == 1 and isinstance(pr.ops[0], Matrix):
            total += int(pr.ops[0].weight.nnz)
        elif len(pr.ops) == 1 and isinstance(pr.ops[0], Conv):
            total += pr.ops[0].nonzeros(shape)
        else:
            total += int(compose(pr.ops, shape, pr.name).weight.nnz)
    return total


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """numpy's transparent-huge-page advice off for the arrays made inside (restored after).

    A compile's large arrays are new memory written once. With the advice, each 2 MB huge page
    must be a free 2 MB block, and on a virtual machine that hands free memory back to its host
    (virtio balloon free page reporting) those blocks are the ones handed back: the first write
    faults them in from the host again. Measured on this project's machines
    (`benchmarks/fresh_memory.py`): 2 GB as new 1 GB arrays took 0.2-14.8 s with the advice
    (by how long ago the memory was freed) and 0.9-1.3 s without it."""
    try:
        from numpy.core.multiarray import _set_madvise_hugepage  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - a numpy without the switch
        yield
        return
    before = _set_madvise_hugepage(False)
    try:
        yield
    finally:
        _set_madvise_hugepage(before)


def build(
    net: Network,
    target: str | TargetSpec = "reference",
    passes: str | Sequence[Pass] | None = None,
    calibration: np.ndarray | Mapping[str, np.ndarray] | None = None,
    labels: np.ndarray | None = None,
    chips: int | None = None,
    placement: str = "auto",
    fit: Any = None,
) -> tuple[Program | None, list[Violation]]:
    """Everything `compile` does, returning the violations instead of raising on them."""
    with small_pages():
        return _build(net, target, passes, calibration, labels, chips, placement, fit)


def _build(
    net: Network,
    target: str | TargetSpec,
    passes: str | Sequence[Pass] | None,
    calibration: np.ndarray | Mapping[str, np.ndarray] | None,
    labels: np.ndarray | None,
    chips: int | None,
    placement: str,
    fit: Any,
) -> tuple[Program | None, list[Violation]]:
    spec = load_target(target, chips)
    cal = Calibration.of(calibration, labels)
    fitted: dict[str, Any] = {}
    source = net
    if fit is not None:  # the search prunes, quantizes and fine-tunes (neurocomp.train.fit)
        from .train.fit import fit_for_compile

        net, fitted = fit_for_compile(net, spec, calibration, labels, fit, passes)
    pipeline = [] if fitted else target_pipeline(passes, spec)
    ctx = PassContext(calibration=cal, options={"format": spec.format})
    result = run_pipeline(net, pipeline, ctx)
    activity = _activity(result.network, cal)
    # The float weights after the passes are written over by their integers where no network
    # the caller holds shares them (the passes made them; the fit path may not have).
    reuse = _owns_weights(result.network, (net, source))
    intnet, violations = to_integers(result.network, spec, reuse_weights=reuse)
    reports = [fitted["report"]] if fitted else result.reports
    del result  # the float network after passes: not needed from here on (peak memory)
    for name in engines_for(spec):
        violations += engine(name).violations(intnet, spec.format)
    mapping = map_network(intnet, spec, activity, placement)
    violations += mapping.violations
    if violations:
        return None, violations
    summary = _summary(source, intnet, spec, mapping, pipeline)
    if fitted:  # the network was quantized and trained by the search, not by a pipeline
        summary = summary.model_copy(
            update={"weight_bits": fitted["weight_bits"], "pipeline": fitted["pipeline"]}
        )
    program = Program(
        target=spec,
        net=intnet,
        mapping=mapping,
        dt=net.dt,
        reset=str(net.metadata.get("reset", "zero")),
        pipeline=summary.pipeline,
        pass_reports=reports,
        summary=summary,
    )
    return program, []


def compile_network(
    net: Network,
    target: str | TargetSpec = "reference",
    passes: str | Sequence[Pass] | None = None,
    calibration: np.ndarray | Mapping[str, np.ndarray] | None = None,
    labels: np.ndarray | None = None,
    chips: int | None = None,
    placement: str = "auto",
    fit: Any = None,
) -> Program:
    """Compile `net` for `target`; raises ResourceLimitError listing every violation.

    fit: a budget ("cores=2,max_drop=0.01", a dict or a `neurocomp.train.fit.Budget`): prune,
    quantize and fine-tune until the network fits (needs labelled calibration data)."""
    program, violations = build(net, target, passes, calibration, labels, chips, placement, fit=fit)
    if program is None:
        raise ResourceLimitError(load_target(target, chips).name, violations)
    return program
