"""A compiled neuron scan for the bit-accurate engine, where numba is installed (optional: the
``fast`` extra). It runs the same int64 arithmetic as `bit_accurate._scan`, one neuron at a time
in machine code, so a long stream's per-step cost is its neurons, not numpy's call overhead.
Without numba (or with NEUROCOMP_NO_JIT=1 in the environment) the numpy scan runs."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

try:  # pragma: no cover - depends on the environment
    if os.environ.get("NEUROCOMP_NO_JIT"):
        raise ImportError("disabled by NEUROCOMP_NO_JIT")
    import numba  # type: ignore[import-not-found, import-untyped, unused-ignore]

    AVAILABLE = True
except ImportError:  # pragma: no cover
    numba = None  # type: ignore[assignment, unused-ignore]
    AVAILABLE = False

__all__ = ["AVAILABLE", "scan"]


def _scan_py(  # noqa: C901 - one straight loop of the chip's equations, compiled as one
    drive: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    keep_u: np.ndarray,
    keep_v: np.ndarray,
    bias: np.ndarray,
    thr: np.ndarray,
    reset: np.ndarray,
    flags: np.ndarray,
    out_s: np.ndarray,
    out_v: np.ndarray,
    rec_v: np.ndarray,
    rec_u: np.ndarray,
    active: np.ndarray,
) -> None:
    """flags: has_u, spiking, zero_reset, floor, bits, top, saturate_u, saturate_v, record_v,
    record_u, count, activation_bits, weight_shift (the drive is raw: wrapped and shifted
    here). u and v are updated in place; with count, active[t, i] counts the samples
    where neuron i had non-zero drive, current or voltage at step t."""
    has_u, spiking, zero_reset, floor = flags[0], flags[1], flags[2], flags[3]
    bits, top, sat_u, sat_v, keep_rec_v, keep_rec_u = (
        flags[4],
        flags[5],
        flags[6],
        flags[7],
        flags[8],
        flags[9],
    )
    count, act_bits, shift = flags[10], flags[11], flags[12]
    act_half = (1 << (act_bits - 1)) if act_bits else 0
    act_mask = (1 << act_bits) - 1 if act_bits else 0
    m = (1 << bits) - 1
    span = 2 * (top + 1) - 1
    steps, batch, n = drive.shape
    for t in range(steps):
        for b in range(batch):
            for i in range(n):
                d = drive[t, b, i]
                if act_bits:  # the drive's wrap to activation_bits, then the weight shift
                    d = ((d + act_half) & act_mask) - act_half
                d <<= shift
                busy = d != 0
                if has_u:
                    q = u[b, i] * keep_u[i]
                    if not floor and q < 0:
                        q += m
                    x = (q >> bits) + d
                    x = min(max(x, -top), top) if sat_u else ((x + top) & span) - top
                    u[b, i] = x
                    busy = busy or x != 0
                    if keep_rec_u:
                        rec_u[t, b, i] = x
                    d = x
                q = v[b, i] * keep_v[i]
                if not floor and q < 0:
                    q += m
                y = (q >> bits) + d + bias[i]
                y = min(max(y, -top), top) if sat_v else ((y + top) & span) - top
                if spiking:
                    fire = y > thr[i]
                    out_s[t, b, i] = 1 if fire else 0
                    if fire:
                        y = reset[i] if zero_reset else y - thr[i]
                else:
                    out_v[t, b, i] = y
                v[b, i] = y
                if count and (busy or y != 0):
                    active[t, i] += 1
                if keep_rec_v:
                    rec_v[t, b, i] = y


_compiled: Any = None


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
) -> None:
    """Run a population's neurons over every step (see `bit_accurate._scan`); u and v in place;
    `active` (T, n) int64, if given, gets the batch-summed count of active neurons."""
    global _compiled
    if _compiled is None:
        _compiled = numba.njit(cache=True, nogil=True)(_scan_py)
    empty3 = np.zeros((0, 0, 0), np.int64)
    spiking = thr is not None
    flags = np.array(
        [
            keep_u is not None,
            spiking,
            zero_reset,
            floor,
            bits,
            top,
            saturate_u,
            saturate_v,
            rec_v is not None,
            rec_u is not None,
            active is not None,
            activation_bits,
            weight_shift,
        ],
        np.int64,
    )

    def c(a: np.ndarray | None, n: int) -> np.ndarray:
        return np.zeros(n, np.int64) if a is None else np.ascontiguousarray(a, np.int64)

    n = drive.shape[2]
    _compiled(
        np.ascontiguousarray(drive),
        u,
        v,
        c(keep_u, n),
        c(keep_v, n),
        c(bias, n),
        c(thr, n),
        c(reset, n),
        flags,
        out if spiking else np.zeros((0, 0, 0), np.uint8),
        empty3 if spiking else out,
        empty3 if rec_v is None else rec_v,
        empty3 if rec_u is None else rec_u,
        np.zeros((0, 0), np.int64) if active is None else active,
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
