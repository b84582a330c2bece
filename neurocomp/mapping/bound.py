"""A lower bound of the cores that holds for every split and every packing: a configuration LP.

The mapper's cost model (`neurocomp.mapping.split`, `pack`): a core holds blocks, each a set of
neurons of one layer; the core's neurons, synapse memory, input axons and output axons are the
sums over its blocks (output axons: per neuron, the distinct cores it has synapses on). A block
of m neurons owns, per input axon with c > 0 synapses into it (per source), one synapse list of
min(ceil((h + c e) / w), ceil((h + m d) / w)) words (h header bits, e bits of a sparse entry, d
bits per neuron of a dense list, w bits per word) and a shared conv kernel once if it uses it.

**The bound.** For each layer L and each count k, `LayerCosts` holds `floor[k]`: per resource, a
lower bound of what any k neurons of L on one core use, however they are cut into blocks:

- neurons: k.
- input axons, A(k): per source, the union of the k neurons' input axons is at least (a) the
  k-th smallest in-degree (the union holds each neuron's axons) and (b) the fewest axons u whose
  u largest min(out-degree, k) sum to the k smallest in-degrees' sum (each axon reaches at most
  min(out-degree, k) of the k neurons). Blocks on one core pay their unions separately, and a sum
  of unions is at least the union of all.
- synapse memory: one block of m neurons has n >= max(A(m), ceil(S(m) / U)) lists (S(m): the m
  smallest fan-ins summed, U = min(largest out-degree, m): no list has more synapses) and words
  phi(c) per list with c in [1, U]. For any line alpha + beta c <= phi(c) on [1, U] with alpha,
  beta >= 0, the block's words are >= alpha n + beta S; the best of a few such lines is taken,
  and a kernel is added where every m-subset uses it. The true least cost of m neurons in one
  block does not fall as m grows (dropping a neuron shortens every dense list and no sparse one
  grows), so values between the points computed hold from the point below. For k neurons in any
  number of blocks: the least sum over the partitions of k (a dynamic programme over k).
- output axons: each neuron with t distinct targets sends to at least ceil(t / neurons per
  core) cores; the k smallest summed.

**Windows.** Blocks are contiguous in the block order (`split.neuron_order`), so one block of
m neurons is a window [a, a + m) of it, and its input axons, synapses and list words are at
least the fewest of any window of m, computed exactly (`_window_axons`, `_window_synapses`,
`_window_words`): this sees halos, borders and part-filled dense lists as they are. The least
over windows of m does not fall as m grows (a window of m + 1 holds one of m and its cost is at
least that one's: lists only lose targets and dense lists shorten), so a value on a grid of m
holds up to the next grid point. k neurons on one core are blocks m_1 + ... = k, each a window,
so the least sum over the partitions of k bounds their axons and words. Over the whole layer,
a split is a chain of blocks [a, b) each fitting a core, and block [a, b) uses at least the
words of window [a, a + m) for the grid point m <= b - a (and cannot fit where those exceed
the core): the least such chain (`_least_split`) bounds the layer's list bits over every
split, and replaces the simple total where larger. Each is the larger of two valid floors.

Each floor is made non-decreasing in k (the least over k' >= k: the true least cost of k' >= k
neurons is at least that of k), so counts can be grouped: option j stands for every count in
(k_{j-1}, k_j], counts k_j neurons and costs the floor at k_{j-1} + 1.

**Validity.** Take any mapping onto n cores. Each core holds some count of each layer, so it is a
configuration: one option per layer (or none) whose floors, summed, fit the core's limits, since
the core's true use does and each floor is below it. The cores' configurations cover every
layer's neurons. So the configuration LP, min sum x_c subject to sum_c k_{c,L} x_c >= |L|, x >= 0
over all configurations c that fit, is at most n, and so is the ceiling of any lower bound of it.
The LP is solved by column generation: the master LP over the configurations found so far gives
duals pi; pricing (the best configuration for pi, a multiple-choice knapsack solved by HiGHS's
MILP) returns an upper bound v of max_c sum_L pi_L k_{c,L} (HiGHS's dual bound, so valid even
when pricing stops at its node limit). Then pi / v is feasible for the dual LP, so
sum_L pi_L |L| / v is a lower bound of the LP (Farley's bound) at every round; the best over the
rounds, rounded up, is reported.

It is tighter than `lower_bound` (total / limit) where the per-core overheads bind: halos of
input axons, list headers and word rounding on small blocks, a kernel copy per core, at most one
core's worth of every layer per core together. The per-core floors still let every block
of a core sit at the layer's cheapest window, so it stays below the optimum.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..ir.integer import IntNetwork, IntPopulation
from ..target.spec import TargetSpec
from . import kernels
from .split import (
    CHUNK_SYNAPSES,
    _entry_bits,
    any_equal,
    conv_sources,
    delayed_sources,
    neuron_order,
)

RESOURCES = ("neurons", "synapse_bits", "input_axons", "output_axons")
EXACT_COUNTS = 16  # every count up to this, then counts growing by GRID_STEP
GRID_STEP = 1.06
MAX_OPTIONS = 6000  # options over all layers above which the grid is coarsened
WINDOW_SYNAPSES = 2_000_000  # above this many synapses into a layer the window floors are
# skipped (their O(synapses) pass per count and its index arrays; the subset floors stand)
COMPILE_WINDOW_SYNAPSES = 50_000  # a compile takes the window floors up to this many synapses
# in the network: they cost ~1.5 us per synapse (O(synapses) per count of the grid), 15x the
# rest of a compile, and their event arrays ~13x the weights (1e5 banded: 0.9 s, peak memory
# 13x the weights); `lower_bound_lp` takes them at any size (up to WINDOW_SYNAPSES per layer)
SPLIT_WORK = 5_000_000  # neurons x neurons per core above which the split programme is skipped
WORDS_EXACT, WORDS_STEP = 8, 1.08  # the count grid of the exact window words, coarsened until
WORDS_WORK = 40_000_000  # its events (2 per synapse per count) are at most this many
MAX_LAYERS = 24  # above this many layers the LP is skipped (the simple bound stands): its
# column generation grows with the layers (12 s at 40 layers, 110 s at 120, measured)
MAX_ROUNDS = 60  # column generation rounds
PRICING_NODES = 2000  # branch-and-bound nodes per pricing MILP (a work bound: deterministic)
LINE_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)  # alpha as a share of phi(1)
PRICING_GAP = 1e-3  # the dual bound is used, so a loose gap only weakens the bound a little
_EPS = 1e-7
BLOCK_WORDS_CELLS = 1 << 16  # (block size, list length) cells per temporary of `_block_words`
_ROUND = 1e-6  # LP values within this of an integer round down to it


@dataclass(frozen=True)
class LayerCosts:
    """Per-core floors of one layer: option j counts `counts[j]` neurons and uses at least
    `floor[j]` (neurons, synapse bits, input axons, output axons) on any core; `split_bits`,
    bits over all its cores (from the windows)."""

    name: str
    size: int
    counts: np.ndarray  # (options,)
    floor: np.ndarray  # (options, 4), int64
    split_bits: int = 0  # a lower bound of the layer's synapse bits over every split (0: none)
    output_axons: int = 0  # a lower bound of the layer's output axons (`_fan_out_cores`, summed)


@dataclass(frozen=True)
class LPBound:
    """The configuration LP's bound: `cores` (rounded up), `value` (the LP's lower bound before
    rounding), how it was reached (`method`), and its time."""

    cores: int
    value: float
    method: str
    columns: int
    seconds: float


# -- per-layer statistics ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Source:
    indeg: np.ndarray  # distinct input axons of this source per neuron of the layer
    outdeg: np.ndarray  # distinct targets in the layer per axon with any (sorted descending)
    entry: int  # bits of a sparse entry
    dense: int  # bits per neuron of a dense list
    kernel: int | None  # bits of a shared kernel, once per block that uses it
    pattern: sparse.csr_matrix  # (neuron, axon) pairs with synapses, rows in block order


def _counts(a: np.ndarray, minlength: int) -> np.ndarray:
    """np.bincount of an index array CHUNK_SYNAPSES entries at a time: bincount converts its
    input to int64, a whole-array copy of a 1e8-entry int32 array otherwise (fresh memory)."""
    out = np.zeros(minlength, dtype=np.int64)
    for i in range(0, a.size, CHUNK_SYNAPSES):
        part = np.bincount(a[i : i + CHUNK_SYNAPSES], minlength=minlength)
        out[: part.size] += part
    return out


def _pattern(weights: list[sparse.csr_matrix]) -> sparse.csr_matrix:
    """The (neuron, axon) pairs with a nonzero weight in any of `weights` (one per projection)."""
    if len(weights) == 1 and not any_equal(weights[0].data, 0):  # its indices, 1 B of ones
        w = weights[0]
        ones = np.ones(w.nnz, dtype=np.int8)  # (a reordered copy then costs 5 B per synapse)
        return sparse.csr_matrix((ones, w.indices, w.indptr), shape=w.shape, copy=False)
    total = None
    for w in weights:
        p = sparse.csr_matrix(w != 0, dtype=np.int8)
        total = p if total is None else sparse.csr_matrix((total + p) > 0, dtype=np.int8)
    assert total is not None
    total.eliminate_zeros()
    return total


def _sources(net: IntNetwork, pop: IntPopulation, spec: TargetSpec) -> list[_Source]:
    delayed = delayed_sources(net, pop)
    kernels = conv_sources(net, pop, spec)
    order = neuron_order(pop)
    by_pre: dict[str, list[sparse.csr_matrix]] = {}
    for pr in net.projections_into(pop.name):
        by_pre.setdefault(pr.pre, []).append(pr.weight)
    f = spec.synapse_format
    out = []
    for pre, ws in by_pre.items():
        w = _pattern(ws)
        outdeg = _counts(w.indices, w.shape[1])
        out.append(
            _Source(
                np.diff(w.indptr).astype(np.int64),
                -np.sort(-outdeg[outdeg > 0]),
                _entry_bits(spec, pre in delayed),
                spec.format.weight_bits + (f.delay_bits if pre in delayed else 0),
                kernels.get(pre),
                w[order] if np.any(order != np.arange(pop.size)) else w,
            )
        )
    return out


def _fan_out_cores(net: IntNetwork, pop: IntPopulation, per_core: int) -> np.ndarray:
    """Per neuron of `pop`, the fewest cores its synapses can land on: ceil(distinct targets /
    neurons per core), targets in different layers counted apart (they are distinct neurons)."""
    per_post: dict[str, np.ndarray] = {}
    for pr in net.projections:
        if pr.pre != pop.name:
            continue
        w = pr.weight
        nz = w.indices[w.data != 0] if any_equal(w.data, 0) else w.indices
        t = _counts(nz, pop.size)
        per_post[pr.post] = np.maximum(per_post.get(pr.post, t), t)
    targets = sum(per_post.values(), np.zeros(pop.size, dtype=np.int64))
    return -(-np.asarray(targets, dtype=np.int64) // per_core)


def _grid(top: int, exact: int, step: float) -> np.ndarray:
    """Counts 1..exact, then growing by `step`, ending at `top`."""
    pts = list(range(1, min(exact, top) + 1))
    k = float(pts[-1]) if pts else 1.0
    while pts and pts[-1] < top:
        k = max(k * step, pts[-1] + 1)
        pts.append(min(top, int(k)))
    return np.array(pts or [top], dtype=np.int64)


def _axons(src: _Source, ks: np.ndarray) -> np.ndarray:
    """A lower bound of the union of any k neurons' axons from `src`, for every k in `ks`."""
    indeg = np.sort(src.indeg)
    kth = indeg[ks - 1]
    s = np.concatenate([[0], np.cumsum(indeg)])[ks]  # least synapses of k neurons
    o = src.outdeg  # descending
    if not o.size:
        return np.zeros(len(ks), dtype=np.int64)
    prefix = np.concatenate([[0], np.cumsum(o)])
    big = np.searchsorted(-o, -ks, side="right")  # axons with out-degree >= k
    # need <= big * k: those axons alone, ceil(need / k); else the first `big` axons reach k
    # each and the rest their out-degree: the fewest u with prefix[u] - prefix[big] >= rest
    # (prefix[big] + rest > prefix[big], so the search lands above big)
    rest = s - big * ks
    cap = np.where(
        rest <= 0,
        -(-s // ks),
        np.searchsorted(prefix, prefix[big] + np.maximum(rest, 0), side="left"),
    )
    return np.maximum(kth, np.minimum(cap, o.size))


@dataclass(frozen=True)
class _Runs:
    """Per input axon (all sources of a layer together), its first and last target in block
    order and the gaps between consecutive targets (`lo` -> `hi`, sorted by length `gap`)."""

    first: np.ndarray
    last: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    gap: np.ndarray


def _runs(srcs: list[_Source]) -> _Runs:
    parts: list[list[np.ndarray]] = [[], [], [], [], []]
    for s in srcs:
        c = s.pattern.tocsc()
        c.sort_indices()
        r, ptr = c.indices.astype(np.int64), c.indptr
        used = np.flatnonzero(np.diff(ptr))
        parts[0].append(r[ptr[used]])
        parts[1].append(r[ptr[used + 1] - 1])
        col = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
        same = col[:-1] == col[1:]  # consecutive targets of one axon
        parts[2].append(r[:-1][same])
        parts[3].append(r[1:][same])
    for i in range(4):
        parts[i] = [np.concatenate(parts[i])] if parts[i] else [np.zeros(0, np.int64)]
    gap = parts[3][0] - parts[2][0]
    by = np.argsort(gap, kind="stable")
    return _Runs(parts[0][0], parts[1][0], parts[2][0][by], parts[3][0][by], gap[by])


def _window_axons(runs: _Runs, size: int, ms: np.ndarray) -> np.ndarray:
    """For every m in `ms`, the fewest input axons of any m consecutive neurons in block order
    (exact: the least over every window). A window [a, a + m) holds a target t of an axon iff
    a lies in (t - m, t]; per axon the union of these intervals is (first - m, last] less the
    gaps (t_i, t_{i+1} - m] between consecutive targets further apart than m. A difference
    array over a counts, per window start, the axons it holds: O(axons + gaps over m + size)."""
    out = np.zeros(len(ms), dtype=np.int64)
    n = size + 2
    for i, m in enumerate(ms):
        m = int(m)
        d = np.bincount(np.maximum(runs.first - m + 1, 0), minlength=n)[:n]
        d = d - np.bincount(runs.last + 1, minlength=n)[:n]
        wide = int(np.searchsorted(runs.gap, m, side="right"))  # gaps longer than m
        d -= np.bincount(runs.lo[wide:] + 1, minlength=n)[:n]
        d += np.bincount(runs.hi[wide:] - m + 1, minlength=n)[:n]
        out[i] = int(np.min(np.cumsum(d)[: size - m + 1]))
    return out


def _list_words(n: np.ndarray, src: _Source, m: int, spec: TargetSpec) -> np.ndarray:
    """Words of lists of n synapses in a block of m neurons (`split.list_bits`; 0 for n = 0)."""
    f = spec.synapse_format
    dense = -(-(f.header_bits + m * src.dense) // f.word_bits)
    sp = -(-(f.header_bits + n * src.entry) // f.word_bits)
    return np.where(n > 0, np.minimum(sp, dense), 0)


def _window_words(lists: list[_Source], size: int, ms: np.ndarray, spec: TargetSpec) -> np.ndarray:
    """For every m in `ms`, the fewest synapse-list words of any m consecutive neurons in one
    block (exact: per window, every axon's list at the cheaper of sparse and dense, as
    `split.list_bits`). Per axon the count of its targets in [a, a + m) changes only where a
    target enters (a = t - m + 1) or leaves (a = t + 1); the change of its words there, put in
    a difference array over a, gives every window's words: O(synapses log synapses) per m (the
    count itself is the running sum of the axon's changes, events sorted by position)."""
    big, keyed = _keyed(lists, size)
    per_start = _window_words_at(keyed, big, size, ms, spec)
    return np.array([int(np.min(w)) for w in per_start], dtype=np.int64)


def _keyed(
    lists: list[_Source], size: int
) -> tuple[int, list[tuple[_Source, np.ndarray, np.ndarray]]]:
    big = 2 * size + 4
    keyed = []
    for s in lists:
        c = s.pattern.tocsc()
        c.sort_indices()
        axon = np.repeat(np.arange(c.shape[1], dtype=np.int64), np.diff(c.indptr))
        t = c.indices.astype(np.int64)
        keyed.append((s, t, axon))
    return big, keyed


def _window_words_at(
    keyed: list[tuple[_Source, np.ndarray, np.ndarray]],
    big: int,
    size: int,
    ms: np.ndarray,
    spec: TargetSpec,
) -> list[np.ndarray]:
    """Per m in `ms`, the words of the window [a, a + m) for every start a (0..size - m)."""
    out = []
    for m in (int(m) for m in ms):
        d = np.zeros(size + 1, dtype=np.float64)
        for s, t, axon in keyed:
            pos = np.concatenate([np.maximum(t - m + 1, 0), t + 1])
            sign = np.concatenate([np.ones(t.size, np.int64), -np.ones(t.size, np.int64)])
            keep = pos <= size - m
            if not np.any(keep):
                continue
            keys = np.tile(axon, 2)[keep] * big + pos[keep]
            # two sorted runs (entries, leaves): a stable sort merges them in linear time
            by = np.argsort(keys, kind="stable")
            keys, sign = keys[by], sign[keep][by]
            new = np.r_[True, keys[1:] != keys[:-1]]
            key = keys[new]
            dc = np.bincount(np.cumsum(new) - 1, weights=sign).astype(np.int64)  # net change
            ax, pos = key // big, key % big
            cs = np.cumsum(dc)
            first = np.flatnonzero(np.r_[True, ax[1:] != ax[:-1]])
            base = np.repeat(cs[first] - dc[first], np.diff(np.r_[first, ax.size]))
            now = cs - base  # the axon's targets in [a, a + m) after its changes at a
            delta = _list_words(now, s, m, spec) - np.where(
                pos > 0, _list_words(now - dc, s, m, spec), 0
            )
            d += np.bincount(pos, weights=delta, minlength=size + 1)[: size + 1]
        out.append(np.rint(np.cumsum(d)[: size - m + 1]).astype(np.int64))
    return out


def _least_split(per_start: list[np.ndarray], ms: np.ndarray, size: int, top: int, cap: int) -> int:
    """The fewest words over every split of the layer into contiguous blocks of at most `top`
    neurons: a block [a, b) holds the window [a, a + m) for the grid point m <= b - a, so it
    uses at least that window's words, and no block whose window exceeds `cap` words fits a
    core. A dynamic programme over the block ends b: O(size x top)."""
    inf = np.float64(np.inf)
    wmat = np.full((len(ms), size + 1), inf)
    for g, w in enumerate(per_start):
        wmat[g, : w.size] = np.where(w <= cap, w, inf)
    lengths = np.arange(1, top + 1)
    g_of = np.searchsorted(ms, lengths, side="right") - 1
    f = np.full(size + 1, inf)
    f[0] = 0.0
    for b in range(1, size + 1):
        m = lengths[: min(b, top)]
        a = b - m
        f[b] = np.min(f[a] + wmat[g_of[: m.size], a])
    return int(f[size]) if np.isfinite(f[size]) else -1


def _window_synapses(fan: np.ndarray, ms: np.ndarray) -> np.ndarray:
    """For every m in `ms`, the fewest synapses of any m consecutive neurons (fan-ins in block
    order)."""
    c = np.concatenate([[0], np.cumsum(fan)])
    return np.array([int(np.min(c[m:] - c[:-m])) for m in ms], dtype=np.int64)


def _block_words(
    n: np.ndarray,
    s: np.ndarray,
    ms: np.ndarray,
    umax: int,
    spec: TargetSpec,
    entry: int,
    dense: int,
) -> np.ndarray:
    """Words of one block of m neurons (for m in `ms`) with at least n lists and s synapses: the
    best line alpha + beta c below phi_m(c) on [1, min(umax, m)], evaluated at (n, s). Every m
    at once, in row chunks of at most BLOCK_WORDS_CELLS (m, c) cells (bounded temporaries)."""
    f = spec.synapse_format
    ms = np.asarray(ms, dtype=np.int64)
    out = np.zeros(len(ms), dtype=np.float64)
    if not len(ms):
        return out
    u = np.maximum(1, np.minimum(umax, ms))
    c = np.arange(1, int(u.max()) + 1, dtype=np.int64)
    sparse_w = -(-(f.header_bits + c * entry) // f.word_bits)
    dense_w = -(-(f.header_bits + ms * dense) // f.word_bits)
    step = max(1, BLOCK_WORDS_CELLS // len(c))
    for r0 in range(0, len(ms), step):
        r = slice(r0, r0 + step)
        phi = np.minimum(sparse_w[None, :], dense_w[r, None]).astype(float)
        outside = c[None, :] > u[r, None]  # beyond the block's largest list
        lists = np.maximum(np.asarray(n[r], dtype=np.float64), np.ceil(s[r] / u[r]))
        best = np.zeros(phi.shape[0])
        for t in LINE_FRACTIONS:
            alpha = t * phi[:, 0]
            ratio = (phi - alpha[:, None]) / c[None, :]
            ratio[outside] = np.inf
            beta = np.maximum(0.0, ratio.min(axis=1))
            best = np.maximum(best, alpha * lists + beta * s[r])
        out[r] = best
    return out


def _partition_min(single: np.ndarray) -> np.ndarray:
    """g[k] = least sum of single[m_i] over partitions of k into parts m_i (index 0 unused);
    compiled where numba is (`neurocomp.mapping.kernels`, the same sums)."""
    if kernels.available():
        return kernels.partition_min(single)
    return partition_min_py(single)


def partition_min_py(single: np.ndarray) -> np.ndarray:
    """`_partition_min` in numpy, one count at a time."""
    g = single.astype(np.float64).copy()
    for k in range(2, len(g)):
        best = np.min(g[1:k] + single[k - 1 : 0 : -1])
        if best < g[k]:
            g[k] = best
    return g


def _suffix_min(a: np.ndarray) -> np.ndarray:
    return np.minimum.accumulate(a[::-1])[::-1]


def _below(values: np.ndarray, grid: np.ndarray, top: int) -> np.ndarray:
    """Values on `grid` spread to every count 1..top, each from the grid point at or below (a
    valid floor where the true value does not fall with the count)."""
    return values[np.searchsorted(grid, np.arange(1, top + 1), side="right") - 1]


def _with_windows(
    spec: TargetSpec,
    srcs: list[_Source],
    lists: list[_Source],
    size: int,
    top: int,
    step: float,
    axons: np.ndarray,
    list_axons: np.ndarray,
    least: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, int]:
    """The floors raised by the windows of the block order (blocks are contiguous there).

    One block of m neurons is a window of m consecutive neurons, so its input axons (its
    synapses) are at least the fewest of any such window, `_window_axons` (`_window_synapses`),
    which counts halos and borders as they are; that least does not fall with m (a longer
    window holds a shorter one), so grid points hold up to the next. k neurons of the layer on
    one core are blocks of m_1 + ... = k neurons, each a window: their input axons are at
    least the least sum of window floors over the partitions of k. Each floor is the larger of
    this and the subset floor, both valid. The same holds for one block's synapse-list words
    (`_window_words`, on a coarser grid: its pass is the dearest), returned per count, and
    with them the layer's least list bits over every split (`_least_split`; 0 if skipped)."""
    grid = _grid(top, EXACT_COUNTS, step)
    win = _below(_window_axons(_runs(srcs), size, grid), grid, top).astype(np.float64)
    axons = np.maximum(axons, _partition_min(np.concatenate([[0.0], win]))[1:])
    if lists:
        win_l = _below(_window_axons(_runs(lists), size, grid), grid, top)
        list_axons = np.maximum(list_axons, win_l)
        fan = sum((np.diff(s.pattern.indptr) for s in lists), np.zeros(size, dtype=np.int64))
        syn = _below(_window_synapses(fan, grid), grid, top)  # fan-ins in block order
        least = np.maximum(least, syn)
        events = 2 * sum(int(s.pattern.nnz) for s in lists)
        words_step = WORDS_STEP
        coarse = _grid(top, WORDS_EXACT, words_step)
        while events * len(coarse) > WORDS_WORK and len(coarse) > 2:
            words_step = 1 + 2 * (words_step - 1)
            coarse = _grid(top, min(WORDS_EXACT, len(coarse) // 2), words_step)
        big, keyed = _keyed(lists, size)
        per_start = _window_words_at(keyed, big, size, coarse, spec)
        exact = _below(np.array([int(np.min(w)) for w in per_start]), coarse, top)
        total = 0
        if size * top <= SPLIT_WORK:
            f = spec.synapse_format
            cap = spec.core.synapse_memory_bits // f.word_bits
            total = max(0, _least_split(per_start, coarse, size, top, cap)) * f.word_bits
        return axons, list_axons, least, exact, total
    return axons, list_axons, least, None, 0


def layer_costs(
    net: IntNetwork,
    spec: TargetSpec,
    pop: IntPopulation,
    step: float = GRID_STEP,
    windows: bool = True,
) -> LayerCosts:
    """The per-core floors of `pop` (see the module docstring) on the count grid; the window
    floors only with `windows` (and up to WINDOW_SYNAPSES into the layer)."""
    lim = spec.core
    top = min(pop.size, lim.neurons)
    ks_all = np.arange(1, top + 1, dtype=np.int64)
    srcs = _sources(net, pop, spec)
    lists = [s for s in srcs if s.kernel is None]
    # Input axons, every count (the dynamic programme below needs every m).
    axons = np.zeros(top, dtype=np.float64)
    list_axons = np.zeros(top, dtype=np.float64)
    kernel_bits = np.zeros(top, dtype=np.float64)
    for s in srcs:
        a = _axons(s, ks_all)
        axons += a
        if s.kernel is None:
            list_axons += a
        else:  # used by every block of more neurons than have no synapse from it
            unused = int(np.count_nonzero(s.indeg == 0))
            kernel_bits += np.where(ks_all > unused, s.kernel, 0)
    fan = sum((s.indeg for s in lists), np.zeros(pop.size, dtype=np.int64))
    least = np.concatenate([[0], np.cumsum(np.sort(fan))])[1 : top + 1].astype(np.float64)
    exact, split_bits = None, 0
    if windows and sum(int(s.pattern.nnz) for s in srcs) <= WINDOW_SYNAPSES:
        axons, list_axons, least, exact, split_bits = _with_windows(
            spec, srcs, lists, pop.size, top, step, axons, list_axons, least
        )
    # One block of m neurons, on a grid of m (the true least cost does not fall with m).
    words = np.zeros(top + 1)
    if lists:
        grid = _grid(top, EXACT_COUNTS, step)
        umax = max(int(s.outdeg[0]) if s.outdeg.size else 1 for s in lists)
        entry = min(s.entry for s in lists)
        dense = min(s.dense for s in lists)
        at = _block_words(list_axons[grid - 1], least[grid - 1], grid, umax, spec, entry, dense)
        idx = np.searchsorted(grid, ks_all, side="right") - 1  # the grid point at or below
        words[1:] = at[idx]
        if exact is not None:
            words[1:] = np.maximum(words[1:], exact)
    single = np.ceil(words - _EPS) * spec.synapse_format.word_bits
    single[1:] += kernel_bits
    bits = _partition_min(single)[1:]
    fan_out = _fan_out_cores(net, pop, lim.neurons)
    out_cores = np.concatenate([[0], np.cumsum(np.sort(fan_out))])
    floor_all = np.stack(
        [
            ks_all.astype(np.float64),
            _suffix_min(bits),
            _suffix_min(axons),
            out_cores[1 : top + 1].astype(np.float64),
        ],
        axis=1,
    )
    counts = _grid(top, EXACT_COUNTS, step)
    lo = np.concatenate([[1], counts[:-1] + 1])  # option j: counts (counts[j-1], counts[j]]
    floor = np.floor(floor_all[lo - 1] + _EPS).astype(np.int64)
    kernels = sum(s.kernel for s in srcs if s.kernel is not None and s.pattern.nnz)
    return LayerCosts(
        pop.name,
        pop.size,
        counts,
        floor,
        split_bits + kernels if split_bits else 0,
        int(fan_out.sum()),
    )


# -- the configuration LP ------------------------------------------------------------------------
def _limits(spec: TargetSpec) -> np.ndarray:
    lim = spec.core
    return np.array(
        [lim.neurons, lim.synapse_memory_bits, lim.input_axons, lim.output_axons], dtype=np.int64
    )


def _master(columns: list[np.ndarray], demand: np.ndarray) -> tuple[float, np.ndarray]:
    """min sum x subject to sum_c col_c x_c >= demand: the value and the duals (>= 0)."""
    from scipy.optimize import linprog

    a = np.stack(columns, axis=1).astype(np.float64)
    scale = np.maximum(demand, 1.0)  # rows scaled to order one (the duals scaled back)
    res = linprog(
        np.ones(a.shape[1]),
        A_ub=-a / scale[:, None],
        b_ub=-demand / scale,
        bounds=(0, None),
        method="highs",
    )
    if res.status != 0:
        raise RuntimeError(f"master LP: {res.message}")
    return float(res.fun), np.maximum(0.0, -np.asarray(res.ineqlin.marginals)) / scale


def _price(
    layers: list[LayerCosts], dual: np.ndarray, limits: np.ndarray
) -> tuple[float, np.ndarray]:
    """An upper bound of the best configuration's value for `dual` (per layer and resource),
    and that configuration (per layer: neurons, then the use of each other resource).

    Variables: y (one binary per option, at most one per layer), the layer's neurons k (within
    the chosen option's counts: a relaxation of integer k) and u[L, r] >= 0, the layer's use of
    resource r: at least the option's floor, zero without one, the layers' sums within the
    limits (neurons included)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_l, n_r = len(layers), len(RESOURCES)
    dual = dual.reshape(n_l, n_r)
    lim = limits.astype(np.float64)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo: list[float] = []
    hi: list[float] = []
    offsets = np.cumsum([0] + [len(lc.counts) for lc in layers])
    n_y = int(offsets[-1])
    n_var = n_y + n_l * n_r

    def u(layer: int, r: int) -> int:  # r = 0: the neurons k; all in units of the limit
        return n_y + layer * n_r + r

    def row(c: np.ndarray, v: np.ndarray, low: float, high: float) -> None:
        rows.append(np.full(len(c), len(lo)))
        cols.append(np.asarray(c))
        vals.append(np.asarray(v, dtype=np.float64))
        lo.append(low)
        hi.append(high)

    cost = np.zeros(n_var)
    for i, lc in enumerate(layers):
        y = np.arange(offsets[i], offsets[i + 1])
        row(y, np.ones(len(y)), -np.inf, 1)  # one option at most
        for r in range(n_r):
            cost[u(i, r)] = -dual[i, r] * lim[r]  # u in units of the limit
            fl = lc.floor[:, r] / lim[r]
            row(np.append(y, u(i, r)), np.append(fl, -1.0), -np.inf, 0)  # u >= floor
            top = lc.counts / lim[0] if r == 0 else np.ones(len(y))
            row(np.append(y, u(i, r)), np.append(-top, 1.0), -np.inf, 0)  # u <= top, 0 if none
    for r in range(n_r):
        row(np.array([u(i, r) for i in range(n_l)]), np.ones(n_l), -np.inf, 1)
    fits = np.concatenate([np.all(lc.floor <= limits, axis=1) for lc in layers])
    a = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(lo), n_var)
    )
    res = milp(
        cost,
        constraints=LinearConstraint(a, lo, hi),
        integrality=np.concatenate([np.ones(n_y), np.zeros(n_var - n_y)]),
        bounds=Bounds(np.zeros(n_var), np.concatenate([fits.astype(float), np.ones(n_var - n_y)])),
        options={"node_limit": PRICING_NODES, "presolve": True, "mip_rel_gap": PRICING_GAP},
    )
    bound = getattr(res, "mip_dual_bound", None)
    if res.x is None or bound is None or not np.isfinite(bound):
        raise RuntimeError(f"pricing MILP: {res.message}")
    config = res.x[n_y:].reshape(n_l, n_r) * lim[None, :]
    return max(-float(bound), -float(res.fun)), config.reshape(-1)


def configuration_bound(
    layers: list[LayerCosts], spec: TargetSpec, totals: np.ndarray, floor: int = 0
) -> tuple[float, int]:
    """Farley's lower bound of the configuration LP after column generation, and the columns.

    `totals` (layers x resources): a lower bound of each layer's total use of each resource over
    all cores (neurons: the layer's size), the demand each configuration's share covers.
    `floor`: a bound already known (the simple one); generation stops once the master's value,
    an upper bound of the LP, rounds up to at most it (no round could then raise the bound
    above `floor`; the returned value is Farley's bound so far)."""
    limits = _limits(spec)
    n_l, n_r = len(layers), len(RESOURCES)
    demand = np.asarray(totals, dtype=np.float64).reshape(-1)
    columns = []
    for i, lc in enumerate(layers):  # start: each layer alone, a full core of it
        fits = np.flatnonzero(np.all(lc.floor <= limits, axis=1))
        if not fits.size:
            raise RuntimeError(f"no core holds one neuron of {lc.name}")
        col = np.zeros((n_l, n_r))
        col[i, 0] = lc.counts[fits[-1]]
        col[i, 1:] = limits[1:]
        columns.append(col.reshape(-1))
    best = 0.0
    for _ in range(MAX_ROUNDS):
        z, pi = _master(columns, demand)
        if math.ceil(z - _ROUND) <= floor:
            break
        v, config = _price(layers, pi, limits)
        best = max(best, z / max(v, 1.0))
        # z bounds the LP from above: once both round up alike, no round can raise the bound.
        if v <= 1.0 + 1e-6 or math.ceil(best - _ROUND) >= math.ceil(z - _ROUND):
            break
        columns.append(config)
    return best, len(columns)


def lp_bound(
    net: IntNetwork,
    spec: TargetSpec,
    simple: int,
    totals: dict[str, tuple[int, int]],
    windows: bool = True,
) -> LPBound:
    """The configuration LP's bound (at least `simple`, the simple bound) or, where the network
    has too many layers or the LP fails, the simple bound with the reason in `method`.

    `totals`: per layer, the simple bound's synapse memory and input axons (lower bounds of the
    layer's total over every split into contiguous blocks). `windows`: with the window floors
    (tighter, dearer); without them `method` says so."""
    t0 = time.perf_counter()
    pops = [p for p in net.populations if p.size]
    if not pops:
        return LPBound(0, 0.0, "no neurons", 0, 0.0)
    if len(pops) > MAX_LAYERS:
        return LPBound(
            simple, float(simple), f"simple (LP skipped: {len(pops)} > {MAX_LAYERS} layers)", 0, 0.0
        )
    step = GRID_STEP
    while True:
        layers = [layer_costs(net, spec, p, step, windows) for p in pops]
        if sum(len(lc.counts) for lc in layers) <= MAX_OPTIONS or step > 2:
            break
        step = 1 + 2 * (step - 1)
    demand = np.array(
        [
            [
                p.size,
                max(totals[p.name][0], lc.split_bits),
                totals[p.name][1],
                lc.output_axons,
            ]
            for p, lc in zip(pops, layers, strict=True)
        ],
        dtype=np.float64,
    )
    try:
        value, columns = configuration_bound(layers, spec, demand, simple)
    except RuntimeError as err:
        return LPBound(
            simple, float(simple), f"simple (LP failed: {err})", 0, time.perf_counter() - t0
        )
    cores = max(simple, math.ceil(value - _ROUND))
    method = "configuration LP" + ("" if windows else " (without the window floors)")
    return LPBound(cores, value, method, columns, time.perf_counter() - t0)


__all__ = [
    "COMPILE_WINDOW_SYNAPSES",
    "LPBound",
    "LayerCosts",
    "configuration_bound",
    "layer_costs",
    "lp_bound",
]
