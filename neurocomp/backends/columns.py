"""Compiled counting by a small routing table's distinct columns (`counting._Columns`),
beside `jit.column_dots`: where every column is constant over the source's neurons (a dense
layer on one core: each spike is one spike, one message, the same fan-out), a step's counts
are its non-zero entries, batch-summed, times each column's value (`uniform_dots`); and
column sums the scan made (`jit.scan`'s `columns`) spread to their counters (`spread`).

The entries are counted eight at a time: the series' bytes read as uint64 words and added in
byte lanes (a 0/1 byte adds one to its lane; a graded byte is first folded to 1), which the
compiler vectorises to 32 bytes per instruction. Against a dot product per column
(`jit.column_dots`: each byte widened to an int32 lane), measured on one core at load 1-2:
10.4 to 3.7 us for a series like digits' output layer (25 steps x 100 samples x 10 entries),
47 to 25 us for 25 x 397 x 128. Only the ones column of digits' input and hidden layer is
constant (their fan-outs vary where quantization zeroed weights): those keep the dots."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import jit

__all__ = ["spread", "uniform", "uniform_dots"]

_LANE_WORDS = 240  # words added in byte lanes before folding (a lane holds up to 255)
_LO8 = np.uint64(0x0101010101010101)  # bit 0 of each byte
_M16 = np.uint64(0x00FF00FF00FF00FF)
_ONE16 = np.uint64(0x0001000100010001)


def uniform(columns: np.ndarray) -> np.ndarray | None:
    """Each column's value where every column (u, n) is constant over the neurons, (u,)
    int64; None otherwise (or without neurons)."""
    if not columns.shape[1] or not (columns == columns[:, :1]).all():
        return None
    return np.ascontiguousarray(columns[:, 0], np.int64)


def _uniform_dots_py(  # noqa: C901 - one compiled loop
    flat: Any,
    words: Any,
    steps: int,
    row: int,
    binary: bool,
    coef: Any,
    out: Any,
    to: Any,
    block: Any,
    total: Any,
) -> None:
    """e[t] = the non-zero bytes of flat[t * row:(t + 1) * row] (whole words in byte lanes),
    out[t, j] = coef[j] * e[t], then the steps added to their counters and the columns'
    totals as `jit.column_dots` does. Written out without callees: a compiled callee taking
    arrays cost 36-45 ns per call here (measured), more than a short row's count. Unsigned
    indices: numba's negative-index wrap on a signed one stops the vectorisation (measured
    4.8x slower word sums)."""
    U = np.uint64
    r = U(row)
    e = np.zeros(steps, np.int64)
    if row % 8 == 0 and row <= 8 * _LANE_WORDS and binary:  # whole 0/1 words, folded once
        k = r >> U(3)
        for t in range(steps):
            lanes = U(0)
            for w in range(U(t) * k, U(t + 1) * k):
                lanes += words[w]
            h = (lanes & _M16) + ((lanes >> U(8)) & _M16)
            e[t] = np.int64((h * _ONE16) >> U(48))
    elif row < 64:  # short rows: byte by byte
        for t in range(steps):
            acc = np.int64(0)
            for i in range(U(t) * r, U(t + 1) * r):
                acc += flat[i] != 0
            e[t] = acc
    else:  # rows across words: their ends byte by byte, the words between in lanes
        for t in range(steps):
            lo, hi = U(t) * r, U(t + 1) * r
            w0, w1 = (lo + U(7)) >> U(3), hi >> U(3)
            acc = np.int64(0)
            for i in range(lo, w0 * U(8)):
                acc += flat[i] != 0
            for i in range(w1 * U(8), hi):
                acc += flat[i] != 0
            for blk in range(w0, w1, U(_LANE_WORDS)):
                lanes = U(0)
                for w in range(blk, min(blk + U(_LANE_WORDS), w1)):
                    x = words[w]
                    if not binary:  # each non-zero byte as 1: its bits or-ed into bit 0
                        x |= x >> U(4)
                        x |= x >> U(2)
                        x |= x >> U(1)
                        x &= _LO8
                    lanes += x
                h = (lanes & _M16) + ((lanes >> U(8)) & _M16)
                acc += np.int64((h * _ONE16) >> U(48))
            e[t] = acc
    events = np.int64(0)
    for t in range(steps):
        events += e[t]
        for j in range(coef.shape[0]):
            out[t, j] = coef[j] * e[t]
    for m in range(to.shape[0]):
        kind, core, col = U(to[m, 0]), U(to[m, 1]), U(to[m, 2])
        for t in range(steps):
            block[kind, t, core] += out[t, col]
    for j in range(coef.shape[0]):
        total[j] += coef[j] * events


_kernel: Any = None


def uniform_dots(
    src: np.ndarray,
    coef: np.ndarray,
    out: np.ndarray,
    binary: bool,
    to: np.ndarray | None = None,
    block: np.ndarray | None = None,
) -> np.ndarray:
    """`jit.column_dots` for columns each constant over the source's neurons (`uniform`:
    their values `coef` (u,) int64): out (T, >= u) int32 gets each step's batch-summed
    non-zero entries of src (T, batch, n) uint8 times each column's value and, with `to`
    and `block`, the counters theirs; returns each column's sum over all steps (out's
    width,) int64. `binary`: every entry is 0 or 1 (else each non-zero byte is folded to 1
    first). The caller keeps the sums within int32 (`counting.Counter.columns`)."""
    global _kernel
    if _kernel is None:
        _kernel = jit.noalias_kernel(_uniform_dots_py)
    assert src.dtype == np.uint8 and out.shape[0] == src.shape[0] and out.shape[1] >= coef.size
    if to is None or block is None:
        to, block = np.zeros((0, 3), np.int64), np.zeros((0, 0, 0), np.int64)
    flat = np.ascontiguousarray(src).reshape(-1)
    words = flat[: flat.size // 8 * 8].view(np.uint64)
    total = np.zeros(out.shape[1], np.int64)
    row = src.shape[1] * src.shape[2]
    _kernel(flat, words, src.shape[0], row, binary, coef, out, to, block, total)
    return total


def _spread_py(sums: Any, to: Any, block: Any, total: Any) -> None:
    """block[to[m, 0], t, to[m, 1]] += sums[to[m, 2], t] for every target m and step t;
    total[j] = each column's sum over the steps. On one core a counter's steps are
    contiguous, as each column's are: both loops vectorise (measured in digits' long stream
    runs, three sources, 10^4 steps: 57 us with the steps strided, 33 us)."""
    U = np.uint64
    steps = U(sums.shape[1])
    if block.shape[2] == 1:
        flat = block.reshape(block.shape[0], block.shape[1])
        for m in range(to.shape[0]):
            kind, col = U(to[m, 0]), U(to[m, 2])
            for t in range(steps):
                flat[kind, t] += sums[col, t]
    else:
        for m in range(to.shape[0]):
            kind, core, col = U(to[m, 0]), U(to[m, 1]), U(to[m, 2])
            for t in range(steps):
                block[kind, t, core] += sums[col, t]
    for j in range(sums.shape[0]):
        acc = np.int64(0)
        for t in range(steps):
            acc += sums[j, t]
        total[j] = acc


_spreads: Any = None


def spread(sums: np.ndarray, to: np.ndarray, block: np.ndarray) -> np.ndarray:
    """Column sums (u, T) int32 added to their counters (`to` (m, 3): counter, core and
    column, as `jit.column_dots` takes it) in `block` (kinds, T, cores), int32 or int64;
    returns each column's total over the steps (u,) int64."""
    global _spreads
    if _spreads is None:
        _spreads = jit.noalias_kernel(_spread_py)
    total = np.zeros(sums.shape[0], np.int64)
    _spreads(sums, to, block, total)
    return total
