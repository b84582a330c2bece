"""Integer form of a quantized network: what a chip stores.

Every value of a quantized, folded network is an integer times its population's scale; this
module extracts those integers and checks them against the target's number formats.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import sparse

from ..errors import NeurocompError, Violation
from ..ir import sigma_delta
from ..ir.chunks import any_equal, scale_runs
from ..ir.graded import payload_violations
from ..ir.integer import IntConv, IntNetwork, IntPopulation, IntProjection
from ..ir.network import Network, NeuronParams
from ..ir.ops import Conv, Matrix, aligned_delays
from ..target.spec import NumberFormat, TargetSpec


class LoweringError(NeurocompError):
    """A network that is not in the form a backend needs (not folded, not quantized)."""


def _ints(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(values, dtype=np.float64).reshape(-1) / scale).astype(np.int64)


def _bits_needed(x: np.ndarray) -> int:
    """Signed bits to hold every value of x."""
    peak = max(int(x.max()), -int(x.min())) if x.size else 0
    return peak.bit_length() + 1


def _format_violations(ip: IntPopulation, fmt: NumberFormat) -> list[Violation]:
    """Parameters of one population that its target's formats cannot hold."""
    out = []
    if ip.threshold is not None:
        if (ip.threshold < 0).any():
            out.append(Violation(ip.name, "threshold sign", int(ip.threshold.min()), ">= 0"))
        need = int(np.abs(ip.threshold).max()).bit_length() if ip.size else 0
        if need > fmt.threshold_bits:
            out.append(
                Violation(ip.name, "threshold width", f"{need} bits", f"{fmt.threshold_bits} bits")
            )
    for quantity, arr, limit in (
        ("bias", ip.bias, fmt.bias_bits),
        ("reset voltage", ip.v_reset, fmt.state_bits),
    ):
        if _bits_needed(arr) > limit:
            out.append(
                Violation(
                    ip.name, f"{quantity} width", f"{_bits_needed(arr)} bits", f"{limit} bits"
                )
            )
    if ip.spiking and ip.reset == "subtract" and not fmt.subtract_reset:
        out.append(Violation(ip.name, "reset mode", "subtract", "zero only (reset to 0)"))
    if ip.spiking and not fmt.reset_to_value and np.any(ip.v_reset != 0):
        out.append(
            Violation(
                ip.name,
                "reset voltage",
                float(ip.v_reset[ip.v_reset != 0][0] * ip.scale[0]),
                "0 only",
            )
        )
    out += _graded_violations(ip, fmt)
    if ip.sigma_delta is not None:
        out += sigma_delta.payload_violations(
            ip.name, fmt.state_bits, ip.state_exp, fmt.spike_payload_bits
        )
    return out


def _state_exp(name: str, p: NeuronParams, scale: np.ndarray) -> int:
    """Lava's state_exp of a sigma-delta population: its payload unit = scale * 2**e."""
    assert p.payload_unit is not None
    e = sigma_delta.state_exp(p.payload_unit, scale)
    if e is None:
        raise LoweringError(
            f"population '{name}': sigma-delta payload unit {p.payload_unit:g} is not "
            f"scale * 2**e (0 <= e <= {sigma_delta.MAX_STATE_EXP}) for one scale: run quantize"
        )
    return e


def _graded_violations(ip: IntPopulation, fmt: NumberFormat) -> list[Violation]:
    """A multi-spike population's largest count against the chip's graded-spike payload."""
    if ip.threshold is None or ip.max_spikes == 1:
        return []
    v_max = (1 << (fmt.state_bits - 1)) - 1
    threshold = ip.threshold << fmt.threshold_shift
    return payload_violations(ip.name, ip.max_spikes, threshold, v_max, fmt.spike_payload_bits)


def _timing_violations(name: str, p: NeuronParams) -> list[Violation]:
    """Neuron options no chip's integer neuron has (frontend.conventions: Spyx's neurons)."""
    if not p.spiking:
        return []
    out = []
    if p.spike_first:
        out.append(Violation(name, "spike timing", "decided before the update", "after the update"))
    if p.v_step is not None:
        out.append(Violation(name, "reset amount", "v_step", "the threshold"))
    return out


def stored_violations(net: IntNetwork, fmt: NumberFormat) -> list[Violation]:
    """Integers of a stored program that `fmt` cannot hold: what `to_integers` checks, and
    decays within [0, 2**decay_bits] (a program read back from a folder is checked again)."""
    out: list[Violation] = []
    unit = 1 << fmt.decay_bits
    for p in net.populations:
        out += _format_violations(p, fmt)
        if p.kind not in fmt.neuron_models:
            out.append(Violation(p.name, "neuron model", p.kind, ", ".join(fmt.neuron_models)))
        for quantity, arr in (("dv", p.dv), ("du", p.du)):
            if arr is not None and arr.size and (arr.min() < 0 or arr.max() > unit):
                out.append(Violation(p.name, quantity, int(arr.max()), f"[0, {unit}]"))
    for pr in net.projections:
        w = pr.weight.data
        if w.size and _bits_needed(w) > fmt.weight_bits:
            out.append(
                Violation(pr.post, "weight width", f"{_bits_needed(w)} bits", fmt.weight_bits)
            )
        if pr.bias is not None and pr.bias.size and _bits_needed(pr.bias) > fmt.bias_bits:
            out.append(
                Violation(pr.post, "bias width", f"{_bits_needed(pr.bias)} bits", fmt.bias_bits)
            )
    return out


def _biases_to_neurons(
    pops: list[IntPopulation], projections: list[IntProjection], refuse_current: bool
) -> tuple[list[IntPopulation], list[IntProjection], list[Violation]]:
    """Move projection biases onto neurons without a current stage into the neuron bias (a
    constant input, present from the first step). A bias into a synaptic current stays on its
    projection, or is refused (`refuse_current`: the chip's bias adds to v only)."""
    by_name = {p.name: p for p in pops}
    extra = {p.name: np.zeros(p.size, dtype=np.int64) for p in pops}
    violations, kept = [], []
    for pr in projections:
        bias = pr.bias
        if bias is not None and np.any(bias != 0):
            if by_name[pr.post].du is None:
                extra[pr.post] += bias
                bias = None
            elif refuse_current:
                violations.append(
                    Violation(
                        pr.post,
                        "bias into the synaptic current",
                        f"on {int(np.count_nonzero(bias))} neurons",
                        0,
                        f"projection '{pr.name}': the chip's bias adds to v only; "
                        "train that layer without bias or with current-free neurons",
                    )
                )
                bias = None
        else:
            bias = None
        kept.append(dataclasses.replace(pr, bias=bias))
    pops = [dataclasses.replace(p, bias=p.bias + extra[p.name]) for p in pops]
    return pops, kept, violations


ROUND_CHUNK = 1 << 16  # synapses per float temporary in `int_weights`


def int_weights(w: sparse.csr_matrix, scale: np.ndarray, reuse: bool = False) -> sparse.csr_matrix:
    """The integers of `w`: each synapse over its post neuron's (row's) scale, rounded half
    to even, zeros dropped. Rows are taken ROUND_CHUNK synapses at a time: the float
    temporaries stay a few MB however large the layer (on a 3e8-synapse network, whole-layer
    temporaries were 4 GB of fresh memory, the compile's peak).

    reuse: write the integers over `w`'s own float64 weights (the same 8 bytes per synapse,
    viewed as int64) and share its index arrays, so that lowering makes no per-synapse array
    at all (new memory is the dearest part of a large compile, `small_pages` in
    neurocomp/compiler.py); `w` holds garbage afterwards. Only for a matrix nobody reads
    again (`to_integers(..., reuse_weights=True)`)."""
    ptr = w.indptr
    reuse = reuse and _overwritable(w)
    data = w.data.view(np.int64) if reuse else np.empty(w.nnz, dtype=np.int64)
    chunk = min(ROUND_CHUNK, max(1 << 10, w.nnz // 8))  # small layers: a fraction of theirs
    for lo, hi, divisor in scale_runs(ptr, scale, chunk):
        q = w.data[lo:hi] / divisor
        data[lo:hi] = np.round(q, out=q)  # q is a copy: writing over w.data[lo:hi] is safe
    zeros = any_equal(data, 0)
    if reuse and not zeros:  # (dropping zeros would move the shared indices)
        weight = sparse.csr_matrix((data, w.indices, ptr), shape=w.shape, copy=False)
    else:
        weight = sparse.csr_matrix((data, w.indices.copy(), ptr.copy()), shape=w.shape)
    if zeros:
        weight.eliminate_zeros()
    return weight


def _overwritable(w: sparse.csr_matrix) -> bool:
    """Whether `w`'s float weights can hold its integers in place (float64, contiguous,
    writable, int32 or int64 indices)."""
    d = w.data
    return bool(
        d.dtype == np.float64
        and d.flags.c_contiguous
        and d.flags.writeable
        and w.indices.flags.writeable
        and w.indptr.flags.writeable
    )


def _int_conv(op: Matrix, weight: sparse.csr_matrix, scale: np.ndarray) -> IntConv | None:
    """The integer kernel of a convolution projection, if its integer synapses are exactly that
    kernel's expansion (one scale per output channel, no synapse pruned on its own)."""
    conv = op.conv
    if conv is None or not _delay_free(op):
        return None
    per_channel = scale.reshape(conv.weight.shape[0], -1)
    if np.any(per_channel != per_channel[:, :1]):
        return None
    kernel = np.round(conv.weight / per_channel[:, 0, None, None, None]).astype(np.int64)
    if not _expands_to(dataclasses.replace(conv, weight=kernel, bias=None), op.in_shape, weight):
        return None
    c, h, w = (int(n) for n in op.in_shape)
    oc, oh, ow = (int(n) for n in op.out_shape_)
    return IntConv(
        kernel=kernel,
        in_shape=(c, h, w),
        out_shape=(oc, oh, ow),
        stride=(int(conv.stride[0]), int(conv.stride[1])),
        padding=(int(conv.padding[0]), int(conv.padding[1])),
        dilation=(int(conv.dilation[0]), int(conv.dilation[1])),
        groups=int(conv.groups),
    )


def _expands_to(conv: Conv, in_shape: tuple[int, ...], weight: sparse.csr_matrix) -> bool:
    """Whether `weight` holds exactly the synapses of `conv` (an integer kernel) on `in_shape`.
    Without groups, one output channel at a time against its rows of `weight` (rows are
    channel-major, entries in the expansion's order): one channel's expansion in memory, not
    the layer's."""
    c_out = int(conv.weight.shape[0])
    if conv.groups != 1 or weight.shape[0] % max(c_out, 1):
        return _same_entries(sparse.csr_matrix(conv.matrix(in_shape)), weight)
    n_pos = weight.shape[0] // c_out
    ptr = weight.indptr
    for co in range(c_out):
        part = dataclasses.replace(conv, weight=conv.weight[co : co + 1]).matrix(in_shape)
        r0, r1 = co * n_pos, (co + 1) * n_pos
        lo, hi = int(ptr[r0]), int(ptr[r1])
        if not (
            part.shape == (n_pos, weight.shape[1])
            and part.nnz == hi - lo
            and np.array_equal(part.indptr, ptr[r0 : r1 + 1] - lo)
            and np.array_equal(part.indices, weight.indices[lo:hi])
            and np.array_equal(part.data, weight.data[lo:hi])
        ):
            return False
    return True


def _same_entries(ours: sparse.csr_matrix, weight: sparse.csr_matrix) -> bool:
    """Whether two matrices hold the same non-zero entries: compared array by array in
    canonical form (sorted, no duplicates, no zeros), not through a difference matrix (three
    float copies of a conv layer's synapses: the compile's peak memory). `ours` is edited."""
    ours.eliminate_zeros()
    ours.sum_duplicates()
    if not weight.has_canonical_format:  # a copy: the program's own order stays as it is
        weight = weight.copy()
        weight.sum_duplicates()
        weight.eliminate_zeros()
    return (
        ours.shape == weight.shape
        and ours.nnz == weight.nnz
        and np.array_equal(ours.indptr, weight.indptr)
        and np.array_equal(ours.indices, weight.indices)
        and np.array_equal(ours.data, weight.data)
    )


def _delay_free(op: Matrix) -> bool:
    return op.delay is None or op.delay.nnz == 0


def _int_delays(
    name: str, post: str, weight: sparse.csr_matrix, op: Matrix, spec: TargetSpec
) -> tuple[sparse.csr_matrix | None, list[Violation]]:
    """The synaptic delays of a projection aligned with its integer weights, and a violation
    when the chip's delay field (`synapse_format.delay_bits`) cannot hold the longest."""
    if op.delay is None:
        return None, []
    weight.sort_indices()
    steps = aligned_delays(weight, op.delay)
    delay = sparse.csr_matrix((steps, weight.indices.copy(), weight.indptr.copy()), weight.shape)
    need = int(steps.max()) if steps.size else 0
    limit = (1 << spec.synapse_format.delay_bits) - 1
    if need > limit:
        field = spec.synapse_format.delay_bits
        return delay, [
            Violation(
                post,
                "synaptic delay",
                f"{need} steps",
                f"{limit} steps",
                f"projection '{name}': the chip's delay field has {field} bits",
            )
        ]
    return (delay if need else None), []


def _shared_weights(net: Network) -> set[int]:
    """Projections whose weight arrays share memory with another projection's (tied weights):
    never overwritten in place, the other still reads them."""
    arrays = [
        (i, a)
        for i, pr in enumerate(net.projections)
        for op in pr.ops[:1]
        if isinstance(op, Matrix) and sparse.issparse(op.weight)
        for a in (op.weight.data, op.weight.indices, op.weight.indptr)
    ]
    return {i for i, a in arrays for j, b in arrays if i != j and np.may_share_memory(a, b)}


def to_integers(
    net: Network, spec: TargetSpec, reuse_weights: bool = False
) -> tuple[IntNetwork, list[Violation]]:
    """Integer program of a folded, quantized network, and every format violation found.

    reuse_weights: the integer weights are written over `net`'s float weights (`int_weights`),
    which are garbage afterwards: for a caller that drops `net` (compile)."""
    fmt = spec.format
    violations: list[Violation] = []
    unit = 2**fmt.decay_bits
    pops = []
    for pop in net.populations:
        if pop.quant is None:
            raise LoweringError(f"population '{pop.name}' is not quantized: run quantize first")
        if pop.kind not in fmt.neuron_models:
            violations.append(
                Violation(pop.name, "neuron model", pop.kind, ", ".join(fmt.neuron_models))
            )
        p, s = pop.params, pop.quant.scale.reshape(-1)
        if np.any(p.v_gain != 1) or (p.u_gain is not None and np.any(p.u_gain != 1)):
            raise LoweringError(f"population '{pop.name}' has input gains: run fold first")
        ip = IntPopulation(
            name=pop.name,
            kind=pop.kind,
            shape=tuple(pop.shape),
            dv=np.round(p.dv.reshape(-1) * unit).astype(np.int64),
            du=None if p.du is None else np.round(p.du.reshape(-1) * unit).astype(np.int64),
            bias=_ints(p.v_bias, s),
            v_reset=_ints(p.v_reset, s),
            threshold=None if p.v_threshold is None else _ints(p.v_threshold, s),
            scale=s.astype(np.float64),
            max_spikes=p.max_spikes if p.spiking else 1,
            inclusive=p.inclusive,
            reset="zero" if p.sigma_delta else p.reset,
            sigma_delta=p.sigma_delta,
            state_exp=0 if p.sigma_delta is None else _state_exp(pop.name, p, s),
        )
        violations += _format_violations(ip, fmt) + _timing_violations(pop.name, p)
        pops.append(ip)
    scales = {p.name: p.scale for p in pops}
    sd_posts = {p.name for p in pops if p.sigma_delta is not None}
    projections = []
    shared = _shared_weights(net) if reuse_weights else set()
    for i, pr in enumerate(net.projections):
        op = pr.ops[0] if len(pr.ops) == 1 else None
        if not isinstance(op, Matrix):
            raise LoweringError(f"projection '{pr.name}' is not folded: run fold first")
        reuse = reuse_weights and i not in shared
        weight = int_weights(op.weight.tocsr(), scales[pr.post], reuse)
        bias = None if op.bias is None else _ints(op.bias, scales[pr.post])
        if bias is not None and np.any(bias != 0) and pr.post in sd_posts:
            violations.append(
                Violation(
                    pr.post,
                    "projection bias into a sigma-delta neuron",
                    f"on {int(np.count_nonzero(bias))} neurons",
                    0,
                    f"projection '{pr.name}': sigma sums its input every step; "
                    "give the neurons an activation bias (v_bias) instead",
                )
            )
        if weight.nnz and _bits_needed(weight.data) > fmt.weight_bits:
            violations.append(
                Violation(
                    pr.post,
                    "weight width",
                    f"{_bits_needed(weight.data)} bits",
                    f"{fmt.weight_bits} bits",
                    f"projection '{pr.name}'",
                )
            )
        if bias is not None and _bits_needed(bias) > fmt.bias_bits:
            violations.append(
                Violation(
                    pr.post,
                    "bias width",
                    f"{_bits_needed(bias)} bits",
                    f"{fmt.bias_bits} bits",
                    f"projection '{pr.name}'",
                )
            )
        delay, more = _int_delays(pr.name, pr.post, weight, op, spec)
        violations += more
        conv = (
            _int_conv(op, weight, scales[pr.post])
            if spec.synapse_format.shared_conv_weights
            else None
        )
        projections.append(
            IntProjection(pr.name, pr.pre, pr.post, weight, bias, pr.recurrent, delay, conv)
        )
    if not fmt.current_bias or fmt.bias_to_neuron:
        pops, projections, more = _biases_to_neurons(pops, projections, not fmt.current_bias)
        violations += more
    inputs = {k: tuple(v) for k, v in net.inputs.items()}
    return IntNetwork(
        inputs, tuple(pops), tuple(projections), dict(net.outputs), fmt.decay_bits
    ), violations
