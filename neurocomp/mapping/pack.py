"""Pack blocks into cores (first fit, even spread, exact MILP where small) within every
resource, and count output axons per core."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..ir.integer import IntNetwork
from ..target.spec import TargetSpec
from . import kernels, split
from .split import Block, chunks, neuron_order


@dataclass
class Core:
    """One core's blocks and the resources they use."""

    index: int
    blocks: list[Block] = field(default_factory=list)
    output_axons: int = 0

    @property
    def neurons(self) -> int:
        return sum(b.neurons for b in self.blocks)

    @property
    def synapse_bits(self) -> int:
        return sum(b.synapse_bits for b in self.blocks)

    @property
    def input_axons(self) -> int:
        return sum(b.input_axons for b in self.blocks)

    @property
    def synapses(self) -> int:
        return sum(b.synapses for b in self.blocks)

    @property
    def fan_in(self) -> int:
        return max((b.fan_in for b in self.blocks), default=0)

    def usage(self) -> dict[str, int]:
        return {
            "neurons": self.neurons,
            "synapse_bits": self.synapse_bits,
            "input_axons": self.input_axons,
            "output_axons": self.output_axons,
            "fan_in": self.fan_in,
            "synapses": self.synapses,
        }


def first_fit(blocks: list[Block], spec: TargetSpec, out_bound: list[int]) -> list[Core]:
    """Blocks in network order into the first core where every resource still fits.

    `out_bound` is an upper bound of each block's output axons, so the packed cores stay within
    the output-axon limit whatever else shares them."""
    lim = spec.core
    limits = np.array([lim.neurons, lim.synapse_memory_bits, lim.input_axons, lim.output_axons])
    used = np.zeros((max(len(blocks), 1), 4), dtype=np.int64)  # running totals per open core
    cores: list[Core] = []
    for b, o in zip(blocks, out_bound, strict=True):
        need = np.array([b.neurons, b.synapse_bits, b.input_axons, o])
        fits = np.flatnonzero(np.all(used[: len(cores)] + need <= limits, axis=1))
        if fits.size:
            k = int(fits[0])
            cores[k].blocks.append(b)
        else:
            k = len(cores)
            cores.append(Core(k, [b]))
        used[k] += need
    return cores


def neuron_cores(net: IntNetwork, cores: list[Core]) -> dict[str, np.ndarray]:
    """Core index of every neuron, per population."""
    out = {p.name: np.full(p.size, -1, dtype=np.int64) for p in net.populations}
    order = {p.name: neuron_order(p) for p in net.populations}
    for c in cores:
        for b in c.blocks:
            out[b.population][order[b.population][b.start : b.stop]] = c.index
    return out


def destinations(
    net: IntNetwork, where: dict[str, np.ndarray], n_cores: int
) -> dict[str, sparse.csr_matrix]:
    """Per source (input or population): a (source neurons x cores) matrix of synapse counts.

    A neuron sends one message to every core where it has at least one synapse. One sparse
    product per projection, transposed synapses times each target's core (one entry per row):
    linear in the synapses, in chunks of about CHUNK_SYNAPSES synapses summed once at the end.
    The chunks take the target rows core by core, so that a (source, core) pair comes out of
    one or two chunks: in a conv layer's channel-major rows one core's neurons (a patch, every
    channel) recur in every channel, and chunks of consecutive rows repeated every pair once
    per channel before the final sum (gigabytes and minutes on a 1e8-synapse conv net).
    Compiled where numba is (`neurocomp.mapping.kernels.destinations`: two passes over the
    synapses, the same matrices)."""
    if kernels.available():
        return _destinations_compiled(net, where, n_cores)
    parts: dict[str, list[sparse.coo_matrix]] = {}
    shapes: dict[str, tuple[int, int]] = {}
    for pr in net.projections:
        w = pr.weight
        shapes[pr.pre] = (w.shape[1], n_cores)
        for pattern, cores in _row_chunks_by_core(w, where[pr.post]):
            onehot = sparse.csr_matrix(
                (np.ones(len(cores), dtype=np.int64), cores, np.arange(len(cores) + 1)),
                shape=(len(cores), n_cores),
            )
            # the product comes out by core (CSC): its triplets as they are, no CSR between
            parts.setdefault(pr.pre, []).append(sparse.coo_matrix(pattern.T @ onehot))
    out: dict[str, sparse.csr_matrix] = {}
    for name, shape in shapes.items():
        got = parts.get(name, [])
        if got:  # one sum of all chunks (sum_duplicates), not one add per chunk
            total = sparse.csr_matrix(
                (
                    np.concatenate([c.data for c in got]),
                    (np.concatenate([c.row for c in got]), np.concatenate([c.col for c in got])),
                ),
                shape=shape,
            )
        else:
            total = sparse.csr_matrix(shape, dtype=np.int64)
        total.sum_duplicates()
        total.sort_indices()
        out[name] = total
    return out


def _destinations_compiled(
    net: IntNetwork, where: dict[str, np.ndarray], n_cores: int
) -> dict[str, sparse.csr_matrix]:
    """`destinations` by `kernels.destinations`, per projection; projections from one source
    summed."""
    out: dict[str, sparse.csr_matrix] = {}
    for pr in net.projections:
        w = pr.weight
        shape = (w.shape[1], n_cores)
        ptr, core, count = kernels.destinations(w.indptr, w.indices, shape[0], where[pr.post])
        d = sparse.csr_matrix((count, core, ptr), shape=shape)
        if pr.pre in out:
            d = out[pr.pre] + d
            d.sum_duplicates()
            d.sort_indices()
        d.has_sorted_indices = True
        out[pr.pre] = d
    return out


def _row_chunks_by_core(
    w: sparse.csr_matrix, post_core: np.ndarray
) -> Iterator[tuple[sparse.csr_matrix, np.ndarray]]:
    """The synapse pattern of `w` (ones) in chunks of rows taken in order of their core, each
    with its rows' cores; rows already in that order are sliced, others gathered."""
    order = np.argsort(post_core, kind="stable")
    in_order = bool(np.all(order[1:] > order[:-1]))
    lens = np.diff(w.indptr)
    ptr = w.indptr if in_order else np.concatenate([[0], np.cumsum(lens[order])])
    # a fraction of the layer at most, as the split's chunks: small layers' peak memory too
    size = min(split.CHUNK_SYNAPSES, max(1 << 12, w.nnz // 8))
    ones = np.ones(0, dtype=np.int64)  # the patterns' weights: one buffer, read only
    for r0, r1 in chunks(ptr, size):
        if in_order:
            lo, hi = int(w.indptr[r0]), int(w.indptr[r1])
            indices, indptr, cores = w.indices[lo:hi], w.indptr[r0 : r1 + 1] - lo, post_core[r0:r1]
        else:
            sub = w[order[r0:r1]]
            indices, indptr, cores = sub.indices, sub.indptr, post_core[order[r0:r1]]
        if indices.size == 0:
            continue
        if ones.size < indices.size:
            ones = np.ones(max(indices.size, size), dtype=np.int64)
        pattern = sparse.csr_matrix(
            (ones[: indices.size], indices, indptr), shape=(r1 - r0, w.shape[1]), copy=False
        )
        yield pattern, cores


def count_output_axons(
    net: IntNetwork, cores: list[Core], dest: dict[str, sparse.csr_matrix] | None = None
) -> dict[str, sparse.csr_matrix]:
    """Fill in each core's output axons: (neuron, destination core) pairs of its neurons;
    `dest`: the destinations of these cores where already known (`merge_destinations`)."""
    where = neuron_cores(net, cores)
    if dest is None:
        dest = destinations(net, where, len(cores))
    for c in cores:
        c.output_axons = 0
    for name, d in dest.items():
        if name not in where:
            continue  # network inputs arrive from the host, not from a core
        per_neuron = np.diff(d.indptr)
        src_core = where[name]
        totals = np.bincount(src_core, weights=per_neuron, minlength=len(cores))
        for c in cores:
            c.output_axons += int(totals[c.index])
    return dest


def merge_destinations(
    by_block: dict[str, sparse.csr_matrix], core_of_block: np.ndarray, n_cores: int
) -> dict[str, sparse.csr_matrix]:
    """Destinations per core from destinations per block (`destinations` with each block a
    core of its own) and each block's core: the blocks' columns of a core summed, the same
    matrices as `destinations` of that packing, in work per (neuron, block) pair instead of
    per synapse (a packing repeated for output axons reuses one pass over the synapses)."""
    core_of = np.asarray(core_of_block, dtype=np.int64)
    if len(core_of) == n_cores and np.array_equal(core_of, np.arange(n_cores)):
        return dict(by_block)  # a block per core, in order: the same matrices
    out = {}
    for name, d in by_block.items():  # columns relabelled, then each row sorted and summed
        cols = core_of.astype(d.indices.dtype)[d.indices]
        m = sparse.csr_matrix((d.data.copy(), cols, d.indptr.copy()), (d.shape[0], n_cores))
        m.has_sorted_indices = False
        m.sort_indices()
        m.sum_duplicates()
        out[name] = m
    return out


# -- packing blocks into cores -------------------------------------------------------------------
FIRST_FIT_WINDOW = 2048  # open cores first fit looks at (the latest): linear time on big networks
EXACT_BLOCKS = 60  # blocks up to which the packing is solved exactly (HiGHS, node-limited)
SPREAD_TRIES = 64  # core counts the even spread tries above the bound
EXACT_NODES = 5000  # branch-and-bound nodes: a work bound, not a clock, keeps it deterministic


@dataclass(frozen=True)
class Packing:
    """Core of every block; `lower_bound`: no packing of these blocks uses fewer cores;
    `method`: how it was found ("first fit", "first fit decreasing", "exact")."""

    core: np.ndarray
    cores: int
    lower_bound: int
    method: str


def first_fit_order(use: np.ndarray, limits: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Core of each block, blocks taken in `order`, each into the first core (of the latest
    FIRST_FIT_WINDOW) where every resource still fits; compiled where numba is
    (`neurocomp.mapping.kernels`, the same choices)."""
    if kernels.available():
        return kernels.first_fit_order(use, limits, order, FIRST_FIT_WINDOW)
    n = len(use)
    core = np.full(n, -1, dtype=np.int64)
    used = np.zeros((max(n, 1), use.shape[1]), dtype=np.int64)
    # a core without room for the least of every resource over all blocks takes no block:
    # the leading run of such cores is skipped (the same choices, a shorter search)
    least = use.min(axis=0) if n else np.zeros(use.shape[1], dtype=np.int64)
    open_cores = full = 0
    for i in order:
        while full < open_cores and np.any(used[full] + least > limits):
            full += 1
        lo = max(full, open_cores - FIRST_FIT_WINDOW)
        fits = np.flatnonzero(np.all(used[lo:open_cores] + use[i] <= limits, axis=1))
        k = lo + int(fits[0]) if fits.size else open_cores
        if k == open_cores:
            open_cores += 1
        core[i] = k
        used[k] += use[i]
    return core


def simple_bound(use: np.ndarray, limits: np.ndarray) -> int:
    """max over resources of ceil(total / limit), and of the blocks using over half of one
    resource (no two of them share a core)."""
    if not len(use):
        return 0
    fluid = int(np.max(-(-use.sum(axis=0) // limits)))
    big = int(np.max(np.sum(2 * use > limits, axis=0)))
    return max(fluid, big)


def _exact(use: np.ndarray, limits: np.ndarray, upper: int) -> tuple[np.ndarray | None, int]:
    """An assignment into fewer than `upper` cores if HiGHS finds one within EXACT_NODES nodes
    (None otherwise), and a lower bound of the cores (the MILP's dual bound)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n, r = use.shape
    m = upper - 1  # look for a packing into at most m cores
    if m <= 0:
        return None, upper
    # x[b, c] (block b in core c), then y[c] (core c used); block b only in cores c <= b.
    nx = n * m
    allowed = (np.arange(m)[None, :] <= np.arange(n)[:, None]).reshape(-1)
    cost = np.concatenate([np.zeros(nx), np.ones(m)])
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def add(entries: list[tuple[int, float]], low: float, high: float) -> None:
        k = len(lo)
        for col, v in entries:
            rows.append(k)
            cols.append(col)
            vals.append(v)
        lo.append(low)
        hi.append(high)

    for b in range(n):  # each block in one core
        add([(b * m + c, 1.0) for c in range(min(b + 1, m))], 1, 1)
    scale = limits.astype(np.float64)
    for c in range(m):
        for k in range(r):  # the core's resources, only when it is used
            entries = [(b * m + c, use[b, k] / scale[k]) for b in range(c, n) if use[b, k]]
            add([*entries, (nx + c, -1.0)], -np.inf, 0)
        if c + 1 < m:  # cores used in order
            add([(nx + c, 1.0), (nx + c + 1, -1.0)], 0, np.inf)
    a = sparse.csr_matrix((vals, (rows, cols)), shape=(len(lo), nx + m))
    upper_x = np.concatenate([allowed.astype(np.float64), np.ones(m)])
    res = milp(
        cost,
        constraints=LinearConstraint(a, lo, hi),
        integrality=np.ones(nx + m),
        bounds=Bounds(np.zeros(nx + m), upper_x),
        options={"node_limit": EXACT_NODES, "presolve": True},
    )
    dual = getattr(res, "mip_dual_bound", None)
    bound = 0 if dual is None or not np.isfinite(dual) else int(np.ceil(dual - 1e-6))
    if res.x is None:
        # Infeasible: no packing into m cores at all, so `upper` is optimal.
        return None, upper if res.status == 2 else bound
    x = np.round(res.x[:nx]).reshape(n, m)
    core = np.argmax(x, axis=1).astype(np.int64)
    # Renumber by first appearance so that equal inputs give equal cores.
    _, first = np.unique(core, return_index=True)
    rank = np.empty(m, dtype=np.int64)
    rank[core[np.sort(first)]] = np.arange(len(first))
    core = rank[core]
    if res.status == 0:
        bound = int(core.max()) + 1
    return core, bound


def pack_blocks(use: np.ndarray, limits: np.ndarray, group: np.ndarray | None = None) -> Packing:
    """Blocks (rows of `use`, one column per resource) into cores within `limits`.

    The fewest cores of: first fit in network order, first fit decreasing (largest share of a
    core first), and the even spread of every layer (`group`: each block's layer) over the
    fewest cores it fits; then, up to EXACT_BLOCKS blocks, an exact MILP wherever these may
    not be optimal. Ties keep the earlier (network order: layers stay together)."""
    use = np.asarray(use, dtype=np.int64)
    limits = np.asarray(limits, dtype=np.int64)
    n = len(use)
    if n == 0:
        return Packing(np.zeros(0, dtype=np.int64), 0, 0, "first fit")
    share = np.max(use / limits, axis=1)
    plain = first_fit_order(use, limits, np.arange(n))
    ffd = first_fit_order(use, limits, np.lexsort((np.arange(n), -share)))
    if plain.max() <= ffd.max():
        core, method = plain, "first fit"
    else:
        core, method = ffd, "first fit decreasing"
    cores = int(core.max()) + 1
    bound = simple_bound(use, limits)
    if group is not None:
        for c in range(max(bound, 1), min(cores, bound + SPREAD_TRIES)):
            even = spread(use, limits, group, c)
            if even is not None:
                core, cores, method = even, c, "even spread"
                break
    if cores > bound and n <= EXACT_BLOCKS:
        exact, exact_bound = _exact(use, limits, cores)
        bound = max(bound, exact_bound)
        if exact is not None and int(exact.max()) + 1 < cores:
            core, cores, method = exact, int(exact.max()) + 1, "exact"
    if cores == bound and method != "exact":
        method += " (optimal)"
    return Packing(core, cores, min(bound, cores), method)


def spread(use: np.ndarray, limits: np.ndarray, group: np.ndarray, cores: int) -> np.ndarray | None:
    """Every layer's blocks in contiguous runs over `cores` cores, as even as can be (the
    layers' longer runs on different cores): the core of each block, or None where a core
    would exceed a limit. Layers bound by different resources then share every core, and each
    core holds a contiguous part of every layer (few destinations, local traffic)."""
    core = np.empty(len(use), dtype=np.int64)
    offset = 0
    for g in np.unique(group):
        idx = np.flatnonzero(group == g)
        q, rem = divmod(len(idx), cores)
        extra = (np.arange(cores) - offset) % cores < rem
        run = q + extra.astype(np.int64)
        core[idx] = np.repeat(np.arange(cores), run)
        offset = (offset + rem) % cores
    used = np.zeros((cores, use.shape[1]), dtype=np.int64)
    np.add.at(used, core, use)
    return core if np.all(used <= limits) else None
