"""Compiled block costs for block sizing, where numba is installed (as the simulator's scan,
`neurocomp.backends.jit`; NEUROCOMP_NO_JIT=1 turns it off): the same integers as
`LayerSynapses.evaluate`, for many block sizes in one call.

Sizing measures a sample of each layer at up to 40 block sizes; numpy's `evaluate` makes about
ten passes over the sample's synapses per size (1.5 ms per 2.6e5 synapses, half of a 1e6-synapse
compile). Here each (input axon, block) pair is found by a galloping search for the block's
end in the axon's sorted targets: work per pair, not per synapse, at large sizes (a branch-free
scan of every synapse was slower at every size on the 1e6-synapse banded sample: 31 against
23 ms per layer), and without an integer division per pair.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def available() -> bool:
    """Whether the compiled costs run: numba installed, NEUROCOMP_NO_JIT unset. numba is
    imported on first use, not with the package (0.3 s)."""
    if os.environ.get("NEUROCOMP_NO_JIT"):
        return False
    try:
        import numba  # type: ignore[import-not-found, import-untyped, unused-ignore]  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        return False
    return True


def _block_end(rows: np.ndarray, i: int, hi: int, bound: int) -> int:
    """The first index j in (i, hi] with rows[j] >= bound (rows[i] < bound, sorted):
    galloping from i, then bisection."""
    step = 1
    lo = i  # rows[lo] < bound
    while lo + step < hi and rows[lo + step] < bound:
        lo += step
        step *= 2
    top = min(lo + step, hi)  # rows[top] >= bound, or top == hi
    while top - lo > 1:
        mid = (lo + top) // 2
        if rows[mid] < bound:
            lo = mid
        else:
            top = mid
    return top


def _block_of(r: int, s: int, inv: float) -> int:
    """r // s for 0 <= r < 2^31 without an integer division (tens of cycles on some CPUs): the
    float quotient, corrected by one either way without a branch."""
    b = int(r * inv)
    b -= b * s > r
    b += (b + 1) * s <= r
    return b


def _pair_synapses(mult: np.ndarray, counted: int, i: int, j: int) -> int:
    """Synapses of the (axon, block) pair at list entries i..j: one per entry, or the entries'
    multiplicities where an entry stands for several (`counted`)."""
    if not counted:
        return j - i
    cnt = 0
    for t in range(i, j):
        cnt += mult[t]
    return cnt


def _gallop_pairs(  # noqa: PLR0913 - the compiled loop's arrays
    rows: np.ndarray,
    mult: np.ndarray,
    counted: int,
    lo: int,
    hi: int,
    s: int,
    inv: float,
    nb: int,
    table: np.ndarray,
    dn_full: int,
    dn_last: int,
    words: np.ndarray,
    axons: np.ndarray,
    hit: np.ndarray,
) -> None:
    """One axon's synapses lo..hi, pair by pair: each block's end found by a galloping search
    (large blocks: work per pair, not per synapse)."""
    i = lo
    blk = _block_of(rows[i], s, inv)
    while True:
        j = _block_end(rows, i, hi, (blk + 1) * s)
        axons[blk] += 1
        if hit.size:
            hit[blk] = True
        else:
            cnt = _pair_synapses(mult, counted, i, j)
            dn = dn_last if blk == nb - 1 else dn_full
            words[blk] += min(table[cnt], dn)
        if j == hi:
            return
        i = j
        blk = _block_of(rows[i], s, inv)


def _neuron_pass(  # noqa: PLR0913 - the compiled loop's arrays
    cptr: np.ndarray,
    cidx: np.ndarray,
    cdata: np.ndarray,
    s: int,
    n: int,
    nb: int,
    f_full: np.ndarray,
    f_last: np.ndarray,
    scratch: np.ndarray,
    words: np.ndarray,
    axons: np.ndarray,
    hit: np.ndarray,
) -> None:
    """Every block's lists from the neurons' side (small blocks, pairs of a synapse or two,
    whose ends a branch would mispredict): a block's synapses add their counts per axon into
    `scratch`, then a second pass takes each axon's f(count) once and clears it, without
    branches (f(0) = 0)."""
    for b in range(nb):
        lo = cptr[b * s]
        hi = cptr[min(n, (b + 1) * s)]
        for t in range(lo, hi):
            scratch[cidx[t]] += cdata[t]
        f = f_last if b == nb - 1 else f_full
        w = 0
        k = 0
        for t in range(lo, hi):
            a = cidx[t]
            c = scratch[a]
            w += f[c]
            k += c != 0
            scratch[a] = 0
        words[b] += w
        axons[b] += k
        if hit.size and hi > lo:
            hit[b] = True


def _size_maxima(  # noqa: C901, PLR0913 - one compiled loop over sizes, lists and pairs
    sizes: np.ndarray,
    n: int,
    full_only: np.ndarray,
    indptrs: tuple[np.ndarray, ...],
    rowss: tuple[np.ndarray, ...],
    mults: tuple[np.ndarray, ...],
    cptrs: tuple[np.ndarray, ...],
    cidxs: tuple[np.ndarray, ...],
    cdatas: tuple[np.ndarray, ...],
    sparse_words: tuple[np.ndarray, ...],
    params: np.ndarray,
    header: int,
    word: int,
    bits_out: np.ndarray,
    axons_out: np.ndarray,
) -> None:
    """Per size, the most synapse bits and input axons of one block of the split of n rows
    into blocks of that size (the last block left out where full_only). params[l]: (dense bits
    per neuron, kernel bits or -1, whether mults[l] holds counts, the most synapses of one
    (neuron, axon) pair); c*[l]: the same synapses by neuron (CSR); sparse_words[l][c]: the
    words of a sparse list of c synapses (no division per pair)."""
    for si in range(sizes.size):
        s = sizes[si]
        inv = 1.0 / s
        nb = (n + s - 1) // s
        words = np.zeros(nb, dtype=np.int64)
        axons = np.zeros(nb, dtype=np.int64)
        kbits = np.zeros(nb, dtype=np.int64)
        for li in range(params.shape[0]):
            indptr = indptrs[li]
            rows = rowss[li]
            mult = mults[li]
            table = sparse_words[li]
            dense, kernel, counted = params[li, 0], params[li, 1], params[li, 2]
            dn_full = (header + s * dense + word - 1) // word
            dn_last = (header + (n - (nb - 1) * s) * dense + word - 1) // word
            hit = np.zeros(nb if kernel >= 0 else 0, dtype=np.bool_)
            if s <= NEURON_SIDE_SIZE:
                top = min(s * params[li, 3], table.size - 1)  # the most synapses of one pair
                f_full = np.minimum(table[: top + 1], dn_full)
                f_last = np.minimum(table[: top + 1], dn_last)
                f_full[0] = f_last[0] = 0
                if kernel >= 0:
                    f_full[:] = f_last[:] = 0
                scratch = np.zeros(indptr.size - 1, dtype=np.int64)
                _neuron_pass(
                    cptrs[li],
                    cidxs[li],
                    cdatas[li],
                    s,
                    n,
                    nb,
                    f_full,
                    f_last,
                    scratch,
                    words,
                    axons,
                    hit,
                )
            else:
                for a in range(indptr.size - 1):
                    lo = indptr[a]
                    hi = indptr[a + 1]
                    if lo < hi:
                        _gallop_pairs(
                            rows,
                            mult,
                            counted,
                            lo,
                            hi,
                            s,
                            inv,
                            nb,
                            table,
                            dn_full,
                            dn_last,
                            words,
                            axons,
                            hit,
                        )
            if kernel >= 0:
                for b in range(nb):
                    if hit[b]:
                        kbits[b] += kernel
        last = nb - 1 if full_only[si] and nb > 1 else nb
        best_bits = 0
        best_axons = 0
        for b in range(last):
            best_bits = max(best_bits, words[b] * word + kbits[b])
            best_axons = max(best_axons, axons[b])
        bits_out[si] = best_bits
        axons_out[si] = best_axons


# Block sizes up to which lists are counted from the neurons' side (a constant 1.8 ns per
# synapse on the 1e6-synapse banded sample; the pair search is faster above about 20).
NEURON_SIDE_SIZE = 20


def size_maxima(
    sizes: np.ndarray,
    n: int,
    full_only: np.ndarray,
    lists: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, int, int, int | None]],
    by_neuron: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    header: int,
    word: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(most synapse bits, most input axons) of one block, per size, compiled. `lists`: per
    source (indptr, rows sorted per axon, synapses per pair or None, sparse entry bits, dense
    bits per neuron, kernel bits or None), as `LayerSynapses` holds them; `by_neuron`: the
    same patterns by neuron (CSR indptr, indices, synapses per pair)."""
    bits = np.zeros(len(sizes), dtype=np.int64)
    axons = np.zeros(len(sizes), dtype=np.int64)
    if not lists:
        return bits, axons
    empty = np.zeros(0, dtype=np.int32)
    params = np.array(
        [
            (
                dense,
                -1 if kernel is None else kernel,
                mult is not None,
                1 if mult is None else int(mult.max(initial=1)),
            )
            for _, _, mult, _, dense, kernel in lists
        ],
        dtype=np.int64,
    ).reshape(-1, 4)
    tables = []
    for _, rows, mult, entry, _, _ in lists:  # a pair holds at most all synapses of its list
        most = len(rows) if mult is None else int(mult.sum())
        most = min(most, int(n) * (1 if mult is None else int(mult.max(initial=1))))
        c = np.arange(most + 1, dtype=np.int64)
        tables.append((header + c * entry + word - 1) // word)
    _jit()["size_maxima"](
        np.asarray(sizes, dtype=np.int64),
        int(n),
        np.asarray(full_only, dtype=np.bool_),
        tuple(np.asarray(ptr, dtype=np.int64) for ptr, *_ in lists),
        tuple(np.asarray(rows, dtype=np.int32) for _, rows, *_ in lists),
        tuple(empty if m is None else np.asarray(m, dtype=np.int32) for _, _, m, *_ in lists),
        tuple(np.asarray(p, dtype=np.int64) for p, _, _ in by_neuron),
        tuple(np.asarray(i, dtype=np.int32) for _, i, _ in by_neuron),
        tuple(np.asarray(d, dtype=np.int32) for _, _, d in by_neuron),
        tuple(tables),
        params,
        int(header),
        int(word),
        bits,
        axons,
    )
    return bits, axons


def _partition_loop(single: np.ndarray, g: np.ndarray) -> None:
    for k in range(2, g.size):
        best = np.inf
        for j in range(1, k):
            v = g[j] + single[k - j]
            if v < best:
                best = v
        if best < g[k]:
            g[k] = best


def partition_min(single: np.ndarray) -> np.ndarray:
    """g[k] = least sum of single[m_i] over partitions of k into parts m_i (index 0 unused),
    compiled: the same float64 sums as `neurocomp.mapping.bound.partition_min_py`, in a loop
    (its 1e6 sums per 1024-neuron layer are 6 ms of numpy calls)."""
    single = np.asarray(single, dtype=np.float64)
    g = single.copy()
    _jit()["partition"](single, g)
    return g


def _over(used: np.ndarray, need: np.ndarray, limits: np.ndarray) -> bool:
    """Whether used + need exceeds a limit."""
    for j in range(limits.size):  # noqa: SIM110 - a compiled loop, no generator
        if used[j] + need[j] > limits[j]:
            return True
    return False


def _first_fit_loop(
    use: np.ndarray, limits: np.ndarray, order: np.ndarray, window: int, core: np.ndarray
) -> None:
    n, r = use.shape
    used = np.zeros((max(n, 1), r), dtype=np.int64)
    least = np.zeros(r, dtype=np.int64)
    for j in range(r):
        least[j] = use[:, j].min() if n else 0
    open_cores = 0
    full = 0
    for i in order:
        while full < open_cores and _over(used[full], least, limits):
            full += 1
        k = open_cores
        for c in range(max(full, open_cores - window), open_cores):
            if not _over(used[c], use[i], limits):
                k = c
                break
        if k == open_cores:
            open_cores += 1
        core[i] = k
        used[k] += use[i]


def first_fit_order(
    use: np.ndarray, limits: np.ndarray, order: np.ndarray, window: int
) -> np.ndarray:
    """`neurocomp.mapping.pack.first_fit_order`, compiled: the same choices in one loop (its
    numpy calls per block were 8-17 ms of a 1e6-synapse conv compile)."""
    use = np.ascontiguousarray(use, dtype=np.int64)
    core = np.full(len(use), -1, dtype=np.int64)
    _jit()["first_fit"](
        use, np.asarray(limits, dtype=np.int64), np.asarray(order, dtype=np.int64), window, core
    )
    return core


def _dest_count(
    indptr: np.ndarray,
    indices: np.ndarray,
    rows: np.ndarray,
    row_core: np.ndarray,
    stamp: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Per source neuron, its distinct cores (rows taken core by core)."""
    for t in range(rows.size):
        r = rows[t]
        c = row_core[r]
        for i in range(indptr[r], indptr[r + 1]):
            a = indices[i]
            if stamp[a] != c:
                stamp[a] = c
                counts[a] += 1


def _dest_fill(
    indptr: np.ndarray,
    indices: np.ndarray,
    rows: np.ndarray,
    row_core: np.ndarray,
    stamp: np.ndarray,
    count: np.ndarray,
    out_ptr: np.ndarray,
    out_core: np.ndarray,
    out_count: np.ndarray,
) -> None:
    """Each (source neuron, core) pair's synapses into the source's row of the output, one
    core at a time: counts gather in `count` (a source neuron each, cache-resident) and each
    pair is written once when its core ends. Cores come in increasing order, so each row's
    entries are sorted."""
    nxt = out_ptr[:-1].copy()
    touched = np.empty(stamp.size, dtype=np.int64)
    t = 0
    while t < rows.size:
        c = row_core[rows[t]]
        k = 0
        while t < rows.size and row_core[rows[t]] == c:
            r = rows[t]
            for i in range(indptr[r], indptr[r + 1]):
                a = indices[i]
                if stamp[a] != c:
                    stamp[a] = c
                    touched[k] = a
                    k += 1
                count[a] += 1
            t += 1
        for j in range(k):
            a = touched[j]
            out_core[nxt[a]] = c
            out_count[nxt[a]] = count[a]
            nxt[a] += 1
            count[a] = 0


def destinations(
    indptr: np.ndarray, indices: np.ndarray, n_pre: int, row_core: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, cores, synapse counts) of the (source neuron x core) matrix of one projection
    whose CSR pattern (rows: targets) is `indptr`/`indices` and whose target rows sit on
    `row_core`: two passes over the synapses, rows in order of their core (linear time, no
    sparse products)."""
    row_core = np.asarray(row_core, dtype=np.int64)
    rows = np.argsort(row_core, kind="stable")
    rows = rows[row_core[rows] >= 0]
    stamp = np.full(n_pre, -1, dtype=np.int64)
    counts = np.zeros(n_pre, dtype=np.int64)
    _jit()["dest_count"](indptr, indices, rows, row_core, stamp, counts)  # pairs per source
    out_ptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(counts, out=out_ptr[1:])
    total = int(out_ptr[-1])
    out_core = np.empty(total, dtype=np.int64)
    out_count = np.zeros(total, dtype=np.int64)
    stamp[:] = -1
    counts[:] = 0  # now each source's synapses onto the current core
    _jit()["dest_fill"](
        indptr, indices, rows, row_core, stamp, counts, out_ptr, out_core, out_count
    )
    return out_ptr, out_core, out_count


def _block_costs_loop(
    bounds: np.ndarray,
    block_of: np.ndarray,
    indptr: np.ndarray,
    rows: np.ndarray,
    mult: np.ndarray,
    counted: int,
    table: np.ndarray,
    dense_words: np.ndarray,
    words: np.ndarray,
    axons: np.ndarray,
) -> None:
    """One list's (input axon, block) pairs of any split: each pair's end by a galloping
    search for the block's stop in the axon's sorted targets; its words the cheaper of sparse
    (`table`) and dense (`dense_words`, per block)."""
    for a in range(indptr.size - 1):
        i = indptr[a]
        hi = indptr[a + 1]
        while i < hi:
            blk = block_of[rows[i]]
            j = _block_end(rows, i, hi, bounds[blk + 1])
            axons[blk] += 1
            cnt = _pair_synapses(mult, counted, i, j)
            words[blk] += min(table[cnt], dense_words[blk])
            i = j


def block_costs(
    bounds: np.ndarray,
    block_of: np.ndarray,
    lst: tuple[np.ndarray, np.ndarray, np.ndarray | None, int],
    dense_words: np.ndarray,
    header: int,
    word: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(synapse-list words, input axons) of every block [bounds[i], bounds[i+1]) from one
    source's lists by axon `lst` = (indptr, rows sorted per axon, synapses per pair or None,
    sparse entry bits), compiled: `LayerSynapses.evaluate`'s integers, work per pair."""
    indptr, rows, mult, entry = lst
    n_blocks = len(bounds) - 1
    longest = int(np.diff(bounds).max(initial=0))
    most = longest * (1 if mult is None else int(mult.max(initial=1)))
    c = np.arange(most + 1, dtype=np.int64)
    table = (header + c * entry + word - 1) // word
    words = np.zeros(n_blocks, dtype=np.int64)
    axons = np.zeros(n_blocks, dtype=np.int64)
    _jit()["block_costs"](
        np.asarray(bounds, dtype=np.int64),
        np.asarray(block_of, dtype=np.int32),
        np.asarray(indptr, dtype=np.int64),
        np.asarray(rows, dtype=np.int32),
        np.zeros(0, dtype=np.int32) if mult is None else np.asarray(mult, dtype=np.int32),
        mult is not None,
        table,
        np.asarray(dense_words, dtype=np.int64),
        words,
        axons,
    )
    return words, axons


_COMPILED: dict[str, Any] = {}


def _jit() -> dict[str, Any]:
    """The compiled loops (numba, cached on disk), made on first use; the helpers they call
    are module globals, replaced by their compiled versions before any loop compiles."""
    if not _COMPILED:
        import numba  # type: ignore[import-not-found, import-untyped, unused-ignore]

        jit = numba.njit(cache=True, nogil=True)
        g = globals()
        for helper in (
            "_block_end",
            "_block_of",
            "_pair_synapses",
            "_gallop_pairs",
            "_neuron_pass",
            "_over",
        ):
            g[helper] = jit(g[helper])
        _COMPILED.update(
            size_maxima=jit(_size_maxima),
            partition=jit(_partition_loop),
            first_fit=jit(_first_fit_loop),
            dest_count=jit(_dest_count),
            dest_fill=jit(_dest_fill),
            block_costs=jit(_block_costs_loop),
        )
    return _COMPILED
