"""Compiled counting of one sample's events through a large routing table by segments: runs
of consecutive neurons whose table rows together touch at most `LANES` counters (a core's
neurons: their spikes, messages and hops at their core, and their synaptic ops at the few
cores their synapses reach). Each neuron's row is laid out in its segment's lanes, 16-bit
fields packed four to a uint64 word (`Segments.wp`), so an event adds four words in
registers, and a segment's counters are written once per step, not once per event and table
entry (`_segment_events`). A segment unpacks its fields every `cap` events, before one
could overflow. The counter appends a column per projection's fan-out and one of ones to the
table: each step's synaptic ops per projection and events ride along as counters.

Against `jit.scatter_runs` (dense dots per run for the sending core's six counters, CSR
rows event by event for the rest) on the generated 1.5e5-neuron, 1e7-synapse network of
`benchmarks/run.py` (20 steps, one sample, 64 chips), measured alone on one core at load
0.3: its first population (15 % firing, 1.7 destination entries per spike) 1.82 to 0.65 ms;
its input (2 %, CSR rows through `jit.scatter`) 0.60 to 0.36 ms. About 0.3 ms of each is
finding the events (a pass over every neuron's byte per step). Counting them instead in the
fused scan that finds them anyway was slower in the run (the lanes' tables compete with the
weights there): left out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from . import jit

__all__ = ["LANES", "Segments", "scatter_segments"]

LANES = 16  # counters per segment: four uint64 words of four 16-bit fields
_FIELD = 16
_FULL = (1 << _FIELD) - 1  # a field's largest value


def _greedy_py(  # noqa: C901 - one compiled loop
    indptr: Any, indices: Any, fill: bool, start: Any, cols: Any, width: Any, lane: Any
) -> int:
    """The segments of a CSR table (n x k), greedily: a segment grows by the next row while
    the union of their columns fits `LANES` lanes. Returns their count; -1 where one row
    alone does not fit. With `fill`, writes each segment's first row (start), columns (cols,
    -1 unused) and lanes in use (width), and each entry's lane (lane); else only counts."""
    n = indptr.shape[0] - 1
    cur = np.full(LANES, -1, np.int64)
    m = 0  # lanes in use
    lo = 0  # the segment's first row
    s = 0
    for i in range(n):
        a, b = indptr[i], indptr[i + 1]
        if b - a > LANES:
            return -1
        new = 0
        for e in range(a, b):
            found = False
            for q in range(m):
                found = found or cur[q] == indices[e]
            new += 0 if found else 1
        if m + new > LANES:
            if fill:
                start[s], width[s] = lo, m
                cols[s, :] = cur
            s += 1
            cur[:] = -1
            m, lo = 0, i
        for e in range(a, b):
            q = 0
            while q < m and cur[q] != indices[e]:
                q += 1
            if q == m:
                cur[m] = indices[e]
                m += 1
            if fill:
                lane[e] = q
    if n:
        if fill:
            start[s], width[s] = lo, m
            cols[s, :] = cur
        s += 1
    if fill:
        start[s] = n
    return s


_greedy: Any = None


@dataclass(frozen=True)
class Segments:
    """A routing table (n x k) by segments of consecutive neurons (see the module)."""

    start: np.ndarray  # (s + 1,) int64: segment j is neurons start[j]:start[j + 1]
    cols: np.ndarray  # (s, LANES) int64: each lane's table column (-1: unused)
    width: np.ndarray  # (s,) int64: the lanes in use
    wp: np.ndarray  # (n, 4) uint64: each neuron's entries in its segment's lanes, packed
    cap: np.ndarray  # (s,) int64: the events a segment adds before unpacking its fields
    k: int  # the table's columns

    @classmethod
    def of(cls, table: sparse.csr_matrix) -> Segments | None:
        """For a table (n x k, CSR, non-negative entries) whose events each count 1; None
        where a row has more than `LANES` entries or one does not fit a 16-bit field."""
        global _greedy
        if _greedy is None:
            _greedy = jit.numba.njit(cache=True, nogil=True)(_greedy_py)
        n = table.shape[0]
        data = table.data.astype(np.int64, copy=False)
        if data.size and (data.min() < 0 or int(data.max()) > _FULL):
            return None
        indptr = table.indptr.astype(np.int64, copy=False)
        indices = table.indices.astype(np.int64, copy=False)
        none = np.zeros(0, np.int64)
        count = _greedy(indptr, indices, False, none, none.reshape(0, LANES), none, none)
        if count < 0:
            return None
        start = np.zeros(count + 1, np.int64)
        cols = np.full((count, LANES), -1, np.int64)
        width = np.zeros(count, np.int64)
        lane = np.zeros(indices.size, np.int64)
        _greedy(indptr, indices, True, start, cols, width, lane)
        row = np.repeat(np.arange(n), np.diff(indptr))
        wp = np.zeros((n, LANES // 4), np.uint64)
        np.bitwise_or.at(
            wp, (row, lane // 4), data.astype(np.uint64) << (_FIELD * (lane % 4)).astype(np.uint64)
        )
        top = np.zeros(count, np.int64)  # each segment's largest entry
        if data.size:
            np.maximum.at(top, np.searchsorted(start, row, side="right") - 1, data)
        cap = (_FULL // np.maximum(top, 1)).astype(np.int64)
        return cls(start, cols, width, wp, cap, table.shape[1])


# one module holds the lane loop and its callers: numba's cache of a function is keyed on
# its own file, so a change to an inlined callee elsewhere would leave a stale one
_FIELD64 = np.uint64(_FIELD)
_M16 = np.uint64(_FULL)


def _segment_events_py(
    idx: Any, k: Any, t: Any, start: Any, cols: Any, width: Any, wp: Any, cap: Any, out: Any,
    acc: Any,
) -> None:  # fmt: skip
    """One step's events idx[:k] (their neurons, ascending) through a table by segments
    (`Segments`): out[t, cols[s, l]] += the events' lane l over segment s. Each
    event adds its four packed words in registers; every cap[s] events the fields are
    unpacked into acc (LANES,) int64, zeros, before one could overflow. Unsigned
    indices: numba's negative-index wrap on signed ones costs every access a test."""
    U = np.uint64
    s, j, uk = U(0), U(0), U(k)
    while j < uk:
        while U(start[s + U(1)]) <= U(idx[j]):
            s += U(1)
        hi, c = U(start[s + U(1)]), U(cap[s])
        while j < uk and U(idx[j]) < hi:
            p0, p1, p2, p3 = U(0), U(0), U(0), U(0)
            m = U(0)
            while m < c and j < uk and U(idx[j]) < hi:
                i = U(idx[j])
                p0 += wp[i, 0]
                p1 += wp[i, 1]
                p2 += wp[i, 2]
                p3 += wp[i, 3]
                j += U(1)
                m += U(1)
            for q in range(4):
                sh = _FIELD64 * U(q)
                acc[q] += np.int64((p0 >> sh) & _M16)
                acc[4 + q] += np.int64((p1 >> sh) & _M16)
                acc[8 + q] += np.int64((p2 >> sh) & _M16)
                acc[12 + q] += np.int64((p3 >> sh) & _M16)
        for q in range(width[s]):
            out[t, cols[s, q]] += acc[q]
        acc[:] = 0


_segment_events = (
    jit.numba.njit(inline="always")(_segment_events_py) if jit.AVAILABLE else _segment_events_py
)


def _scatter_segments_py(
    src: Any, start: Any, cols: Any, width: Any, wp: Any, cap: Any, out: Any, idx: Any
) -> None:
    """out[t, cols[s, l]] += the events of segment s at step t through lane l, for every
    step of src (T, 1, n) (`_segment_events`)."""
    steps, n = src.shape[0], src.shape[2]
    acc = np.zeros(LANES, np.int64)
    for t in range(steps):
        k = 0
        for r in range(n):  # the non-zero entries, found without a branch
            idx[k] = r
            k += src[t, 0, r] != 0
        _segment_events(idx, k, t, start, cols, width, wp, cap, out, acc)


_kernel: Any = None


def scatter_segments(src: np.ndarray, seg: Segments, out: np.ndarray) -> None:
    """out (T, k) int64 += one sample's events src (T, 1, n) uint8 through the table `seg`
    holds (`jit.scatter`'s counts with `ones`, integer for integer). A column of ones in the
    table counts the events; a projection's fan-out, its synaptic ops."""
    global _kernel
    if _kernel is None:
        _kernel = jit.numba.njit(cache=True, nogil=True)(_scatter_segments_py)
    assert src.dtype == np.uint8 and src.shape[1] == 1 and seg.wp.shape[0] == src.shape[2]
    assert out.shape == (src.shape[0], seg.k)
    n = src.shape[2]
    _kernel(
        np.ascontiguousarray(src), seg.start, seg.cols, seg.width, seg.wp, seg.cap, out,
        np.zeros(n, np.int64),
    )  # fmt: skip
