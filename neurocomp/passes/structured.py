"""Structured passes: remove neurons that cannot matter, merge neurons that are duplicates.

- `prune_neurons` removes neurons that never fire on calibration input (`dead`, lossy on other
  inputs) and neurons that provably never fire on any input (`silent`: interval bounds on their
  drive show the threshold cannot be reached), with every synapse to and from them.
- `merge` finds neurons with equal parameters and (nearly) equal incoming weights and biases; such
  neurons spike together, so one is kept and receives the sum of their outgoing weights.

Populations that are network outputs keep every neuron (the output shape must not change).
Removing or merging neurons flattens a population to 1-D.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import sparse

from ..ir.network import Network, Population
from ..ir.ops import Matrix
from ..sim.float_sim import simulate
from .base import PassContext, PassError, PassResult, register
from .fold import ensure_folded, matrix_of


def _flat_pop(pop: Population, keep: np.ndarray) -> Population:
    arrays = {k: a.reshape(-1)[keep] for k, a in pop.params.arrays().items()}
    params = dataclasses.replace(pop.params, **arrays)
    quant = pop.quant
    if quant is not None:
        quant = dataclasses.replace(quant, scale=quant.scale.reshape(-1)[keep])
    return dataclasses.replace(pop, shape=(int(keep.size),), params=params, quant=quant)


def reshape_neurons(
    net: Network, name: str, keep: np.ndarray, column_map: sparse.csr_matrix | None = None
) -> Network:
    """Keep neurons `keep` (flat indices) of population `name`; outgoing weights are first
    multiplied by `column_map` (n_old x n_new, e.g. to sum merged neurons) or sliced to `keep`."""
    pops = tuple(_flat_pop(p, keep) if p.name == name else p for p in net.populations)
    projections = []
    for pr in net.projections:
        m = matrix_of(pr)
        w, bias, in_shape, out_shape = m.weight, m.bias, m.in_shape, m.out_shape_
        delay = m.delay
        if delay is not None and pr.pre == name and column_map is not None:
            raise PassError(f"projection '{pr.name}': neurons with delayed synapses cannot merge")
        if pr.pre == name:
            w = sparse.csr_matrix(w @ column_map) if column_map is not None else w[:, keep]
            delay = None if delay is None else delay[:, keep]
            in_shape = (int(keep.size),)
        if pr.post == name:
            w = w[keep, :]
            delay = None if delay is None else delay[keep, :]
            bias = None if bias is None else bias[keep]
            out_shape = (int(keep.size),)
        w = sparse.csr_matrix(w)
        w.eliminate_zeros()
        w.sort_indices()
        delay = None if delay is None else sparse.csr_matrix(delay)
        projections.append(
            dataclasses.replace(pr, ops=(Matrix(w, in_shape, out_shape, bias, delay),))
        )
    return dataclasses.replace(net, populations=pops, projections=tuple(projections))


def drop_population(net: Network, name: str) -> Network:
    """Remove a population whose every neuron is gone, with every projection to or from it."""
    pops = tuple(p for p in net.populations if p.name != name)
    projs = tuple(pr for pr in net.projections if name not in (pr.pre, pr.post))
    return dataclasses.replace(net, populations=pops, projections=projs)


def _steady_bounds(
    lo: np.ndarray, hi: np.ndarray, decay: np.ndarray, bias: np.ndarray | float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of s[t] = (1 - decay) s[t-1] + d[t] + bias from s = 0, with d in [lo, hi]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        up, down = hi + bias, lo + bias
        s_hi = np.where(
            decay > 0,
            np.maximum(0.0, up / np.where(decay > 0, decay, 1)),
            np.where(up <= 0, 0.0, np.inf),
        )
        s_lo = np.where(
            decay > 0,
            np.minimum(0.0, down / np.where(decay > 0, decay, 1)),
            np.where(down >= 0, 0.0, -np.inf),
        )
    return s_lo, s_hi


def silent_neurons(
    net: Network, input_range: tuple[float, float] = (0.0, 1.0)
) -> dict[str, np.ndarray]:
    """Per spiking population, a mask of neurons whose threshold is unreachable for any input in
    `input_range` (interval arithmetic over the folded network, step by step to steady state)."""
    bounds: dict[str, tuple[np.ndarray, np.ndarray]] = {
        name: (
            np.full(int(np.prod(shape)), input_range[0]),
            np.full(int(np.prod(shape)), input_range[1]),
        )
        for name, shape in net.inputs.items()
    }
    silent: dict[str, np.ndarray] = {}
    for pop in net.populations:
        n, p = pop.size, pop.params
        d_lo, d_hi = np.zeros(n), np.zeros(n)
        for pr in net.projections_into(pop.name):
            m = matrix_of(pr)
            if pr.pre in bounds:
                lo, hi = bounds[pr.pre]
            else:  # recurrent from a population not yet bounded
                spiking = net.population(pr.pre).params.spiking
                size = net.population(pr.pre).size
                lo, hi = (
                    (np.zeros(size), np.ones(size))
                    if spiking
                    else (np.full(size, -np.inf), np.full(size, np.inf))
                )
            wp, wn = m.weight.maximum(0), m.weight.minimum(0)
            with np.errstate(invalid="ignore"):
                d_hi += np.nan_to_num(wp @ hi + wn @ lo, nan=np.inf)
                d_lo += np.nan_to_num(wp @ lo + wn @ hi, nan=-np.inf)
            if m.bias is not None:
                d_lo, d_hi = d_lo + m.bias, d_hi + m.bias
        if p.du is not None:
            d_lo, d_hi = _steady_bounds(d_lo, d_hi, p.du.reshape(-1))
        v_lo, v_hi = _steady_bounds(d_lo, d_hi, p.dv.reshape(-1), p.v_bias.reshape(-1))
        if p.v_threshold is not None:
            mask = v_hi <= p.v_threshold.reshape(-1)
            silent[pop.name] = mask
            bounds[pop.name] = (np.zeros(n), np.where(mask, 0.0, 1.0))
        else:
            bounds[pop.name] = (v_lo, v_hi)
    return silent


@register
@dataclass(frozen=True)
class PruneNeurons:
    """Remove dead (never fire on calibration data) and provably silent neurons."""

    name: ClassVar[str] = "prune_neurons"
    dead: bool = True
    silent: bool = True

    def run(self, net: Network, ctx: PassContext) -> PassResult:
        net, folded = ensure_folded(net)
        protected = set(net.outputs.values())
        silent = silent_neurons(net, self._input_range(ctx)) if self.silent else {}
        dead: dict[str, np.ndarray] = {}
        if self.dead:
            cal = ctx.require_calibration(self.name)
            trace = simulate(net, cal.x, record=True)
            dead = {k: v.sum(axis=(0, 1)).reshape(-1) == 0 for k, v in trace.spikes.items()}
        layers: list[dict[str, Any]] = []
        before = net.synapses
        for pop in list(net.populations):
            if pop.name in protected or not pop.params.spiking:
                continue
            s = silent.get(pop.name, np.zeros(pop.size, bool))
            d = dead.get(pop.name, np.zeros(pop.size, bool))
            remove = s | d
            if remove.all():
                net = drop_population(net, pop.name)
            elif remove.any():
                net = reshape_neurons(net, pop.name, np.flatnonzero(~remove))
            layers.append(
                {
                    "layer": pop.name,
                    "neurons_before": pop.size,
                    "removed_silent": int(s.sum()),
                    "removed_dead_only": int((d & ~s).sum()),
                    "neurons_after": int((~remove).sum()),
                }
            )
        removed = sum(r["neurons_before"] - r["neurons_after"] for r in layers)
        return PassResult(
            net,
            {
                "folded_first": folded,
                "neurons_removed": removed,
                "synapses_removed": before - net.synapses,
                "layers": layers,
            },
            changed=removed > 0,
        )

    @staticmethod
    def _input_range(ctx: PassContext) -> tuple[float, float]:
        if ctx.calibration is None:
            return (0.0, 1.0)
        xs = ctx.calibration.x
        arrays = list(xs.values()) if isinstance(xs, dict) else [xs]
        return (
            min(0.0, min(float(np.min(a)) for a in arrays)),
            max(1.0, max(float(np.max(a)) for a in arrays)),
        )


@register
@dataclass(frozen=True)
class Merge:
    """Merge neurons with equal parameters and incoming weights equal within `tol` (relative)."""

    name: ClassVar[str] = "merge"
    tol: float = 1e-6

    def run(self, net: Network, ctx: PassContext) -> PassResult:
        net, folded = ensure_folded(net)
        protected = set(net.outputs.values())
        layers: list[dict[str, int | str]] = []
        for pop in list(net.populations):
            if pop.name in protected:
                continue
            clusters = self._clusters(net, pop)
            n_new = int(clusters.max()) + 1 if clusters.size else 0
            if n_new == pop.size:
                continue
            reps = np.array([np.flatnonzero(clusters == c)[0] for c in range(n_new)])
            cmap = sparse.csr_matrix(
                (np.ones(pop.size), (np.arange(pop.size), clusters)), shape=(pop.size, n_new)
            )
            net = reshape_neurons(net, pop.name, reps, column_map=cmap)
            layers.append({"layer": pop.name, "neurons_before": pop.size, "neurons_after": n_new})
        merged = sum(int(r["neurons_before"]) - int(r["neurons_after"]) for r in layers)
        return PassResult(
            net,
            {"folded_first": folded, "neurons_merged": merged, "layers": layers},
            changed=merged > 0,
        )

    def _clusters(self, net: Network, pop: Population) -> np.ndarray:
        """Cluster id per neuron, numbered in order of first appearance.

        Each neuron's key is its parameters and its incoming synapses (sources and weights on a
        grid of `tol` times the largest weight) and biases, read row by row from the sparse
        matrices: nothing dense is built."""
        incoming = [matrix_of(pr) for pr in net.projections_into(pop.name)]
        weights = [m.weight.tocsr() for m in incoming]
        peak = max((float(np.abs(w.data).max()) for w in weights if w.nnz), default=0.0)
        biases = [m.bias for m in incoming if m.bias is not None]
        if biases:
            peak = max(peak, max(float(np.abs(b).max()) for b in biases))
        grid = max(self.tol * (peak if peak > 0 else 1.0), 1e-300)
        params = [a.reshape(-1) for a in pop.params.arrays().values()]
        if pop.quant is not None:
            params.append(pop.quant.scale.reshape(-1))
        fixed = np.stack(params + [np.round(b / grid) + 0.0 for b in biases], axis=1)
        ids: dict[bytes, int] = {}
        out = np.empty(pop.size, dtype=np.int64)
        for i in range(pop.size):
            key = [fixed[i].tobytes()]
            for w in weights:
                lo, hi = w.indptr[i], w.indptr[i + 1]
                q = np.round(w.data[lo:hi] / grid) + 0.0  # + 0.0: -0.0 and 0.0 hash alike
                keep = q != 0
                key += [w.indices[lo:hi][keep].tobytes(), q[keep].tobytes(), b"|"]
            out[i] = ids.setdefault(b"".join(key), len(ids))
        return out
