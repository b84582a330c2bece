"""quantize: post-training fixed-point quantization of a folded network.

For each population, one scale `s` (per layer, or per output channel) maps its state to integers:
weights onto it become `round(w / s)` clipped to `weight_bits` signed bits, and its threshold,
reset, biases and state live on the same grid, so thresholds keep their ratio to the weights.
Decays are rounded to multiples of 2**-decay_bits (Loihi: 12-bit du/dv). With calibration input,
`s` is raised where needed so the state fits `state_bits` on that data (saturation stays rare).
The float network keeps the dequantized values (integer * s) and each population records its
`QuantInfo`, from which a backend reads the integers exactly.

The clip (the |w| that maps to the largest integer) is the largest |w| onto the scale's neurons
(`clip="max"`, or a `percentile` of |w|), or the one of 100 candidates (k/100 of the largest
|w|) with the least squared weight error (`clip="mse"`), never worse than max-abs on the same
weights. `"auto"` (the default, for `clip` and `granularity`): at `LOW_BITS` (3) weight bits or
fewer the MSE-optimal clip with one scale per neuron (per output channel), above it max-abs with
one scale per layer, so 8- and 4-bit integer programs are what they were. A scale per neuron is
legal on both targets: the scale lives only in the integer thresholds, resets and biases, which
the reference chip and Loihi 2 hold per neuron (on Lava, one LIF process per distinct threshold
and decays; sigma-delta populations keep one scale, `snap_scale`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import sparse

from ..ir.chunks import row_runs, scale_runs
from ..ir.network import Network, NeuronParams, Population, QuantInfo
from ..ir.ops import Matrix
from ..ir.sigma_delta import snap_scale
from ..sim.float_sim import simulate
from .base import PassContext, PassResult, register
from .fold import ensure_folded, matrix_of

# Calibration peaks are scaled up by this before sizing the state: quantized dynamics differ a
# little from the float run that measured them.
STATE_HEADROOM = 1.05


def _round_to(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    return np.round(x / s) * s


def _channel_groups(pop: Population) -> np.ndarray:
    """Index of the output channel of every neuron (first axis; each neuron when 1-D)."""
    if len(pop.shape) <= 1:
        return np.arange(pop.size)
    return np.repeat(np.arange(pop.shape[0]), pop.size // pop.shape[0])


ROW_CHUNK = 1 << 16  # synapses per temporary (0.5 MB) in `_row_max` and `_weights`


def _quantized(w: sparse.csr_matrix, s: np.ndarray, qmax: int) -> tuple[np.ndarray, int]:
    """Each synapse rounded to a multiple of its row's scale within +-qmax steps, and how many
    were clipped; in chunks, so that the only whole-layer array is the result. One scale for
    the whole layer (the default above LOW_BITS) divides as a number: no per-synapse scales."""
    q = np.empty_like(w.data, dtype=np.float64)
    clipped = 0
    for lo, hi, srow in scale_runs(w.indptr, s, ROW_CHUNK):
        part = q[lo:hi]
        np.divide(w.data[lo:hi], srow, out=part)
        np.round(part, out=part)
        clipped += int(np.count_nonzero(part > qmax) + np.count_nonzero(part < -qmax))
        np.clip(part, -qmax, qmax, out=part)
        part *= srow
    return q, clipped


# At this many weight bits or fewer, `clip="auto"` takes the MSE-optimal clip and
# `granularity="auto"` one scale per neuron: max-abs scaling leaves most of so few levels unused
# (2-bit weights on the digits model: 96 % of them round to zero with one scale per layer).
LOW_BITS = 3
CLIP_CANDIDATES = 100  # clips searched: k / CLIP_CANDIDATES of the largest |w|, k = 1..100


def mse_clip(
    mats: list[sparse.csr_matrix], wmax: np.ndarray, groups: np.ndarray, qmax: int
) -> np.ndarray:
    """Per group of neurons: the clip c (a share k/100 of the group's largest |w|, k = 1..100)
    minimising the squared error sum (w - clip(round(w/s), -qmax, qmax) s)^2 over the synapses
    onto the group's neurons, s = c / qmax. k = 100 is the largest |w| itself, so the error is
    never above max-abs scaling's. Returns c per neuron (the group's)."""
    n_groups = int(groups.max()) + 1 if groups.size else 0
    top = np.zeros(n_groups)
    np.maximum.at(top, groups, wmax)
    rows, vals = [], []
    for m in mats:
        m = sparse.csr_matrix(m)
        rows.append(np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)))
        vals.append(m.data.astype(np.float64))
    if not rows:
        return top[groups] if groups.size else wmax
    g = groups[np.concatenate(rows)]
    w = np.concatenate(vals)
    best_err = np.full(n_groups, np.inf)
    best = top.copy()
    for k in range(CLIP_CANDIDATES, 0, -1):  # the largest first: ties keep the wider clip
        c = top * (k / CLIP_CANDIDATES)
        s = np.where(c > 0, c / qmax, 1.0)[g]
        q = np.clip(np.round(w / s), -qmax, qmax) * s
        err = np.bincount(g, weights=np.square(w - q), minlength=n_groups)
        better = err < best_err
        best_err[better], best[better] = err[better], c[better]
    return best[groups]


def _row_max(mats: list[sparse.csr_matrix], n: int, percentile: float) -> np.ndarray:
    """Per post neuron: the `percentile` of |w| over all synapses onto it (100 = max)."""
    out = np.zeros(n)
    if not mats:
        return out
    if percentile >= 100:  # row by row without stacking copies of the weights (peak memory)
        for m in mats:
            m = sparse.csr_matrix(m)
            for r0, r1 in row_runs(m.indptr, ROW_CHUNK):  # |w| a chunk at a time (fresh pages)
                rows = r0 + np.flatnonzero(np.diff(m.indptr[r0 : r1 + 1]))
                if rows.size:
                    lo = m.indptr[r0]
                    part = np.abs(m.data[lo : m.indptr[r1]])
                    top = np.maximum.reduceat(part, m.indptr[rows] - lo)
                    out[rows] = np.maximum(out[rows], top)
        return out
    stacked = abs(sparse.hstack(mats, format="csr"))
    for i in range(n):
        row = stacked.data[stacked.indptr[i] : stacked.indptr[i + 1]]
        if row.size:
            out[i] = np.percentile(row, percentile)
    return out


@register
@dataclass(frozen=True)
class Quantize:
    """Quantize weights, thresholds, biases, resets and decays to a fixed-point format."""

    name: ClassVar[str] = "quantize"
    weight_bits: int = 8
    granularity: Literal["auto", "layer", "channel"] = "auto"
    percentile: float = 100.0  # clip weights above this percentile of |w| (100: no clipping)
    clip: Literal["auto", "max", "mse"] = "auto"  # how the scale's clip is chosen (see module)
    decay_bits: int = 12
    state_bits: int = 24
    overflow: Literal["saturate", "wrap"] = "saturate"
    threshold_bits: int = 0  # unsigned width of the threshold register (0: no limit)
    bias_bits: int = 0  # signed width of biases (0: no limit)

    def __post_init__(self) -> None:
        if not 2 <= int(self.weight_bits) <= 32:
            raise ValueError(f"weight_bits = {self.weight_bits} (must be 2..32)")
        if self.granularity not in ("auto", "layer", "channel"):
            raise ValueError(f"granularity = {self.granularity} (must be auto, layer or channel)")
        if not 0 < self.percentile <= 100:
            raise ValueError(f"percentile = {self.percentile} (must be in (0, 100])")
        if self.clip not in ("auto", "max", "mse"):
            raise ValueError(f"clip = {self.clip} (must be auto, max or mse)")
        if self.clip == "mse" and self.percentile < 100:
            raise ValueError(f"percentile = {self.percentile} with clip = mse (choose one)")
        if not 1 <= int(self.decay_bits) <= 24 or not 4 <= int(self.state_bits) <= 64:
            raise ValueError("decay_bits must be 1..24 and state_bits 4..64")
        if self.overflow not in ("saturate", "wrap"):
            raise ValueError(f"overflow = {self.overflow} (must be saturate or wrap)")

    @property
    def low_bits(self) -> bool:
        return int(self.weight_bits) <= LOW_BITS

    @property
    def resolved_granularity(self) -> str:
        """`granularity` with "auto" resolved: "channel" at LOW_BITS or fewer, else "layer"."""
        if self.granularity != "auto":
            return self.granularity
        return "channel" if self.low_bits else "layer"

    @property
    def resolved_clip(self) -> str:
        """`clip` with "auto" resolved: "mse" at LOW_BITS or fewer unless a percentile is
        given, else "max"."""
        if self.clip != "auto":
            return self.clip
        return "mse" if self.low_bits and self.percentile >= 100 else "max"

    def run(self, net: Network, ctx: PassContext) -> PassResult:
        net, folded = ensure_folded(net)
        qmax = 2 ** (int(self.weight_bits) - 1) - 1
        smax = 2 ** (int(self.state_bits) - 1) - 1
        peaks = self._state_peaks(net, ctx)
        scales: dict[str, np.ndarray] = {}
        layers: list[dict[str, Any]] = []
        for pop in net.populations:
            incoming = net.projections_into(pop.name)
            mats = [matrix_of(pr).weight for pr in incoming]
            wmax, clip = self._clip(pop, mats, qmax)
            s = wmax / qmax
            thr = pop.params.v_threshold
            fallback = float(np.abs(thr).max()) / qmax if thr is not None and thr.size else 1.0
            s = np.where(s > 0, s, fallback if fallback > 0 else 1.0)
            raised = 0
            if pop.name in peaks:
                need = peaks[pop.name].reshape(-1) * STATE_HEADROOM / smax
                raised = int(np.count_nonzero(need > s))
                s = np.maximum(s, need)
            s, fitted = self._fit_registers(pop, net, s)
            raised += fitted
            if pop.params.payload_unit is not None:  # sigma-delta: payload unit = s * 2**e
                s = snap_scale(pop.params.payload_unit, s)
            scales[pop.name] = s
            rep: dict[str, Any] = {
                "layer": pop.name,
                "scale_min": float(s.min()),
                "scale_max": float(s.max()),
                "exponent": float(np.log2(np.median(s))),
                "scales_raised_for_state": raised,
            }
            if clip is not None:  # only where it departs from max-abs (8-bit reports unchanged)
                rep["clip"], rep["clip_share_median"] = "mse", clip
            layers.append(rep)
        projections = []
        for pr, row in zip(net.projections, self._weights(net, scales, qmax), strict=True):
            projections.append(dataclasses.replace(pr, ops=(row[0],)))
            rep = next(r for r in layers if r["layer"] == pr.post)
            for k, v in row[1].items():
                rep[k] = max(rep.get(k, 0.0), v) if k.endswith("max") else rep.get(k, 0) + v
        pops = []
        for pop in net.populations:
            s = scales[pop.name].reshape(pop.shape)
            info = QuantInfo(
                s, int(self.weight_bits), int(self.state_bits), int(self.decay_bits), self.overflow
            )
            pops.append(dataclasses.replace(pop, params=self._params(pop.params, s), quant=info))
        new = dataclasses.replace(net, populations=tuple(pops), projections=tuple(projections))
        sat = self._saturation(new, ctx, smax)
        for rep in layers:
            if rep["layer"] in sat:
                rep["state_saturations"] = sat[rep["layer"]]
            rep.setdefault("weight_rel_err_max", 0.0)
            rep.setdefault("weight_rel_err_rms", 0.0)
        return PassResult(
            new,
            {
                "folded_first": folded,
                "weight_bits": int(self.weight_bits),
                "granularity": self.resolved_granularity,
                "layers": layers,
            },
        )

    def _clip(
        self, pop: Population, mats: list[sparse.csr_matrix], qmax: int
    ) -> tuple[np.ndarray, float | None]:
        """Per neuron, the |w| that maps to qmax; with the MSE-optimal clip also the median of
        clip / largest |w| over the groups (None: max-abs or the percentile)."""
        row = _row_max(mats, pop.size, self.percentile)
        if self.resolved_granularity == "layer" or pop.size == 0:
            groups = np.zeros(pop.size, np.int64)
        else:
            groups = _channel_groups(pop)
        top = np.zeros(int(groups.max()) + 1 if groups.size else 0)
        np.maximum.at(top, groups, row)
        wmax = top[groups]
        if self.resolved_clip != "mse":
            return wmax, None
        c = mse_clip(mats, wmax, groups, qmax)
        share = np.divide(c, wmax, out=np.ones_like(c), where=wmax > 0)
        return c, float(np.median(share)) if share.size else 1.0

    def _weights(
        self, net: Network, scales: dict[str, np.ndarray], qmax: int
    ) -> Iterator[tuple[Matrix, dict[str, float]]]:
        for pr in net.projections:
            m = matrix_of(pr)
            s = scales[pr.post]
            w = sparse.csr_matrix(m.weight)
            if not w.has_canonical_format:  # sorted, no duplicates; never edit the input's arrays
                w = w.copy()
                w.sum_duplicates()
            q, clipped = _quantized(w, s, qmax)
            ref = max(abs(float(w.data.max())), abs(float(w.data.min()))) if w.nnz else 1.0
            err_max, err_rms = _errors(q, w.data, ref if ref > 0 else 1.0)
            weight = sparse.csr_matrix(
                (q, w.indices.copy(), w.indptr.copy()), shape=w.shape, copy=False
            )
            weight.eliminate_zeros()
            bias = None if m.bias is None else _round_to(m.bias, s)
            stats = {
                "weight_rel_err_max": err_max,
                "weight_rel_err_rms": err_rms,
                "weights_clipped": clipped,
                "weights_zeroed": int(w.nnz - weight.nnz),
            }
            yield dataclasses.replace(m, weight=weight, bias=bias), stats

    def _fit_registers(
        self, pop: Population, net: Network, s: np.ndarray
    ) -> tuple[np.ndarray, int]:
        """Coarsen scales where a threshold or bias would not fit its register."""
        need = np.zeros_like(s)
        if self.threshold_bits and pop.params.v_threshold is not None:
            need = np.abs(pop.params.v_threshold.reshape(-1)) / (2**self.threshold_bits - 1)
        if self.bias_bits:
            limit = 2 ** (int(self.bias_bits) - 1) - 1
            bias = np.abs(pop.params.v_bias.reshape(-1)).copy()
            for pr in net.projections_into(pop.name):
                b = matrix_of(pr).bias
                if b is not None:
                    bias += np.abs(b)
            need = np.maximum(need, bias / limit)
        return np.maximum(s, need), int(np.count_nonzero(need > s))

    def _params(self, p: NeuronParams, s: np.ndarray) -> NeuronParams:
        step = 2.0 ** -int(self.decay_bits)
        return dataclasses.replace(
            p,
            dv=np.round(p.dv / step) * step,
            du=None if p.du is None else np.round(p.du / step) * step,
            v_bias=_round_to(p.v_bias, s),
            v_reset=_round_to(p.v_reset, s),
            v_threshold=None if p.v_threshold is None else _round_to(p.v_threshold, s),
            v_step=None if p.v_step is None else _round_to(p.v_step, s),
        )

    def _state_peaks(self, net: Network, ctx: PassContext) -> dict[str, np.ndarray]:
        """Per neuron, the largest |v| or |u| on the calibration input (empty without one)."""
        if ctx.calibration is None:
            return {}
        trace = simulate(net, ctx.calibration.x, record=True)
        peaks = {}
        for name, v in trace.v.items():
            peak = np.abs(v).max(axis=(0, 1))
            if name in trace.u:
                peak = np.maximum(peak, np.abs(trace.u[name]).max(axis=(0, 1)))
            peaks[name] = peak
        return peaks

    def _saturation(self, net: Network, ctx: PassContext, smax: int) -> dict[str, int]:
        """How many (step, sample, neuron) states exceed the state width on calibration data."""
        if ctx.calibration is None:
            return {}
        trace = simulate(net, ctx.calibration.x, record=True)
        out = {}
        for pop in net.populations:
            if pop.quant is None:
                continue
            limit = smax * pop.quant.scale
            count = int(np.count_nonzero(np.abs(trace.v[pop.name]) > limit))
            if pop.name in trace.u:
                count += int(np.count_nonzero(np.abs(trace.u[pop.name]) > limit))
            out[pop.name] = count
        return out


ERROR_CHUNK = 1 << 16  # synapses per temporary in `_errors` (peak memory, small layers too)


def _errors(q: np.ndarray, w: np.ndarray, ref: float) -> tuple[float, float]:
    """Largest and root-mean-square |q - w| / ref, in fixed chunks: numpy's pairwise sums, not
    BLAS np.dot, so that the figures (saved in program.json) are the same on every CPU."""
    if not w.size:
        return 0.0, 0.0
    top, squares = 0.0, 0.0
    for lo in range(0, w.size, ERROR_CHUNK):
        err = q[lo : lo + ERROR_CHUNK] - w[lo : lo + ERROR_CHUNK]
        np.abs(err, out=err)
        err /= ref
        top = max(top, float(err.max()))
        squares += float(np.sum(np.square(err, out=err)))  # in place: one temporary per chunk
    return top, float(np.sqrt(squares / w.size))
