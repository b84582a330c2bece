"""Float reference simulator of a `Network`, vectorised over the batch.

One call runs T time steps; each step evaluates the populations in the network's order, applying
every projection's operator chain to its source's output of this step (or of the previous step,
for recurrent projections). The neuron update is the one documented in `neurocomp.ir.network`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from ..errors import InputError
from ..inputs import check_input_names
from ..ir import sigma_delta
from ..ir.network import Network, NeuronParams, Population, Projection
from ..ir.ops import Delay, DelayLine, Matrix, Op, SynapseDelayLine
from ..progress import advance


@dataclass
class Trace:
    """What a simulation recorded; every array is (T, batch, *shape).

    `outputs` holds the network's outputs; `spikes`, `v` and `u` hold every population's spikes,
    membrane voltage and synaptic current (only for populations with a current stage) when the
    simulation was asked to record.
    """

    outputs: dict[str, np.ndarray]
    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    v: dict[str, np.ndarray] = field(default_factory=dict)
    u: dict[str, np.ndarray] = field(default_factory=dict)

    def plot(
        self, batch: int = 0, populations: list[str] | None = None, dt: float | None = None
    ) -> Any:
        """Spike raster (a matplotlib Figure) of sample `batch`, one panel per population;
        time in steps, or in seconds when `dt` (seconds) is given."""
        from ..present.plots import spike_raster

        return spike_raster(self.spikes, batch=batch, populations=populations, dt=dt)


def as_inputs(net: Network, x: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Check `x` against the network's inputs: one array (single input) or a dict by input name."""
    if not isinstance(x, Mapping):
        if len(net.inputs) != 1:
            raise InputError(f"the network has inputs {sorted(net.inputs)}: pass a dict of arrays")
        x = {next(iter(net.inputs)): x}
    missing = sorted(set(net.inputs) - set(x))
    if missing:
        raise InputError(f"missing input array(s) for {missing}")
    check_input_names(net.inputs, x)
    out: dict[str, np.ndarray] = {}
    steps = None
    for name, shape in net.inputs.items():
        arr = np.asarray(x[name])
        if arr.dtype.kind not in "biuf":
            raise InputError(f"input '{name}': dtype {arr.dtype} is not numeric")
        if arr.ndim != 2 + len(shape) or tuple(arr.shape[2:]) != tuple(shape):
            raise InputError(
                f"input '{name}': expected shape (T, batch, {', '.join(map(str, shape))})"
                f", got {arr.shape}"
            )
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise InputError(f"input '{name}': contains NaN or inf")
        if steps is not None and arr.shape[:2] != steps:
            raise InputError(f"input '{name}': (T, batch) = {arr.shape[:2]}, others have {steps}")
        steps = arr.shape[:2]
        out[name] = arr
    return out


@dataclass(frozen=True)
class _Neurons:
    """A population's parameters in the simulation's dtype, decays as keep factors 1 - d."""

    keep_v: np.ndarray
    v_gain: np.ndarray
    v_bias: np.ndarray
    v_reset: np.ndarray
    v_threshold: np.ndarray | None
    keep_u: np.ndarray | None
    u_gain: np.ndarray | None
    reset: str
    v_step: np.ndarray | None = None  # subtracted per spike; None: v_threshold
    max_spikes: int | None = 1
    inclusive: bool = False
    spike_first: bool = False


def spike_count(
    v: np.ndarray, threshold: np.ndarray, max_spikes: int | None, inclusive: bool
) -> np.ndarray:
    """Spikes per neuron for membrane `v` (same dtype as v): 0 or 1, or for a multi-spike neuron
    min(max_spikes, floor(v / threshold)) once it crosses, at least 1."""
    crossed = v >= threshold if inclusive else v > threshold
    if max_spikes == 1:
        return crossed.astype(v.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.maximum(np.floor(v / threshold), 1)
    if max_spikes is not None:
        k = np.minimum(k, max_spikes)
    return np.where(crossed, k, 0).astype(v.dtype)


def _reset(p: _Neurons, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    assert p.v_threshold is not None
    if p.reset == "zero":
        return np.where(s > 0, p.v_reset, v)
    return v - s * (p.v_threshold if p.v_step is None else p.v_step)


def _neuron_step(
    p: _Neurons,
    x: np.ndarray,
    u: np.ndarray | None,
    v: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    if p.keep_u is not None and p.u_gain is not None and u is not None:
        u = p.keep_u * u + p.u_gain * x
        drive = u
    else:
        drive = x
    first = None
    if p.spike_first and p.v_threshold is not None:  # decided by the state before this update
        first = spike_count(v, p.v_threshold, p.max_spikes, p.inclusive)
    v = p.keep_v * v + p.v_gain * drive + p.v_bias
    if p.v_threshold is None:
        return v, u, v
    s = first if first is not None else spike_count(v, p.v_threshold, p.max_spikes, p.inclusive)
    return s, u, _reset(p, s, v)


def simulate(
    net: Network,
    x: np.ndarray | Mapping[str, np.ndarray],
    *,
    record: bool = False,
    dtype: type = np.float64,
) -> Trace:
    """Run `net` on input `x` of shape (T, batch, *input_shape) (a dict for several inputs).

    Returns a `Trace` whose `outputs` map each output name to (T, batch, *shape): spikes (0/1,
    or counts for multi-spike populations) for spiking populations, the membrane voltage for
    non-spiking readouts. States start at 0.
    """
    xs = as_inputs(net, x)
    steps, batch = next(iter(xs.values())).shape[:2] if xs else (0, 0)
    state_v: dict[str, np.ndarray] = {
        p.name: np.zeros((batch, *p.shape), dtype) for p in net.populations
    }
    state_u: dict[str, np.ndarray | None] = {
        p.name: np.zeros((batch, *p.shape), dtype) if p.params.du is not None else None
        for p in net.populations
    }
    params = {p.name: _cast(p.params, dtype) for p in net.populations}
    lines: dict[tuple[str, int], Any] = {
        (pr.name, i): DelayLine(op, batch, _op_in_shape(net, pr, i), np.dtype(dtype))
        for pr in net.projections
        for i, op in enumerate(pr.ops)
        if isinstance(op, Delay)
    }
    for pr in net.projections:  # folded projections with synaptic delays
        for i, op in enumerate(pr.ops):
            if isinstance(op, Matrix) and op.delay is not None:
                lines[(pr.name, i)] = SynapseDelayLine(op.weight, op.delay, batch, dtype)
    incoming = {p.name: net.projections_into(p.name) for p in net.populations}
    # Operators in the simulation's dtype: a float64 weight would upcast every float32 step.
    ops = {pr.name: tuple(_cast_op(op, dtype) for op in pr.ops) for pr in net.projections}
    prev: dict[str, np.ndarray] = {
        n: np.zeros((batch, *net.shape_of(n)), dtype) for n in [*net.inputs, *state_v]
    }
    trace = _empty_trace(net, steps, batch, dtype, record)
    sd_states: dict[str, sigma_delta.SigmaDeltaState] = {}
    for t in range(steps):
        advance("simulate (float)", t, steps)
        now = {n: arr[t].astype(dtype, copy=False) for n, arr in xs.items()}
        # Spike-first populations know this step's spikes before anything is updated.
        early = {
            n: spike_count(state_v[n], q.v_threshold, q.max_spikes, q.inclusive)
            for n, q in params.items()
            if q.spike_first and q.v_threshold is not None
        }
        for pop in net.populations:
            total: np.ndarray = np.zeros((batch, *pop.shape), dtype)
            for pr in incoming[pop.name]:
                if pr.recurrent and t == 0 and pr.pre not in early:
                    continue  # no previous step: a recurrent projection delivers nothing yet
                if pr.pre in early:
                    sig = early[pr.pre]
                else:
                    sig = prev[pr.pre] if pr.recurrent else now[pr.pre]
                for i, op in enumerate(ops[pr.name]):
                    sig = _apply(op, lines.get((pr.name, i)), sig)
                total += sig
            out = _update(pop, params[pop.name], total, state_u, state_v, sd_states)
            now[pop.name] = out
            if record:
                _record(trace, pop.name, t, out, state_u[pop.name], state_v[pop.name])
        for o, src in net.outputs.items():
            trace.outputs[o][t] = now[src]
        prev = now
    advance("simulate (float)", steps, steps)
    return trace


def _update(
    pop: Population,
    p: _Neurons,
    total: np.ndarray,
    state_u: dict[str, np.ndarray | None],
    state_v: dict[str, np.ndarray],
    sd_states: dict[str, sigma_delta.SigmaDeltaState],
) -> np.ndarray:
    """One population's step on its summed input: its output; its states updated."""
    if pop.params.sigma_delta is not None:
        out = _sigma_delta_step(pop.params, total, sd_states, pop.name, total.dtype.type)
        state_v[pop.name] = sd_states[pop.name].act
        return out
    out, state_u[pop.name], state_v[pop.name] = _neuron_step(
        p, total, state_u[pop.name], state_v[pop.name]
    )
    return out


def _sigma_delta_step(
    p: NeuronParams,
    x: np.ndarray,
    states: dict[str, sigma_delta.SigmaDeltaState],
    name: str,
    dtype: type,
) -> np.ndarray:
    """A sigma-delta population's step (`ir.sigma_delta`): its payloads, in payload units."""
    if name not in states:
        states[name] = sigma_delta.SigmaDeltaState.zeros(x.shape, dtype)
    assert p.v_threshold is not None and p.sigma_delta is not None and p.payload_unit
    return sigma_delta.step(
        states[name],
        p.v_gain.astype(dtype) * x,
        p.v_bias.astype(dtype),
        p.v_threshold.astype(dtype),
        float(p.payload_unit),
        p.sigma_delta,
    )


def _apply(op: Op, line: Any, sig: np.ndarray) -> np.ndarray:
    """One operator on this step's signal; a stateful one (a delay) through its line."""
    if line is None:
        return op.apply(sig)
    if isinstance(op, Matrix):  # delayed synapses: flat in, the matrix's bias after
        y = line.push(sig.reshape(sig.shape[0], -1))
        if op.bias is not None:
            y = y + op.bias
        return np.asarray(y).reshape(sig.shape[0], *op.out_shape_)
    return np.asarray(line.push(sig))


def _empty_trace(net: Network, steps: int, batch: int, dtype: type, record: bool) -> Trace:
    """Zeroed outputs (and, with `record`, every population's v, spikes and u) for a run."""
    trace = Trace(
        outputs={
            o: np.zeros((steps, batch, *net.shape_of(s)), dtype) for o, s in net.outputs.items()
        }
    )
    if record:
        for p in net.populations:
            trace.v[p.name] = np.zeros((steps, batch, *p.shape), dtype)
            if p.params.spiking:
                binary = p.params.max_spikes == 1 and p.params.sigma_delta is None
                kind = np.uint8 if binary else np.int64  # counts: multi-spike; sigma-delta
                trace.spikes[p.name] = np.zeros((steps, batch, *p.shape), kind)
            if p.params.du is not None:
                trace.u[p.name] = np.zeros((steps, batch, *p.shape), dtype)
    return trace


def _record(
    trace: Trace, name: str, t: int, out: np.ndarray, u: np.ndarray | None, v: np.ndarray
) -> None:
    trace.v[name][t] = v
    if name in trace.spikes:
        trace.spikes[name][t] = out
    if u is not None:
        trace.u[name][t] = u


def _cast_op(op: Op, dtype: type) -> Op:
    """`op` with its float arrays (weights, biases, scales) in `dtype`; the same op if none."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(op):
        value = getattr(op, f.name)
        is_array = isinstance(value, np.ndarray) or sparse.issparse(value)
        if is_array and value.dtype.kind == "f" and value.dtype != dtype:
            changes[f.name] = value.astype(dtype)
    return dataclasses.replace(op, **changes) if changes else op


def _cast(p: NeuronParams, dtype: type) -> _Neurons:
    a: dict[str, np.ndarray] = {k: v.astype(dtype) for k, v in p.arrays().items()}
    return _Neurons(
        keep_v=(1.0 - a["dv"]).astype(dtype),
        v_gain=a["v_gain"],
        v_bias=a["v_bias"],
        v_reset=a["v_reset"],
        v_threshold=a.get("v_threshold"),
        keep_u=(1.0 - a["du"]).astype(dtype) if "du" in a else None,
        u_gain=a.get("u_gain"),
        reset=p.reset,
        v_step=a.get("v_step"),
        max_spikes=p.max_spikes,
        inclusive=p.inclusive,
        spike_first=p.spike_first,
    )


def _op_in_shape(net: Network, pr: Projection, index: int) -> tuple[int, ...]:
    shape = net.shape_of(pr.pre)
    for op in pr.ops[:index]:
        shape = op.out_shape(shape)
    return tuple(shape)
