"""A compiled neuron scan for the bit-accurate engine, where numba is installed (optional: the
``fast`` extra). It runs the same int64 arithmetic as `bit_accurate._scan`, one neuron at a time
in machine code, so a long stream's per-step cost is its neurons, not numpy's call overhead.
Without numba (or with NEUROCOMP_NO_JIT=1 in the environment) the numpy scan runs.

The scan is compiled once per combination of its structural switches (current stage, spiking,
reset, rounding, overflow, what is recorded or counted): each variant is a straight loop without
per-neuron tests of those switches, which the compiler vectorises (several times faster than one
loop testing them all). Variants are cached on disk by numba like any ``cache=True`` function."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

try:  # pragma: no cover - depends on the environment
    if os.environ.get("NEUROCOMP_NO_JIT"):
        raise ImportError("disabled by NEUROCOMP_NO_JIT")
    import numba  # type: ignore[import-not-found, import-untyped, unused-ignore]

    AVAILABLE = True
except ImportError:  # pragma: no cover
    numba = None  # type: ignore[assignment, unused-ignore]
    AVAILABLE = False

__all__ = ["AVAILABLE", "gather", "scan", "scatter"]


class _Switches(NamedTuple):
    """The structural switches of one compiled scan variant (constants inside it)."""

    has_u: bool  # a current stage u
    spiking: bool  # a threshold: spikes out (else the voltage is the output)
    zero_reset: bool  # v = reset on a spike (else v - threshold)
    floor: bool  # decay rounds down (else toward zero)
    sat_u: bool  # u saturates (else wraps)
    sat_v: bool  # v saturates (else wraps)
    rec_v: bool  # voltages recorded
    rec_u: bool  # currents recorded
    counting: bool  # active neurons counted per step and core
    wrap_drive: bool  # the drive wraps to activation_bits
    shift: bool  # the drive is shifted by weight_shift


def _make(sw: _Switches) -> Any:  # noqa: C901 - one straight loop of the chip's equations
    has_u, spiking, zero_reset, floor = sw.has_u, sw.spiking, sw.zero_reset, sw.floor
    sat_u, sat_v, keep_rec_v, keep_rec_u = sw.sat_u, sw.sat_v, sw.rec_v, sw.rec_u
    count, wrap_drive, shift_on = sw.counting, sw.wrap_drive, sw.shift

    def scan_variant(  # noqa: C901
        drive: np.ndarray,  # (T, batch, n): int64, or float holding exact integers
        drive_bias: np.ndarray,  # (n,) added to the raw drive (projection biases)
        u: np.ndarray,
        v: np.ndarray,
        keep_u: np.ndarray,
        keep_v: np.ndarray,
        bias: np.ndarray,
        thr: np.ndarray,
        reset: np.ndarray,
        ints: np.ndarray,  # bits, top, activation_bits, weight_shift, bias_from
        out_s: np.ndarray,
        out_v: np.ndarray,
        rec_v: np.ndarray,
        rec_u: np.ndarray,
        active: np.ndarray,  # (T, cores): active neurons per step and core
        core: np.ndarray,  # (n,): each neuron's column of `active`
    ) -> None:
        bits, top, act_bits, shift, bias_from = ints[0], ints[1], ints[2], ints[3], ints[4]
        no_bias = np.zeros_like(drive_bias)
        act_row = np.zeros(drive.shape[2], np.int64)  # this step's active samples per neuron
        act_half = (1 << (act_bits - 1)) if act_bits > 0 else 0
        act_mask = ((1 << act_bits) - 1) if act_bits > 0 else 0
        m = (1 << bits) - 1
        span = 2 * (top + 1) - 1
        steps, batch, n = drive.shape
        for t in range(steps):
            db = drive_bias if t >= bias_from else no_bias
            for b in range(batch):
                for i in range(n):
                    d = np.int64(drive[t, b, i]) + db[i]
                    if wrap_drive:  # the drive's wrap to activation_bits, then the shift
                        d = ((d + act_half) & act_mask) - act_half
                    if shift_on:
                        d <<= shift
                    busy = d != 0
                    if has_u:
                        q = u[b, i] * keep_u[i]
                        if not floor:
                            q += (q >> 63) & m
                        x = (q >> bits) + d
                        x = min(max(x, -top), top) if sat_u else ((x + top) & span) - top
                        u[b, i] = x
                        busy = busy or x != 0
                        if keep_rec_u:
                            rec_u[t, b, i] = x
                        d = x
                    q = v[b, i] * keep_v[i]
                    if not floor:
                        q += (q >> 63) & m
                    y = (q >> bits) + d + bias[i]
                    y = min(max(y, -top), top) if sat_v else ((y + top) & span) - top
                    if spiking:
                        fire = y > thr[i]
                        out_s[t, b, i] = fire
                        if fire:
                            y = reset[i] if zero_reset else y - thr[i]
                    else:
                        out_v[t, b, i] = y
                    v[b, i] = y
                    if count:
                        act_row[i] += busy or y != 0
                    if keep_rec_v:
                        rec_v[t, b, i] = y
            if count:  # folded per step into the cores: no (T, n) array
                for i in range(n):
                    active[t, core[i]] += act_row[i]
                    act_row[i] = 0

    return numba.njit(cache=True, nogil=True)(scan_variant)


_VARIANTS: dict[_Switches, Any] = {}


def scan(
    drive: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    keep_u: np.ndarray | None,
    keep_v: np.ndarray,
    bias: np.ndarray,
    thr: np.ndarray | None,
    reset: np.ndarray,
    *,
    zero_reset: bool,
    floor: bool,
    bits: int,
    top: int,
    saturate_u: bool,
    saturate_v: bool,
    out: np.ndarray,
    rec_v: np.ndarray | None,
    rec_u: np.ndarray | None,
    active: np.ndarray | None = None,
    activation_bits: int = 0,
    weight_shift: int = 0,
    drive_bias: np.ndarray | None = None,
    bias_from: int = 0,
    core: np.ndarray | None = None,
) -> None:
    """Run a population's neurons over every step (see `bit_accurate._scan`) on its raw drive
    (T, batch, n): int64, or a float array of exact integers (a float kernel's result, read
    without a conversion pass), plus `drive_bias` (n,) from step `bias_from` on; u and v in
    place. `active` (T, cores) int64, if given, gets the batch-summed count of active
    neurons per step at column core[i] of neuron i (None: column i)."""
    spiking = thr is not None
    counting = active is not None
    sw = _Switches(
        has_u=keep_u is not None,
        spiking=spiking,
        zero_reset=bool(zero_reset),
        floor=bool(floor),
        sat_u=bool(saturate_u),
        sat_v=bool(saturate_v),
        rec_v=rec_v is not None,
        rec_u=rec_u is not None,
        counting=counting,
        wrap_drive=activation_bits > 0,
        shift=weight_shift != 0,
    )
    fn = _VARIANTS.get(sw)
    if fn is None:
        fn = _VARIANTS[sw] = _make(sw)
    n = drive.shape[2]
    empty3 = np.zeros((0, 0, 0), np.int64)

    def c(a: np.ndarray | None) -> np.ndarray:
        if a is None:
            return np.zeros(n, np.int64)
        return np.ascontiguousarray(np.broadcast_to(a, (n,)), np.int64)

    if drive.dtype not in (np.float32, np.float64, np.int64):
        drive = drive.astype(np.int64)
    if counting and core is None:
        core = np.arange(n, dtype=np.int64)
    fn(
        np.ascontiguousarray(drive),
        c(drive_bias),
        u,
        v,
        c(keep_u),
        c(keep_v),
        c(bias),
        c(thr),
        c(reset),
        np.array([bits, top, activation_bits, weight_shift, bias_from], np.int64),
        out if spiking else np.zeros((0, 0, 0), np.uint8),
        empty3 if spiking else out,
        empty3 if rec_v is None else rec_v,
        empty3 if rec_u is None else rec_u,
        np.zeros((0, 0), np.int64) if active is None else active,
        np.zeros(0, np.int64) if core is None else np.ascontiguousarray(core, np.int64),
    )


def _gather_py(
    row_ptr: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    out: np.ndarray,
) -> None:
    """Event-driven synaptic sums: for each event (row r, source c, value v) of the CSR event
    block (row_ptr, cols, vals), add v times source c's row of W^T (indptr, indices, data)."""
    for r in range(row_ptr.size - 1):
        for e in range(row_ptr[r], row_ptr[r + 1]):
            c = cols[e]
            v = vals[e]
            for k in range(indptr[c], indptr[c + 1]):
                out[r, indices[k]] += v * data[k]


_gathers: Any = None


def gather(events: Any, wt: Any, out: np.ndarray) -> np.ndarray:
    """out (rows, post) += events (CSR rows x pre) @ wt (CSR pre x post), compiled; in the
    dtype of `out` (exact where `kernels.ProjectionKernel` chose it)."""
    global _gathers
    if _gathers is None:
        _gathers = numba.njit(cache=True, nogil=True)(_gather_py)
    _gathers(events.indptr, events.indices, events.data, wt.indptr, wt.indices, wt.data, out)
    return out


def _scatter_py(  # noqa: C901 - one compiled loop (helpers would be more compiled functions)
    src: np.ndarray,
    ones: bool,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    out: np.ndarray,
    total: np.ndarray,
    last: np.ndarray,
    dense_t: np.ndarray,
) -> None:
    """Event counts from a series src (T, batch, n): with x the values (or, with `ones`, the
    non-zero entries) of neuron i at step t summed over the batch, out[t, indices[e]] +=
    x * data[e] over row i of the CSR table (indptr, indices, data); total[i] and last[i] get
    x summed over every step and over the last step. With `dense_t` (k x n: the table,
    transposed and dense; empty: not used) each step's counts are k dot products of the row
    instead (no chain of additions into the same counter: vectorised)."""
    steps, batch, n = src.shape
    row = np.zeros(n, np.int64)  # step t's values summed over the batch, per neuron
    for t in range(steps):
        if batch > 1:
            row[:] = 0
            for b in range(batch):
                for i in range(n):
                    x = np.int64(src[t, b, i])
                    row[i] += np.int64(x != 0) if ones else x
        if batch == 1:
            for i in range(n):
                x = np.int64(src[t, 0, i])
                row[i] = np.int64(x != 0) if ones else x
        if dense_t.shape[0]:
            for i in range(n):
                total[i] += row[i]
                if t == steps - 1:
                    last[i] += row[i]
            for k in range(dense_t.shape[0]):
                acc = np.int64(0)
                for i in range(n):
                    acc += row[i] * dense_t[k, i]
                out[t, k] += acc
            continue
        for i in range(n):
            x = row[i]
            if x == 0:
                continue
            total[i] += x
            if t == steps - 1:
                last[i] += x
            for e in range(indptr[i], indptr[i + 1]):
                out[t, indices[e]] += x * data[e]


_scatters: Any = None
_DENSE_SCATTER = 1 << 14  # table entries up to which each step's counts are dot products


def scatter(
    src: np.ndarray, table: Any, out: np.ndarray, ones: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """out (T, k) int64 += the events of src (T, batch, n) through `table` (CSR n x k, int64),
    compiled (see `_scatter_py`); returns each neuron's total over all steps and over the
    last step, (n,) int64 each."""
    global _scatters
    if _scatters is None:
        _scatters = numba.njit(cache=True, nogil=True)(_scatter_py)
    n = src.shape[2]
    total, last = np.zeros(n, np.int64), np.zeros(n, np.int64)
    k = table.shape[1]
    dense_t = (
        np.ascontiguousarray(table.T.toarray(), np.int64)
        if n * k <= _DENSE_SCATTER
        else np.zeros((0, n), np.int64)
    )
    _scatters(
        np.ascontiguousarray(src),
        bool(ones),
        table.indptr,
        table.indices,
        table.data.astype(np.int64, copy=False),
        out,
        total,
        last,
        dense_t,
    )
    return total, last
