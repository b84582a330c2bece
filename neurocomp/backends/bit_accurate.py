"""neurocomp's own bit-accurate engine ("reference"): runs an integer program with the target's
integer arithmetic, counting every event.

Per step, per population (all integers, int64; D = decay_bits, U = 2**D):

    drive = sum over projections of W s_pre (+ bias)       (recurrent ones: s_pre of step t-1;
                                                            a synapse with delay d: d steps more)
    u = decay(u, du) + drive, then overflow                (u = drive without a current stage)
    v = decay(v, dv) + u + bias, then overflow
    s = v > threshold (v >= threshold if inclusive);  v = v_reset where s  (or v - s threshold)

A multi-spike population (max_spikes != 1) sends graded spikes: s = its spike count
(`ir.graded.spike_counts`), the payload each synapse multiplies; such a spike is still one event
(one SPIKES count, one message, one synaptic op per fan-out synapse).

decay(x, d) = (x * (U - d)) >> D, truncated toward zero or floored as the chip says; overflow
saturates or wraps at `state_bits` signed bits. With a mapping, events are counted per step and
per core: spikes, synaptic ops (at the receiving core), neuron updates (active: non-zero drive or
state), spike messages within a tile and between tiles with their east-west and north-south hops.
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..env import env_int
from ..errors import InputError, Violation
from ..ir.graded import spike_counts
from ..ir.integer import IntNetwork, IntPopulation, IntProjection
from ..ir.ops import SynapseDelayLine
from ..ir.sigma_delta import SigmaDeltaState
from ..mapping import Mapping
from ..progress import advance
from ..target.spec import NEURON_MODELS, NumberFormat
from . import jit
from . import sigma_delta as sd
from .base import RunResult
from .counting import Counter, counter_for, fanout
from .events import COUNTERS, EventCounts, EventKind
from .kernels import ProjectionKernel

__all__ = ["COUNTERS", "ENGINE", "EventCounts", "RunResult", "Semantics", "integer_inputs", "run"]


def Semantics(  # the old class name, kept as a constructor
    decay_rounding: str = "toward_zero",
    state_bits: int = 24,
    overflow: str = "saturate",
    current_overflow: str = "saturate",
    weight_shift: int = 0,
    threshold_shift: int = 0,
    synapse_delay: int = 0,
    activation_bits: int = 0,
) -> NumberFormat:
    """A chip's integer arithmetic as a `NumberFormat` (the one definition of it); the storage
    widths, which only the lowering checks, are set to their widest."""
    return NumberFormat(
        weight_bits=32,
        state_bits=state_bits,
        decay_bits=24,
        decay_rounding=decay_rounding,
        threshold_bits=62,
        bias_bits=62,
        overflow=overflow,
        neuron_models=NEURON_MODELS,
        current_overflow=current_overflow,
        weight_shift=weight_shift,
        threshold_shift=threshold_shift,
        synapse_delay=synapse_delay,
        activation_bits=activation_bits,
    )


def _overflow(x: np.ndarray, bits: int, mode: str) -> np.ndarray:
    """Saturate to +-(2**(bits-1) - 1), or wrap into (-2**(bits-1), 2**(bits-1)] as Loihi (and
    Lava's bit-accurate LIF) does: x - 2**bits above the range, x + 2**bits at or below its
    bottom (applied modulo 2**bits, so any overshoot lands in range)."""
    m = 1 << (bits - 1)
    if mode == "wrap":  # modulo 2**bits: a bitwise and in two's complement
        return ((x + (m - 1)) & (2 * m - 1)) - (m - 1)
    return np.clip(x, -(m - 1), m - 1)


def _wrap_signed(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap to `bits` signed bits (an int16 port, for instance)."""
    m = 1 << (bits - 1)
    return ((x + m) & ((1 << bits) - 1)) - m


def integer_inputs(net: IntNetwork, x: object) -> dict[str, np.ndarray]:
    """Check input spikes: integer-valued (T, batch, *shape) arrays, one per network input."""
    return {k: v.astype(np.int64, copy=False) for k, v in _checked_inputs(net, x).items()}


def _checked_inputs(net: IntNetwork, x: object) -> dict[str, np.ndarray]:
    """`integer_inputs` keeping an integer array's own dtype (a uint8 spike train stays uint8:
    the kernels read it as it is, no int64 copy); bool as uint8, floats as int64."""
    xs = x if isinstance(x, dict) else {next(iter(net.inputs)): x}
    out = {}
    for name, shape in net.inputs.items():
        if name not in xs:
            raise InputError(f"missing input array for '{name}'")
        arr = np.asarray(xs[name])
        if arr.ndim != 2 + len(shape) or tuple(arr.shape[2:]) != tuple(shape):
            raise InputError(
                f"input '{name}': expected shape (T, batch, "
                f"{', '.join(map(str, shape))}), got {arr.shape}"
            )
        if arr.dtype.kind not in "biuf" or (
            arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr)))
        ):
            raise InputError(
                f"input '{name}': a chip takes integer spike counts; got "
                f"non-integer values ({arr.dtype})"
            )
        if arr.dtype.kind == "b":
            arr = arr.view(np.uint8)
        elif arr.dtype.kind == "f":
            arr = arr.astype(np.int64)
        # contiguous once here: a slice of a larger set (x[:, :100]) would otherwise be copied
        # by each reader that needs it so (the fused scan's octets, the counting's columns)
        out[name] = np.ascontiguousarray(arr.reshape(arr.shape[0], arr.shape[1], -1))
    return out


def _extremes(xs: dict[str, np.ndarray]) -> dict[str, tuple[int, int]]:
    """Each input's smallest and largest entry ((0, 0) where empty), found once per run (the
    kernels' payload bounds and the counter's graded inputs both read them)."""
    return {k: (int(a.min()), int(a.max())) if a.size else (0, 0) for k, a in xs.items()}


def _binary(pop: IntPopulation) -> bool:
    """Whether `pop` sends one-bit spikes (uint8 series); graded ones send int64 counts."""
    return pop.spiking and not pop.graded


@dataclass
class _State:
    """Per-population integer state of a run and its series (T, batch, n): outputs (spikes,
    uint8, for spiking populations, int64 spike counts for graded ones, voltages otherwise),
    and, when recording or counting, voltages, currents and finished drives."""

    u: dict[str, np.ndarray]
    v: dict[str, np.ndarray]
    series: dict[str, np.ndarray]
    rec_v: dict[str, np.ndarray] = field(default_factory=dict)
    rec_u: dict[str, np.ndarray] = field(default_factory=dict)
    drive: dict[str, np.ndarray] = field(default_factory=dict)

    count: bool = False
    # counting with the compiled scan: each population's neuron -> core, and each scan's
    # active neurons over the run (the scans add their counts per step and core straight
    # into the counter's, and return their total)
    cores: dict[str, np.ndarray] = field(default_factory=dict)
    n_cores: int = 0
    act_total: dict[str, int] = field(default_factory=dict)
    # ... and a population's spikes through its table's columns, summed as it fired
    col_sums: dict[str, np.ndarray] = field(default_factory=dict)
    # ... and the events of a source counted inside the compiled scan, by source
    counter: Counter | None = None
    events: dict[str, jit.EventTable] = field(default_factory=dict)
    # ... and the spikes over the run of a population with no routing table, whose scan
    # adds them per step and core straight into the counter's
    core_spikes: dict[str, int] = field(default_factory=dict)
    sigma_delta: dict[str, SigmaDeltaState] = field(default_factory=dict)

    @classmethod
    def of(cls, net: IntNetwork, steps: int, batch: int, record: bool, count: bool) -> _State:
        zeros = {p.name: np.zeros((batch, p.size), np.int64) for p in net.populations}
        series = {
            p.name: np.zeros((steps, batch, p.size), np.uint8 if _binary(p) else np.int64)
            for p in net.populations
        }
        state = cls({k: z.copy() for k, z in zeros.items()}, zeros, series, count=count)
        if record:
            state.rec_v = {
                p.name: np.zeros((steps, batch, p.size), np.int64) for p in net.populations
            }
        return state

    def event_table(self, name: str, n: int, steps: int) -> jit.EventTable:
        """Source `name`'s events to count inside the compiled scan (made once per run)."""
        assert self.counter is not None
        if name not in self.events:
            self.events[name] = self.counter.event_table(name, n, steps)
        return self.events[name]

    def keep_for_counting(self, pop: IntPopulation) -> None:
        """Keep the series that `active` needs (voltages, currents, drives) for `pop`."""
        shape = self.series[pop.name].shape
        if pop.name not in self.rec_v:
            self.rec_v[pop.name] = np.zeros(shape, np.int64)
        if pop.du is not None:
            self.rec_u[pop.name] = np.zeros(shape, np.int64)
        self.drive[pop.name] = np.zeros(shape, np.int64)

    def active(self, name: str) -> np.ndarray:
        """Neurons with non-zero drive or state, (T, n) summed over the batch."""
        act = self.drive[name] != 0
        act |= self.rec_v[name] != 0
        if name in self.rec_u:
            act |= self.rec_u[name] != 0
        return act.sum(axis=1, dtype=np.int64)


def _payload(
    net: IntNetwork, name: str, extremes: dict[str, tuple[int, int]], fmt: NumberFormat
) -> int:
    """The largest |value| source `name` can send: its input's largest entry (`extremes`:
    each input's (min, max)), 1 for spikes, the largest spike count for graded spikes, the
    state range for a voltage read-out."""
    if name in extremes:
        lo, hi = extremes[name]
        return max(abs(lo), abs(hi))
    pop = net.population(name)
    if pop.sigma_delta is not None:
        return 1 << (fmt.state_bits - 1)
    if pop.graded:
        return _largest_count(pop, fmt)
    if pop.spiking:
        return 1
    return 1 << (fmt.state_bits - 1)


def _largest_count(pop: IntPopulation, fmt: NumberFormat) -> int:
    """A bound on the spike count `spike_counts` can give `pop`: its cap, else the largest
    state over its smallest threshold (over 1 where a threshold is not positive, as there)."""
    if pop.max_spikes is not None:
        return max(pop.max_spikes, 1)
    assert pop.threshold is not None  # graded implies spiking
    top = (1 << (fmt.state_bits - 1)) - 1
    thr = np.asarray(pop.threshold << fmt.threshold_shift)
    smallest = int(thr.min()) if thr.size else 1
    return top if smallest <= 0 else max(top // smallest, 1)


_KERNELS: weakref.WeakKeyDictionary[IntProjection, dict[tuple[int, bool], ProjectionKernel]]
_KERNELS = weakref.WeakKeyDictionary()  # a program's kernels, built once per payload


def _kernels(
    net: IntNetwork,
    extremes: dict[str, tuple[int, int]],
    fmt: NumberFormat,
    exact_integers: bool,
) -> dict[str, ProjectionKernel]:
    """Each projection's kernel for this run's payloads; the transposed weights are kept with
    the (immutable) projection, so repeated runs of a program build them once."""
    out = {}
    for pr in net.projections:
        key = (_payload(net, pr.pre, extremes, fmt), exact_integers)
        per = _KERNELS.setdefault(pr, {})
        if key not in per:
            per[key] = ProjectionKernel(pr.weight, key[0], exact_integers=exact_integers)
        out[pr.name] = per[key]
    return out


def _layerwise(net: IntNetwork) -> bool:
    """Whether every population can run over all steps at once, in order: only itself (a
    recurrent loop) or earlier populations and inputs feed it."""
    index = {p.name: i for i, p in enumerate(net.populations)}
    if any(p.sigma_delta is not None for p in net.populations):
        return False  # sigma-delta neurons run step by step (`backends.sigma_delta`)
    if any(pr.delay is not None for pr in net.projections):
        return False  # per-synapse delay lines run step by step
    return all(
        pr.pre not in index or index[pr.pre] < index[pr.post] or pr.pre == pr.post
        for pr in net.projections
    )


_ROWS_PER_CALL = 1 << 22  # output entries per kernel call: bounds the float temporaries


def _apply(kernel: ProjectionKernel, src: np.ndarray) -> np.ndarray:
    """kernel over a (T, batch, pre) series, in row chunks: (T, batch, post) int64."""
    flat = src.reshape(-1, src.shape[-1])
    step = max(1, _ROWS_PER_CALL // max(kernel.post, 1))
    out = np.empty((flat.shape[0], kernel.post), np.int64)
    for a in range(0, flat.shape[0], step):
        out[a : a + step] = kernel(flat[a : a + step])
    return out.reshape(*src.shape[:-1], kernel.post)


def _decay(x: np.ndarray, d: np.ndarray, bits: int, rounding: str) -> np.ndarray:
    q = x * ((1 << bits) - d)
    if rounding == "floor":
        return q >> bits
    # toward zero: a negative q rounds up, so add 2**bits - 1 before the (flooring) shift
    q += (q >> 63) & ((1 << bits) - 1)
    return q >> bits


def _neurons(
    pop: IntPopulation, drive: np.ndarray, state: _State, fmt: NumberFormat, bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One step of `pop`'s neurons: the current u, the voltage v after reset, the spikes."""
    current_overflow = fmt.current_overflow or fmt.overflow
    if pop.du is not None:
        uu = _overflow(
            _decay(state.u[pop.name], pop.du, bits, fmt.decay_rounding) + drive,
            fmt.state_bits,
            current_overflow,
        )
        state.u[pop.name] = uu
    else:
        uu = drive
    vv = _decay(state.v[pop.name], pop.dv, bits, fmt.decay_rounding)
    vv += uu
    vv += pop.bias << fmt.weight_shift
    vv = _overflow(vv, fmt.state_bits, fmt.overflow)
    s = None
    if pop.threshold is not None:
        threshold = pop.threshold << fmt.threshold_shift
        s = spike_counts(vv, threshold, pop.max_spikes, pop.inclusive)  # 0/1, or counts
        if pop.reset == "zero":
            vv = np.where(s > 0, pop.v_reset << fmt.weight_shift, vv)
        else:
            vv = vv - s * threshold
    state.v[pop.name] = vv
    return uu, vv, s


def _finish_drive(drive: np.ndarray, fmt: NumberFormat) -> np.ndarray:
    if fmt.activation_bits:
        drive = _wrap_signed(drive, fmt.activation_bits)
    return drive << fmt.weight_shift if fmt.weight_shift else drive


def _step(
    pop: IntPopulation, t: int, drive: np.ndarray, state: _State, fmt: NumberFormat, bits: int
) -> None:
    """Neurons of `pop` at step t on their summed drive; stores the series."""
    uu, vv, s = _neurons(pop, drive, state, fmt, bits)
    state.series[pop.name][t] = vv if s is None else s
    if state.rec_v:
        state.rec_v[pop.name][t] = vv
    if state.drive:
        state.drive[pop.name][t] = drive
        if pop.name in state.rec_u:
            state.rec_u[pop.name][t] = uu


def _step_sigma_delta(pop: IntPopulation, t: int, drive: np.ndarray, state: _State) -> None:
    """A sigma-delta population at step t: payloads into the series, activation as its v."""
    payload, act = sd.step(pop, drive, state.sigma_delta)
    state.series[pop.name][t] = payload
    state.v[pop.name] = act
    if state.rec_v:
        state.rec_v[pop.name][t] = act
    if state.drive:
        state.drive[pop.name][t] = drive


def _source(name: str, xs: dict[str, np.ndarray], state: _State) -> np.ndarray:
    return xs[name] if name in xs else state.series[name]


def _loop_drive(
    d: np.ndarray,
    t: int,
    loops: list[IntProjection],
    kern: dict[str, ProjectionKernel],
    series: np.ndarray,
    fmt: NumberFormat,
) -> None:
    """Add a population's own recurrent input of step t-1 to its drive d, then finish d."""
    if t:
        for pr in loops:
            d += kern[pr.name](series[t - 1])
            if pr.bias is not None:
                d += pr.bias
    d[:] = _finish_drive(d, fmt)


def _fire(
    v: np.ndarray,
    thr: np.ndarray,
    reset: np.ndarray,
    pop: IntPopulation,
    series: np.ndarray,
    t: int,
) -> None:
    """Spikes (or graded counts) where v passes the threshold (into series[t]); v reset in
    place."""
    if pop.max_spikes == 1:
        s = v >= thr if pop.inclusive else v > thr
    else:
        s = spike_counts(v, thr, pop.max_spikes, pop.inclusive)
    series[t] = s
    if pop.reset == "zero":
        np.copyto(v, reset, where=s > 0)
    else:
        v -= s * thr


def _compiled_fits(pop: IntPopulation) -> bool:
    """Whether the compiled scan (one-bit spikes, the > test) runs `pop`."""
    return not pop.spiking or (_binary(pop) and not pop.inclusive)


_FUSE = os.environ.get("NEUROCOMP_FUSE", "auto")  # auto | never | always (measuring)
# the batch from which events are counted inside the compiled scan (`jit.EventTable`); below
# it `jit.scatter` reads the finished series once (measured: one stream's series is small,
# and a separate tight pass over it beats the per-step work inside the scan)
_SCAN_COUNTS_FROM = env_int("NEUROCOMP_SCAN_COUNTS_FROM", 2, minimum=1)
# inputs' events counted inside the fused scan too (measured slower than one pass after it)
_INPUTS_IN_SCAN = bool(os.environ.get("NEUROCOMP_INPUTS_IN_SCAN"))


def _fuses(kernel: ProjectionKernel, src: np.ndarray) -> bool:
    """Whether a projection's sums run inside the compiled scan (`jit.Synapses`): where its
    source sends spikes or small counts and the float kernels would be chosen (not the exact
    int64 fall-back, which stays the plain path tests compare against)."""
    if _FUSE == "never" or kernel.dtype is np.int64:
        return False
    return _FUSE == "always" or src.dtype == np.uint8 or kernel.payload <= 1 << 8


def _fused_synapses(
    pre: str,
    kernel: ProjectionKernel,
    src: np.ndarray,
    delay: int,
    state: _State,
    xs: dict[str, np.ndarray],
) -> jit.Synapses:
    """The fused scan's synapses; counting with `_INPUTS_IN_SCAN`, an input's events per step
    are summed on the way unless another projection of it did so already (by default `_count`
    counts them after the run, in one compiled pass)."""
    events = None
    if state.count and pre in xs and pre not in state.events and _INPUTS_IN_SCAN:
        events = state.event_table(pre, src.shape[2], src.shape[0])
        if delay:  # the scan reads the source's last step nowhere: counted here
            events.add_row(src.shape[0] - 1, np.count_nonzero(src[-1], axis=0).astype(np.int64))
    binary = src.dtype == np.uint8 and kernel.payload <= 1
    kernel.used["fused"] = kernel.used.get("fused", 0) + 1
    lut = kernel.lut() if binary and events is None else None
    syn = jit.Synapses(src, kernel.fused_weights(), delay, events, binary, lut, kernel.bound)
    n = syn.wt.shape[1]
    if state.count and pre in xs and pre not in state.col_sums and jit.reads_patterns(syn, n):
        assert state.counter is not None
        found = state.counter.source_columns(pre, src)
        if found is not None:  # one sample's events counted as the scan reads them
            table, packed = found
            u = state.counter.columns_of(pre).w.shape[0]
            # a column per row (each one's steps contiguous for `columns.spread`)
            sums = np.zeros((u, src.shape[0]), np.int32)
            state.col_sums[pre] = sums
            syn = syn._replace(columns=(table, sums), packed_columns=packed)
    return syn


_CONSTANTS: weakref.WeakKeyDictionary[IntPopulation, dict[tuple[int, int, int], tuple]]
_CONSTANTS = weakref.WeakKeyDictionary()  # a program's per-neuron constants, made once


def _neuron_constants(
    pop: IntPopulation, fmt: NumberFormat, bits: int
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """`pop`'s per-neuron constants of the compiled scan, (n,) int64 each: the decay factors
    of u and v, the shifted bias, threshold and reset; kept with the (immutable) population
    (a run of a small network otherwise spends a tenth of its time making them)."""
    key = (bits, fmt.weight_shift, fmt.threshold_shift)
    per = _CONSTANTS.setdefault(pop, {})
    if key not in per:
        n = pop.size

        def vec(a: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(np.broadcast_to(a, (n,)), np.int64)

        per[key] = (
            None if pop.du is None else vec((1 << bits) - pop.du),
            vec((1 << bits) - pop.dv),
            vec(pop.bias << fmt.weight_shift),
            None if pop.threshold is None else vec(pop.threshold << fmt.threshold_shift),
            vec(pop.v_reset << fmt.weight_shift),
        )
    return per[key]


def _by_columns(pop: IntPopulation, batch: int, state: _State) -> bool:
    """Whether `_count` counts `pop`'s spikes after the scan by its table's distinct columns
    (`Counter.columns`: a small table; measured faster than counting inside the scan)."""
    assert state.counter is not None
    return state.counter.columns(pop.name, pop.size, batch, np.dtype(np.uint8)) is not None


def _scan_compiled(
    pop: IntPopulation,
    drive: np.ndarray | None,
    state: _State,
    fmt: NumberFormat,
    bits: int,
    drive_bias: np.ndarray | None = None,
    bias_from: int = 0,
    synapses: jit.Synapses | None = None,
) -> None:
    """`_scan` without recurrent loops, in compiled code (`jit`), on the raw drive (int64, or
    a float kernel's exact integers) plus `drive_bias` (from step `bias_from`); counting, it
    adds the active neurons per step and core to the counter's (`state.act_total`)."""
    name = pop.name
    steps = state.series[name].shape[0]
    active, spikes, columns, packed = None, None, None, False
    if state.count:
        assert state.counter is not None
        active = state.counter.per_core[EventKind.UPDATES_ACTIVE]
        batch = state.v[name].shape[0]
        # a population whose only counter is its spikes (an output layer) gets them from its
        # scan at any batch: no pass after it (digits' output layer at batch 100: its counted
        # run 349-352 to 322-350 us, share 15.2 to 13.1 % over four processes, measured)
        only_spikes = pop.spiking and state.counter.spikes_only(pop)
        by_columns = pop.spiking and not only_spikes and _by_columns(pop, batch, state)
        if only_spikes:
            spikes = state.counter.per_core[EventKind.SPIKES]
        elif pop.spiking and batch >= _SCAN_COUNTS_FROM and not by_columns:
            state.event_table(name, pop.size, steps)
        cols = None if only_spikes else state.counter.scan_columns(pop, batch)
        if cols is not None:  # one sample: its columns summed as it fires
            sums = np.zeros((cols.w.shape[0], steps), np.int32)  # a row per column
            w, packed = cols.for_scan()
            columns = (w, sums)
            state.col_sums[name] = sums
    keep_u, keep_v, bias, thr, reset = _neuron_constants(pop, fmt, bits)
    top = (1 << (fmt.state_bits - 1)) - 1
    bound = None
    if synapses is not None and synapses.bound is not None:  # with the projection's bias
        bound = synapses.bound + (0 if drive_bias is None else int(np.abs(drive_bias).max()))
    seen, spiked = jit.scan(
        drive,
        state.u[name],
        state.v[name],
        keep_u,
        keep_v,
        bias,
        thr,
        reset,
        zero_reset=pop.reset == "zero",
        floor=fmt.decay_rounding == "floor",
        bits=bits,
        top=top,
        saturate_u=(fmt.current_overflow or fmt.overflow) == "saturate",
        saturate_v=fmt.overflow == "saturate",
        out=state.series[name],
        rec_v=state.rec_v.get(name),
        rec_u=None,
        active=active,
        spikes=spikes,
        activation_bits=fmt.activation_bits,
        weight_shift=fmt.weight_shift,
        drive_bias=drive_bias,
        bias_from=bias_from,
        core=state.cores.get(name),
        events=state.events.get(name),
        synapses=synapses,
        drive_bound=bound,
        narrow=bound is not None and _narrow(pop, fmt, bits, bound),
        columns=columns,
        packed_columns=packed,
    )
    if active is not None:  # this population's share of the counter's total
        state.act_total[name] = state.act_total.get(name, 0) + seen
    if spikes is not None:
        state.core_spikes[name] = spiked


def _narrow(pop: IntPopulation, fmt: NumberFormat, bits: int, bound: int) -> bool:
    """`jit.narrow_fits` for `pop` on a drive of at most `bound` (a run starts from zeros),
    where its drive needs no wrap; kept with the population per format and bound."""
    if fmt.activation_bits and bound >= 1 << (fmt.activation_bits - 1):
        return False
    key = (bits, fmt.weight_shift, fmt.threshold_shift, fmt.state_bits, bound)
    per = _NARROW.setdefault(pop, {})
    if key not in per:
        top = (1 << (fmt.state_bits - 1)) - 1
        consts = _neuron_constants(pop, fmt, bits)
        per[key] = jit.narrow_fits(consts, bits, top, fmt.weight_shift, bound)
    return per[key]


_NARROW: weakref.WeakKeyDictionary[IntPopulation, dict[tuple[int, ...], bool]]
_NARROW = weakref.WeakKeyDictionary()


def _scan(
    pop: IntPopulation,
    drive: np.ndarray,
    loops: list[IntProjection],
    kern: dict[str, ProjectionKernel],
    state: _State,
    fmt: NumberFormat,
    bits: int,
) -> None:
    """`pop`'s neurons over every step on drive (T, batch, n), finished here; `loops` are its
    own recurrent projections, added step by step. The same arithmetic as `_neurons`, with the
    per-neuron constants hoisted and the updates in place (this loop is the run's floor)."""
    name = pop.name
    if not loops:
        drive[:] = _finish_drive(drive, fmt)
    if state.count:
        state.keep_for_counting(pop)
    keep_u = None if pop.du is None else (1 << bits) - pop.du
    keep_v = (1 << bits) - pop.dv
    bias = pop.bias << fmt.weight_shift
    thr = None if pop.threshold is None else pop.threshold << fmt.threshold_shift
    reset = np.broadcast_to(pop.v_reset << fmt.weight_shift, state.v[name].shape)
    floor = fmt.decay_rounding == "floor"
    m = (1 << bits) - 1
    top = (1 << (fmt.state_bits - 1)) - 1
    sat_u = (fmt.current_overflow or fmt.overflow) == "saturate"
    sat_v = fmt.overflow == "saturate"
    series, rec_v, rec_u = state.series[name], state.rec_v.get(name), state.rec_u.get(name)
    u, v = state.u[name], state.v[name]

    def decay(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
        q = x * keep
        if not floor:
            q += (q >> 63) & m
        q >>= bits
        return q

    for t in range(drive.shape[0]):
        d = drive[t]
        if loops:
            _loop_drive(d, t, loops, kern, series, fmt)
        if keep_u is not None:
            u = decay(u, keep_u)
            u += d
            u = np.clip(u, -top, top, out=u) if sat_u else _overflow(u, fmt.state_bits, "wrap")
            if rec_u is not None:
                rec_u[t] = u
            v = decay(v, keep_v)
            v += u
        else:
            v = decay(v, keep_v)
            v += d
        v += bias
        v = np.clip(v, -top, top, out=v) if sat_v else _overflow(v, fmt.state_bits, "wrap")
        if thr is None:
            series[t] = v
        else:
            _fire(v, thr, reset, pop, series, t)
        if rec_v is not None:
            rec_v[t] = v
    state.u[name], state.v[name] = u, v
    if state.drive:
        state.drive[name] = drive  # the finished drive series, kept for counting


def _summed_drive(
    pop: IntPopulation,
    net: IntNetwork,
    xs: dict[str, np.ndarray],
    state: _State,
    fmt: NumberFormat,
    kern: dict[str, ProjectionKernel],
    steps: int,
) -> np.ndarray:
    """The raw int64 drive (T, batch, n) of `pop` from earlier populations and inputs, with
    their biases (a delayed projection: from step 1 on)."""
    batch = state.v[pop.name].shape[0]
    ready = np.zeros((steps, batch, pop.size), np.int64)
    first = True
    for pr in net.projections_into(pop.name):
        if pr.pre == pop.name:
            continue
        delayed = pr.recurrent or fmt.synapse_delay > 0
        src = _source(pr.pre, xs, state)
        into = ready[1:] if delayed else ready
        if not into.shape[0]:
            continue
        if first and not delayed:
            ready = into = _apply(kern[pr.name], src)
        else:
            into += _apply(kern[pr.name], src[: into.shape[0]])
        first = False
        if pr.bias is not None:
            into += pr.bias
    return ready


def _single_feed(net: IntNetwork, pop: IntPopulation) -> IntProjection | None:
    """`pop`'s one projection when a single projection from an earlier population or input is
    all that feeds it (its kernel's output is then the drive as it is)."""
    into = list(net.projections_into(pop.name))
    return into[0] if len(into) == 1 and into[0].pre != pop.name else None


def _apply_raw(kernel: ProjectionKernel, src: np.ndarray, delay: int) -> np.ndarray:
    """`_apply` in the kernel's own arithmetic (exact integers; no int64 conversion), the
    sums arriving `delay` (0 or 1) steps later: (T, batch, post), zero before they arrive."""
    steps = src.shape[0]
    out: np.ndarray = np.empty((steps, *src.shape[1:-1], kernel.post), kernel.dtype)
    out[:delay] = 0
    flat = src[: steps - delay].reshape(-1, src.shape[-1])
    into = out[delay:].reshape(-1, kernel.post)
    step = max(1, _ROWS_PER_CALL // max(kernel.post, 1))
    for a in range(0, flat.shape[0], step):
        kernel.raw(flat[a : a + step], out=into[a : a + step])
    return out


def _run_layerwise(
    net: IntNetwork,
    xs: dict[str, np.ndarray],
    state: _State,
    fmt: NumberFormat,
    kern: dict[str, ProjectionKernel],
    steps: int,
) -> None:
    """Population after population, each over all steps: the synaptic sums from earlier
    populations in one kernel call for every step and sample, then the neurons step by step
    (with their own recurrent loop, if any). A population fed by one projection reads its
    kernel's float result directly in the compiled scan. Progress: populations done, from 0."""
    advance("simulate (bit-accurate)", 0, len(net.populations))
    for k, pop in enumerate(net.populations):
        loops = [pr for pr in net.projections_into(pop.name) if pr.pre == pop.name]
        single = _single_feed(net, pop)
        if jit.AVAILABLE and not loops and _compiled_fits(pop):
            if single is not None:
                delay = int(single.recurrent or fmt.synapse_delay > 0)
                src = _source(single.pre, xs, state)
                kernel = kern[single.name]
                if _fuses(kernel, src):  # synaptic sums inside the scan, row by row
                    syn = _fused_synapses(single.pre, kernel, src, delay, state, xs)
                    _scan_compiled(pop, None, state, fmt, net.decay_bits, single.bias, delay, syn)
                else:
                    drive = _apply_raw(kernel, src, delay)
                    _scan_compiled(pop, drive, state, fmt, net.decay_bits, single.bias, delay)
            else:
                drive = _summed_drive(pop, net, xs, state, fmt, kern, steps)
                _scan_compiled(pop, drive, state, fmt, net.decay_bits)
        else:
            drive = _summed_drive(pop, net, xs, state, fmt, kern, steps)
            _scan(pop, drive, loops, kern, state, fmt, net.decay_bits)
        advance("simulate (bit-accurate)", 1 + k, len(net.populations))


def _run_stepwise(
    net: IntNetwork,
    xs: dict[str, np.ndarray],
    state: _State,
    fmt: NumberFormat,
    kern: dict[str, ProjectionKernel],
    steps: int,
) -> None:
    """Step after step through every population (a later population feeds an earlier one, or
    synapses have their own delays: delay lines)."""
    if state.count:
        for pop in net.populations:
            state.keep_for_counting(pop)
    lines = {
        pr.name: SynapseDelayLine(pr.weight, pr.delay, state.v[pr.post].shape[0], np.int64)
        for pr in net.projections
        if pr.delay is not None
    }
    for t in range(steps):
        advance("simulate (bit-accurate)", t, steps)
        for pop in net.populations:
            batch = state.v[pop.name].shape[0]
            drive = np.zeros((batch, pop.size), np.int64)
            for pr in net.projections_into(pop.name):
                delayed = pr.recurrent or fmt.synapse_delay > 0
                if delayed and t == 0:
                    if pr.name in lines:  # the line's clock starts with an empty step
                        lines[pr.name].push(np.zeros((batch, pr.weight.shape[1]), np.int64))
                    continue  # nothing has been sent yet
                src = _source(pr.pre, xs, state)[t - 1 if delayed else t]
                if pr.name in lines:
                    drive += lines[pr.name].push(src.astype(np.int64))
                else:
                    drive += kern[pr.name](src)
                if pr.bias is not None:
                    drive += pr.bias
            if pop.sigma_delta is not None:
                _step_sigma_delta(pop, t, drive, state)
            else:
                _step(pop, t, _finish_drive(drive, fmt), state, fmt, net.decay_bits)


def _synops(
    net: IntNetwork,
    xs: dict[str, np.ndarray],
    state: _State,
    fmt: NumberFormat,
    totals: dict[str, tuple[np.ndarray, np.ndarray]],
    fan_sums: dict[str, tuple[int, int]],
) -> dict:
    """Synaptic operations per receiving population: each sent value times its fan-out;
    `totals`: per source, what each neuron sent over all steps and in the last (from
    `jit.scatter`), where counted already; `fan_sums`: per projection, its operations over
    all steps and in the last, where its source was counted by columns (`_Columns`)."""
    out: dict[str, int] = dict.fromkeys((p.name for p in net.populations), 0)
    for pr in net.projections:
        # a delayed projection's last step lands after the run
        last = -1 if pr.recurrent or fmt.synapse_delay > 0 else None
        if pr.name in fan_sums:  # counted by a column of its fan-out (`_Columns`)
            every, last_ops = fan_sums[pr.name]
            out[pr.post] += every if last is None else every - last_ops
            continue
        fan = fanout(pr)
        if pr.pre in totals:
            total, in_last = totals[pr.pre]
            per_source = total if last is None else total - in_last
        else:
            src = _source(pr.pre, xs, state)
            if pr.pre in xs or net.population(pr.pre).graded:
                src = src != 0  # one synaptic event per message, whatever its payload
            per_source = src[:last].reshape(-1, fan.size).sum(axis=0, dtype=np.int64)
        out[pr.post] += int(per_source @ fan)
    return out


def _count(
    net: IntNetwork,
    xs: dict[str, np.ndarray],
    state: _State,
    fmt: NumberFormat,
    c: Counter,
    extremes: dict[str, tuple[int, int]],
) -> None:
    """Every event of a finished run into the counter: compiled (`jit.scatter`: one pass over
    each source's series through its routing table) where numba is installed, else by the
    per-step batch sums and table products."""
    compiled = jit.AVAILABLE
    totals: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    c.graded_inputs(xs, extremes)
    for name, arr in xs.items():
        if name in state.col_sums:  # its columns summed by a fused scan as it read them
            c.take_columns(name, arr.shape[2], state.col_sums[name])
        elif compiled and name in state.events:  # counted by a fused scan on the way
            totals[name] = c.take(name, state.events[name])
        elif compiled:
            sent = c.scatter(name, arr, ones=True)  # a message per non-zero value
            if sent is not None:
                totals[name] = sent
        else:
            c.source(name, (arr != 0).sum(axis=1, dtype=np.int64))
    for pop in net.populations:
        if pop.name in state.act_total:  # counted by the compiled scan
            c.per_layer[pop.name][EventKind.UPDATES_ACTIVE] += state.act_total[pop.name]
        else:
            c.population(pop, None, state.active(pop.name))
        if pop.spiking:
            sent = _count_spikes(pop, state, c, compiled)
            if sent is not None:
                totals[pop.name] = sent
    synops = _synops(net, xs, state, fmt, totals, c.fan_sums)
    for pop in net.populations:
        c.per_layer[pop.name][EventKind.SYNOPS] += synops[pop.name]


def _count_spikes(
    pop: IntPopulation, state: _State, c: Counter, compiled: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """A spiking population's events into the counter; returns what each neuron sent over
    all steps and in the last, where its projections' synaptic ops need them (else None)."""
    series = state.series[pop.name]
    if pop.name in state.col_sums:  # its columns summed by the compiled scan
        c.take_columns(pop.name, pop.size, state.col_sums[pop.name])
        return None
    if pop.name in state.core_spikes:  # its only counter, added by the compiled scan
        c.per_layer[pop.name][EventKind.SPIKES] += state.core_spikes[pop.name]
        return None
    if compiled and pop.name in state.events:  # counted by the compiled scan
        return c.take(pop.name, state.events[pop.name])
    if compiled:  # a graded spike is one event (and one message), whatever its payload
        return c.scatter(pop.name, series, ones=pop.graded)
    spikes = (series != 0 if pop.graded else series).sum(axis=1, dtype=np.int64)
    c.spikes(pop, spikes)
    c.source(pop.name, spikes)
    return None


def _outputs(net: IntNetwork, xs: dict[str, np.ndarray], state: _State, fmt: NumberFormat) -> dict:
    out = {}
    for o, src in net.outputs.items():
        val = _source(src, xs, state)
        shape = (*val.shape[:2], *net.shape_of(src))
        if src in net.inputs:
            out[o] = val.reshape(shape).astype(np.uint8)
        elif net.population(src).spiking:
            out[o] = val.reshape(shape)
        else:
            scale = net.population(src).scale / (1 << fmt.weight_shift)
            out[o] = (val * scale).reshape(shape)
    return out


def run(
    net: IntNetwork,
    x: object,
    semantics: NumberFormat | None = None,
    *,
    mapping: Mapping | None = None,
    record: bool = False,
    exact_integers: bool = False,
) -> RunResult:
    """Simulate `net` on integer input spikes x (T, batch, *input_shape) with the integer
    arithmetic of `semantics` (a target's `NumberFormat`); with a mapping, count events.

    Synaptic sums run in float kernels where `kernels.ProjectionKernel` proves them exact, in
    int64 otherwise (or everywhere with `exact_integers`); the results are the same integers.
    """
    fmt = semantics or Semantics()
    xs = _checked_inputs(net, x)
    steps, batch = next(iter(xs.values())).shape[:2]
    state = _State.of(net, steps, batch, record, count=mapping is not None)
    exact_integers = exact_integers or any(p.sigma_delta is not None for p in net.populations)
    counter = None
    if mapping is not None:
        counter = counter_for(net, mapping, steps, batch)
        state.cores, state.n_cores = counter.where, counter.n_cores
        state.counter = counter
    extremes = _extremes(xs)
    kern = _kernels(net, extremes, fmt, exact_integers)
    if _layerwise(net):
        _run_layerwise(net, xs, state, fmt, kern, steps)
    else:
        _run_stepwise(net, xs, state, fmt, kern, steps)
        advance("simulate (bit-accurate)", steps, steps)
    counts = None
    if counter is not None:
        _count(net, xs, state, fmt, counter, extremes)
        counts = counter.counts(batch)
    return RunResult(
        outputs=_outputs(net, xs, state, fmt),
        counts=counts,
        spikes={p.name: state.series[p.name] for p in net.populations if p.spiking}
        if record
        else {},
        v=state.rec_v if record else {},
    )


class BitAccurate:
    """neurocomp's own engine ("reference"): every target's arithmetic, with event counting."""

    name = "reference"

    def violations(self, net: IntNetwork, fmt: NumberFormat) -> list[Violation]:
        return []  # the lowering already checked the chip's formats

    def run(
        self,
        net: IntNetwork,
        x: Any,
        fmt: NumberFormat,
        *,
        mapping: Mapping | None = None,
        record: bool = False,
    ) -> RunResult:
        return run(net, x, fmt, mapping=mapping, record=record)


ENGINE = BitAccurate()
