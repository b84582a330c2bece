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
import sys
from typing import Any, NamedTuple

import numpy as np

from ..env import env_int

try:  # pragma: no cover - depends on the environment
    if os.environ.get("NEUROCOMP_NO_JIT"):
        raise ImportError("disabled by NEUROCOMP_NO_JIT")
    import numba  # type: ignore[import-not-found, import-untyped, unused-ignore]

    AVAILABLE = True
except ImportError:  # pragma: no cover
    numba = None  # type: ignore[assignment, unused-ignore]
    AVAILABLE = False


def _noalias_option() -> dict[str, bool]:
    """`numba.njit`'s keyword for numba's `noalias` compiler flag (every array argument's data
    aliases no other argument's), where this numba has the flag; {} otherwise. numba leaves
    it out of `njit`'s options, so it is mapped here. Without it, LLVM checks at every entry
    of a vectorised loop whether the arrays it writes overlap those it reads, which in the
    scans is each row of a step: digits' hidden-layer scan on the long stream (10^4 rows),
    best of 100, three processes each: 402-429 to 331-365 us uncounted, 541-551 to 471-484 us
    counted (AMD EPYC, 2026-12-02). The callers pass no array twice where one is written."""
    if numba is None:
        return {}
    try:
        from numba.core import compiler, cpu, options
    except ImportError:  # pragma: no cover - another numba layout: plain njit
        return {}
    if not hasattr(compiler.Flags, "noalias"):  # pragma: no cover - no such flag
        return {}
    if not hasattr(cpu.CPUTargetOptions, "noalias"):
        cpu.CPUTargetOptions.noalias = options.TargetOptions.Mapping("noalias")
    return {"noalias": True}


NOALIAS = _noalias_option()  # `njit` keywords for the kernels whose callers keep to it


def noalias_kernel(fn: Any) -> Any:
    """fn compiled (cached, without the GIL) with `NOALIAS`: for a kernel none of whose
    callers passes an array it writes in two arguments, or aliasing one it reads."""
    njit: Any = numba.njit
    return njit(cache=True, nogil=True, **NOALIAS)(fn)


__all__ = [
    "AVAILABLE",
    "Synapses",
    "column_dots",
    "gather",
    "scan",
    "scatter",
    "scatter_runs",
    "scatter_sums",
]


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
    # the drive: 0 given, 1 from dense rows of W^T, 2 from CSR rows, 3 from a table of the
    # sums of every pattern of eight binary sources (`Synapses.lut`) (1-3: fused)
    synapses: int = 0
    binary_src: bool = False  # fused: the source sends 0/1 (no multiply)
    count_src: bool = False  # fused: the source's non-zero entries counted per step
    count_spikes: bool = True  # counting: the spikes through their `EventTable` here
    # fused, dense, binary, a few neurons: each neuron's sum a dot product over W (n, pre)
    # (`wt` transposed) in int32, not a search for events and their rows
    dense_dots: bool = False
    # the neurons in int32 (twice int64's lanes): `scan` proved every value fits; with the
    # decay's and the drive's shifts constants of the variant (a shift by a variable in
    # int32 is compiled as an int64 one, widening and narrowing every lane around it)
    narrow: bool = False
    narrow_bits: int = 0
    narrow_shift: int = 0
    # counting a population on several cores: its neurons run by run, each run's bounds read
    # per row (one core: the uncounted scan's constant bounds, whose alias checks the compiler
    # hoists out of the rows; per-row bounds cost ~20 ns per row in those checks, measured)
    several_runs: bool = False
    # counting a population's spikes by its table's distinct columns (`counting._Columns`,
    # one or two) as it fires: each row's spikes times each column, summed in registers
    count_cols: int = 0
    # table mode, one sample: the source's events through one or two distinct columns of
    # its table, from each pattern's sums (`Synapses.columns`)
    count_src_cols: int = 0
    # the two columns packed in one int32 (`pack_columns`): one load and add per neuron or
    # pattern, not two (the low 16 bits the first column's sum, the rest the second's)
    packed_cols: bool = False
    packed_src_cols: bool = False
    # counting a population whose only counter is its spikes at its own core (no routing
    # table: an output layer): each run's spikes summed in a register, added per step and core
    run_spikes: bool = False
    # uncounted, a few neurons: the run's spikes summed (returned) only so that the compiler
    # vectorises the neuron loop, which its cost model otherwise leaves scalar for so short a
    # loop (digits' 10-neuron output layer on the long stream: 630 to 530-550 us, measured)
    sum_spikes: bool = False


class EventTable(NamedTuple):
    """A source's events counted inside the scan, step by step: each step's batch-summed
    values (n,) times its routing table (n x k) into out (T, k); total and last (n,) get each
    neuron's sum over all steps and in the last (what the synaptic-op totals need). A small
    table is kept dense and transposed, its non-zero columns only (`cols`: a mapped network's
    tables are mostly zero columns: no messages to most cores, no hops on one tile); a large
    one as CSR."""

    dense: np.ndarray  # (k', n) int64: the non-zero columns, or (0, n) with the CSR below
    cols: np.ndarray  # (k',): each dense row's column of out
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    out: np.ndarray  # (T, k) int64, column-major
    total: np.ndarray  # (n,) int64
    last: np.ndarray  # (n,) int64

    @classmethod
    def of(cls, table: Any, steps: int) -> EventTable:
        """For a CSR routing table (n x k, int64)."""
        return cls.fresh(cls.static(table), table.shape[1], steps)

    @staticmethod
    def static(table: Any) -> tuple[np.ndarray, ...]:
        """The table's part that does not change between runs (keep it with the table)."""
        n, k = table.shape
        if n * k <= _DENSE_SCATTER:
            dense = np.asarray(table.T.toarray(), np.int64)
            cols = np.flatnonzero(dense.any(axis=1)).astype(np.int64)
            dense = np.ascontiguousarray(dense[cols])
        else:
            dense, cols = np.zeros((0, n), np.int64), np.zeros(0, np.int64)
        return (
            dense,
            cols,
            table.indptr.astype(np.int64),
            table.indices.astype(np.int64),
            table.data.astype(np.int64),
        )

    @classmethod
    def fresh(cls, static: tuple[np.ndarray, ...], k: int, steps: int) -> EventTable:
        """Zeroed counts for a run of `steps` steps over a `static` table of k columns."""
        n = static[2].size - 1
        # out column-major: a kind's counts over all steps are one block (folded cheaply)
        out = np.zeros((k, steps), np.int64).T
        zeros = out, np.zeros(n, np.int64), np.zeros(n, np.int64)
        dense, cols, indptr, indices, data = static
        return cls(dense, cols, indptr, indices, data, *zeros)

    def add_row(self, t: int, row: np.ndarray) -> None:
        """One step's batch-summed values through the table, outside the scan (in numpy)."""
        if self.dense.shape[0]:
            self.out[t, self.cols] += self.dense @ row
        elif self.out.shape[1]:
            for i in np.flatnonzero(row):
                lo, hi = self.indptr[i], self.indptr[i + 1]
                np.add.at(self.out[t], self.indices[lo:hi], row[i] * self.data[lo:hi])
        self.total[:] += row
        if t == self.out.shape[0] - 1:
            self.last[:] = row

    @classmethod
    def empty(cls, n: int = 0, steps: int = 0) -> EventTable:
        """No table (k = 0): nothing counted through it."""
        z = np.zeros(0, np.int64)
        return cls.fresh((np.zeros((0, n), np.int64), z, np.zeros(n + 1, np.int64), z, z), 0, steps)


# the scan's arguments for no table, shared by every call (zero-size arrays: nothing is ever
# written to them; made per call they cost about 5 us each, two per scan)
_NO_TABLE = tuple(EventTable.empty())
_NO_SRC_TABLE = tuple(EventTable.empty())  # a distinct one: `scan` passes no array twice


def _make(sw: _Switches) -> Any:  # noqa: C901 - one straight loop of the chip's equations
    has_u, spiking, zero_reset, floor = sw.has_u, sw.spiking, sw.zero_reset, sw.floor
    sat_u, sat_v, keep_rec_v, keep_rec_u = sw.sat_u, sw.sat_v, sw.rec_v, sw.rec_u
    count, wrap_drive, shift_on = sw.counting, sw.wrap_drive, sw.shift
    synapses, binary_src, count_src = sw.synapses, sw.binary_src, sw.count_src
    dense_dots, narrow = sw.dense_dots, sw.narrow
    narrow_bits, narrow_shift = sw.narrow_bits, sw.narrow_shift
    several_runs, count_cols, count_src_cols = sw.several_runs, sw.count_cols, sw.count_src_cols
    packed_cols, packed_src_cols = sw.packed_cols, sw.packed_src_cols
    run_spikes, sum_spikes = sw.run_spikes, sw.sum_spikes
    C = np.int32 if narrow else np.int64  # the neurons' integer type

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
        spikes: np.ndarray,  # `run_spikes`: (T, cores) spikes per step and core, else (0, 0)
        runs: np.ndarray,  # (r + 1,): runs of neurons on one core, runs[k]:runs[k+1]
        run_core: np.ndarray,  # (r,): each run's column of `active`
        ev: tuple,  # counting a spiking population: its `EventTable` arrays (`_flush`)
        src: np.ndarray,  # fused: the source's series (T, batch, pre), read `delay` steps late
        wt: np.ndarray,  # fused, dense: W^T (pre, n), int32 or int64 exact (buf's dtype)
        indptr: np.ndarray,  # fused, CSR: W^T's rows (pre x n)
        indices: np.ndarray,
        data: np.ndarray,
        buf0: np.ndarray,  # fused: one row's synaptic sums (n,): its dtype (a local copy)
        src_ev: tuple,  # fused, counting the source: its `EventTable` arrays
        cw: np.ndarray,  # `count_cols`: the columns (u, n) int32
        col_sums: np.ndarray,  # `count_cols`: each step's spikes through them (>= u, T) int32
        src_tab: np.ndarray,  # `count_src_cols`: each pattern's column sums (rows, u) int32
        src_sums: np.ndarray,  # `count_src_cols`: each source step's sums (>= u, T) int32
    ) -> tuple[np.int64, np.int64]:
        bits, top, act_bits, shift, bias_from = ints[0], ints[1], ints[2], ints[3], ints[4]
        delay = ints[5]
        n = keep_v.shape[0]
        n_runs = run_core.shape[0] if several_runs else 1
        U0, un = np.uint64(0), np.uint64(n)
        core0 = U0  # the one run's column of `active`
        if count and not several_runs and run_core.shape[0]:
            core0 = np.uint64(run_core[0])
        act_half = C((1 << (act_bits - 1)) if act_bits > 0 else 0)
        act_mask = C(((1 << act_bits) - 1) if act_bits > 0 else 0)
        m = C((1 << bits) - 1)
        span = C(2 * (top + 1) - 1)
        bits, top, shift = C(bits), C(top), C(shift)
        if narrow:
            bits, shift = C(narrow_bits), C(narrow_shift)
        if narrow:  # int32 copies of the state and constants (written back at the end)
            vs, us = v.astype(np.int32), u.astype(np.int32)
            kv, ku, bs = keep_v.astype(np.int32), keep_u.astype(np.int32), bias.astype(np.int32)
            th, rs = thr.astype(np.int32), reset.astype(np.int32)
            dbias = drive_bias.astype(np.int32)
        else:
            vs, us, kv, ku, bs, th, rs, dbias = v, u, keep_v, keep_u, bias, thr, reset, drive_bias
        no_bias = np.zeros_like(dbias)
        steps, batch = (src.shape[0], src.shape[1]) if synapses else drive.shape[:2]
        pre = src.shape[2]
        idx = np.zeros(pre, np.int64)  # the sources that sent something, this row
        buf = np.zeros_like(buf0)  # local: the compiler sees it alias nothing
        row = np.zeros(n, np.int64)  # this step's spikes per neuron, batch-summed
        idx_n = np.zeros(n, np.int64)  # its non-zero entries
        src_row = np.zeros(pre, np.int64)  # this step's source events per entry, batch-summed
        counts_spikes = count and spiking and sw.count_spikes
        # table mode: src holds eight sources per uint64; the table has groups of 256 rows,
        # four groups per pass (the padding groups' pattern 0: their zero row)
        groups, width = src.shape[2], wt.shape[1]
        pat = np.arange(0, -(-groups // 4) * 4 * 256, 256).astype(np.uint64)
        e0, e1, e2, e3, e4, e5, e6, e7 = ev  # unpacked once: no reference counting per step
        f0, f1, f2, f3, f4, f5, f6, f7 = src_ev
        seen = np.int64(0)  # counting: the active neurons over the run (returned)
        # one sample, the source's two columns packed: each step's packed sum stored in a local
        # row, unpacked into src_sums after the run (not two adds into it per step)
        src_one = np.zeros(src_sums.shape[1] if packed_src_cols else 0, np.int32)
        spiked = np.int64(0)  # `run_spikes`, `sum_spikes`: the spikes over the run (returned)
        for t in range(steps):
            db = dbias if t >= bias_from else no_bias
            for b in range(batch):
                if synapses and dense_dots:  # a few neurons: each one's sum a dot product
                    ts = t - delay
                    for j in range(n):
                        acc32 = np.int32(0)
                        if ts >= 0:
                            for c in range(pre):
                                acc32 = np.int32(acc32 + np.int16(src[ts, b, c]) * wt[j, c])
                        buf[j] = acc32
                elif synapses == 3:  # binary sources eight at a time: table rows, no search
                    ts = t - delay
                    if ts >= 0:
                        # each eight 0/1 bytes -> one pattern, its columns read as it is made
                        # (unsigned: no negative-index wrap per access; with the row below,
                        # digits' long stream: hidden-layer scan 524 to 472 us counted, 403 to
                        # 370 us uncounted, medians of five processes, measured)
                        j0, j1 = np.int32(0), np.int32(0)
                        for g in range(np.uint64(groups)):
                            pg = ((src[ts, b, g] * _MAGIC) >> _S56) + (g << np.uint64(8))
                            pat[g] = pg
                            if count_src_cols >= 1:
                                j0 = np.int32(j0 + src_tab[pg, np.uint64(0)])
                                if count_src_cols >= 2:
                                    j1 = np.int32(j1 + src_tab[pg, np.uint64(1)])
                        if count_src_cols >= 1:
                            if packed_src_cols and batch == 1:
                                src_one[ts] = j0
                            else:
                                _add_columns(src_sums, ts, j0, j1, packed_src_cols, count_src_cols)
                        p0, p1, p2, p3 = pat[0], pat[1], pat[2], pat[3]
                        for j in range(width):
                            buf[j] = (wt[p0, j] + wt[p1, j]) + (wt[p2, j] + wt[p3, j])
                        for g in range(4, pat.shape[0], 4):
                            p0, p1, p2, p3 = pat[g], pat[g + 1], pat[g + 2], pat[g + 3]
                            for j in range(width):
                                buf[j] += (wt[p0, j] + wt[p1, j]) + (wt[p2, j] + wt[p3, j])
                    else:
                        buf[:] = 0
                elif synapses:  # this row's synaptic sums, event-driven, into buf
                    buf[:] = 0
                    ts = t - delay
                    k = np.int64(0)
                    if ts >= 0:
                        for c in range(pre):
                            nz = src[ts, b, c] != 0
                            idx[k] = c
                            k += np.int64(nz)
                            if count_src:
                                src_row[c] += np.int64(nz)
                    rest = np.int64(0)  # the events not summed four at a time
                    if synapses == 1 and binary_src:  # four rows per pass over buf
                        for e in range(0, k - 3, 4):
                            c0, c1, c2, c3 = idx[e], idx[e + 1], idx[e + 2], idx[e + 3]
                            for j in range(n):
                                buf[j] += (wt[c0, j] + wt[c1, j]) + (wt[c2, j] + wt[c3, j])
                        rest = k - k % 4
                    for e in range(rest, k):
                        c = idx[e]
                        if synapses == 1:
                            if binary_src:
                                for j in range(n):
                                    buf[j] += wt[c, j]
                            else:
                                w = src[ts, b, c]
                                for j in range(n):
                                    buf[j] += w * wt[c, j]
                        else:
                            w = src[ts, b, c]
                            for r in range(indptr[c], indptr[c + 1]):
                                buf[indices[r]] += data[r] if binary_src else w * data[r]
                k0, k1 = np.int32(0), np.int32(0)  # this row's spikes through `cw`
                # the neurons run by run of one core, so that counting adds each run's active
                # neurons in a register (a reduction the compiler vectorises), not per neuron
                for r in range(n_runs):
                    # unsigned bounds: a signed index the compiler cannot prove non-negative
                    # gets numba's negative-index wrap on every access, which stops the
                    # vectorisation (measured: 2.4x slower scans)
                    lo, hi = U0, un  # one run: every neuron, constant bounds
                    if several_runs:
                        lo, hi = np.uint64(runs[r]), np.uint64(runs[r + 1])
                    acc = C(0)  # the neurons' type: a reduction in their lanes
                    fired = C(0)  # `run_spikes`: the run's spikes, the same way
                    for i in range(lo, hi):
                        if synapses:  # noqa: SIM108 - one type per branch (compiled)
                            d = C(C(buf[i]) + C(db[i]))
                        else:
                            d = np.int64(drive[t, b, i]) + db[i]
                        if wrap_drive:  # the drive's wrap to activation_bits, then the shift
                            d = C(C(C(d + act_half) & act_mask) - act_half)
                        # active: a non-zero drive or state, one test on their bits or-ed
                        busy = d
                        if shift_on:
                            d = C(d << shift)
                        if has_u:
                            x = C(us[b, i])
                            kk = ku[i]
                            if narrow:  # the product split: (x >> bits) * k + low bits' part
                                a = C(abs(x)) if not floor else x  # type: ignore[arg-type]
                                dec = C(C(C(a >> bits) * kk) + C(C(C(a & m) * kk) >> bits))
                                if not floor and x < 0:
                                    dec = C(-dec)
                            else:
                                q = x * kk
                                if not floor:
                                    q += (q >> 63) & m
                                dec = q >> bits
                            x = C(dec + d)
                            if sat_u:
                                x = min(max(x, C(-top)), top)
                            else:
                                x = C(C(C(x + top) & span) - top)
                            us[b, i] = x
                            if keep_rec_u:
                                rec_u[t, b, i] = x
                            d = x
                            busy = busy | x
                        y = C(vs[b, i])
                        kk = kv[i]
                        if narrow:
                            a = C(abs(y)) if not floor else y  # type: ignore[arg-type]
                            dec = C(C(C(a >> bits) * kk) + C(C(C(a & m) * kk) >> bits))
                            if not floor and y < 0:
                                dec = C(-dec)
                        else:
                            q = y * kk
                            if not floor:
                                q += (q >> 63) & m
                            dec = q >> bits
                        y = C(C(dec + d) + bs[i])
                        y = min(max(y, C(-top)), top) if sat_v else C(C(C(y + top) & span) - top)
                        if spiking:
                            fire = y > th[i]
                            out_s[t, b, i] = fire
                            if fire:
                                y = rs[i] if zero_reset else C(y - th[i])
                            if counts_spikes:
                                row[i] += np.int64(fire)
                            if run_spikes or sum_spikes:
                                fired = C(fired + C(fire))
                            if count_cols >= 1:
                                k0 = np.int32(k0 + np.int32(fire) * cw[0, i])
                            if count_cols >= 2:
                                k1 = np.int32(k1 + np.int32(fire) * cw[1, i])
                        else:
                            out_v[t, b, i] = y
                        vs[b, i] = y
                        if keep_rec_v:
                            rec_v[t, b, i] = y
                        if count:  # the idle ones (one instruction fewer per lane than active)
                            acc = C(acc + C((busy | y) == 0))
                    if run_spikes or sum_spikes:
                        spiked += np.int64(fired)
                    if count:
                        at = np.uint64(run_core[r]) if several_runs else core0
                        busy_n = np.int64(hi - lo) - np.int64(acc)
                        active[t, at] += busy_n
                        if run_spikes:
                            spikes[t, at] += np.int64(fired)
                        seen += busy_n
                if count_cols >= 1:
                    _add_columns(col_sums, t, k0, k1, packed_cols, count_cols)
            # this step's events through the routing tables (`EventTable`), written out here:
            # a call, even inlined, costs ~70 ns per step in its arguments' handling (measured)
            if counts_spikes:
                for i in range(n):
                    e6[i] += row[i]
                if t == steps - 1:
                    e7[:] = row
                if e0.shape[0]:  # dense: a dot product per non-zero column
                    for col in range(e0.shape[0]):
                        acc = np.int64(0)
                        for i in range(n):
                            acc += row[i] * e0[col, i]
                        e5[t, e1[col]] += acc
                elif e5.shape[1]:  # CSR rows of the non-zero entries, found without a branch
                    k = np.int64(0)
                    for i in range(n):
                        idx_n[k] = i
                        k += np.int64(row[i] != 0)
                    for j in range(k):
                        i = idx_n[j]
                        for e in range(e2[i], e2[i + 1]):
                            e5[t, e3[e]] += row[i] * e4[e]
                row[:] = 0
            ts = t - delay
            if count_src and ts >= 0:  # the same for the source's events of step ts
                for i in range(pre):
                    f6[i] += src_row[i]
                if ts == steps - 1:
                    f7[:] = src_row
                if f0.shape[0]:
                    for col in range(f0.shape[0]):
                        acc = np.int64(0)
                        for i in range(pre):
                            acc += src_row[i] * f0[col, i]
                        f5[ts, f1[col]] += acc
                elif f5.shape[1]:
                    k = np.int64(0)
                    for i in range(pre):
                        idx[k] = i
                        k += np.int64(src_row[i] != 0)
                    for j in range(k):
                        i = idx[j]
                        for e in range(f2[i], f2[i + 1]):
                            f5[ts, f3[e]] += src_row[i] * f4[e]
                src_row[:] = 0
        for ts in range(max(steps - delay, 0) if count_src_cols else steps, steps):
            for b in range(batch):  # the source's steps the delay left unread: their columns
                j0, j1 = np.int32(0), np.int32(0)
                for g in range(groups):
                    p = ((src[ts, b, g] * _MAGIC) >> _S56) + np.uint64(g << 8)
                    j0 = np.int32(j0 + src_tab[p, 0])
                    if count_src_cols >= 2:
                        j1 = np.int32(j1 + src_tab[p, 1])
                _add_columns(src_sums, ts, j0, j1, packed_src_cols, count_src_cols)
        if packed_src_cols and batch == 1:  # `src_one` unpacked
            for t in range(np.uint64(src_one.shape[0])):
                _add_columns(src_sums, t, src_one[t], np.int32(0), True, 1)
        if narrow:
            v[:] = vs
            u[:] = us
        return seen, spiked

    return noalias_kernel(scan_variant)


_VARIANTS: dict[_Switches, Any] = {}


def _add_columns_py(sums: Any, t: int, j0: Any, j1: Any, packed: bool, u: int) -> None:
    """A row's one or two column sums (j0 packed: both) added to step t's (`pack_columns`)."""
    if packed:
        sums[0, t] += j0 & _LOW16
        sums[1, t] += j0 >> _PACK
    else:
        sums[0, t] += j0
    if u >= 2:
        sums[1, t] += j1


# inlined where the scan uses it: a compiled call costs ~70 ns per step (measured)
_add_columns = numba.njit(inline="always")(_add_columns_py) if AVAILABLE else _add_columns_py
# eight bytes of 0/1 (a uint64, little-endian) times this: byte q's bit lands at bit 56 + q
# (no two partial products meet there, nor carry into it)
_MAGIC, _S56 = np.uint64(0x0102040810204080), np.uint64(56)
_PACK = 16  # `pack_columns`: the second column's shift
_LOW16 = np.int32((1 << _PACK) - 1)


def pack_columns(w: np.ndarray) -> np.ndarray | None:
    """Two columns w (2, n) of non-negative entries as one, (1, n) int32: w[0] + w[1] *
    2^16, where every sum of them fits (sum(w[0]) < 2^16, sum(w[1]) < 2^15: no carry into
    the second, no sign bit); None otherwise. A sum of packed entries unpacks to both sums."""
    w = np.asarray(w, np.int64)
    if w.shape[0] != 2 or (w < 0).any() or w[0].sum() >= 1 << _PACK or w[1].sum() >= 1 << 15:
        return None
    return (w[0] + (w[1] << _PACK)).astype(np.int32)[None, :]


class Synapses(NamedTuple):
    """A population's one feeding projection, summed inside the scan (fused: no drive array):
    the source's series (T, batch, pre), read `delay` steps late, and W^T (pre x n) as a dense
    array or CSR of exact integers (int32 where its sums are proven to fit, else int64)."""

    src: np.ndarray
    wt: Any  # np.ndarray (pre, n), or scipy CSR (pre x n)
    delay: int = 0
    events: EventTable | None = None  # counting: the source's events, summed on the way
    binary: bool = False  # every source value is 0 or 1 (each event adds its row unscaled)
    # binary sources: W^T's sums for every pattern of each eight sources ((groups * 256,
    # width), `kernels.ProjectionKernel.lut`), used where given (no search for events)
    lut: np.ndarray | None = None
    bound: int | None = None  # the largest |sum| (`kernels.sum_bound`), where known
    # table mode, counting the source: each pattern's sums of one or two of its table's
    # columns (groups * 256 rows, u) int32, and each source step's sums (>= u, T) int32,
    # added as the scan reads the step (and after it, the last `delay` steps it never reads)
    columns: tuple[np.ndarray, np.ndarray] | None = None
    packed_columns: bool = False  # the table holds two columns packed (`pack_columns`)


def scan(
    drive: np.ndarray | None,
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
    spikes: np.ndarray | None = None,
    activation_bits: int = 0,
    weight_shift: int = 0,
    drive_bias: np.ndarray | None = None,
    bias_from: int = 0,
    core: np.ndarray | None = None,
    events: EventTable | None = None,
    synapses: Synapses | None = None,
    drive_bound: int | None = None,
    narrow: bool = False,
    columns: tuple[np.ndarray, np.ndarray] | None = None,
    packed_columns: bool = False,
) -> tuple[int, int]:
    """Run a population's neurons over every step (see `bit_accurate._scan`) on its raw drive
    (T, batch, n): int64, or a float array of exact integers (a float kernel's result, read
    without a conversion pass), or, with `synapses` (drive None), the sums of its one
    projection computed row by row in the same loop (event-driven: each non-zero source
    entry adds its row of W^T); plus `drive_bias` (n,) from step `bias_from` on; u and v in
    place. `active` (T, cores) int32 or int64, if given, gets the batch-summed count of active
    neurons per step at column core[i] of neuron i (None: column i; the idle ones are the
    rest, `Counter.counts`), `spikes` (the same shape), given with it, the
    spikes (a population whose only counter they are), and `events`, given with
    `active` for a spiking population, its spikes through its routing table step by step
    (`EventTable`: no second pass over the series). `drive_bound`, where known: the largest
    |raw drive| (with `drive_bias`); below 2^(activation_bits - 1) the drive's wrap is left
    out (it changes nothing). `narrow`: the neurons run in int32, which the caller proved
    exact (`narrow_fits`; fused synapses only). `columns` = (w, sums), counting a spiking
    population by one or two distinct columns of its table (`counting._Columns`): w (u, n)
    int32, and sums (>= u, T) int32 gets each step's batch-summed spikes through them (the
    caller keeps them below 2^31); `packed_columns`: w (1, n) holds two (`pack_columns`).
    Returns the active neurons' and the spikes' counts over the run, batch-summed (0 without
    `active`, and without `spikes` for a population of more than `_SUM_SPIKES_MAX`). Compiled
    with `NOALIAS`: no array it writes (u, v, out, the records, the counters, the tables'
    counts) may share memory with another argument."""
    spiking = thr is not None
    counting = active is not None
    n = v.shape[1]
    if counting and core is None:
        core = np.arange(n, dtype=np.int64)
    runs = _runs(core)
    syn, wt, csr = _synapse_args(synapses, n)
    dots = _dense_dots(synapses, wt, n)
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
        wrap_drive=activation_bits > 0
        and (drive_bound is None or drive_bound >= 1 << (activation_bits - 1)),
        shift=weight_shift != 0,
        synapses=1 if dots else _mode(synapses),
        binary_src=synapses is not None and synapses.binary,
        count_src=synapses is not None and synapses.events is not None,
        count_spikes=events is not None,  # else counted elsewhere (`scatter`)
        dense_dots=dots,
        narrow=narrow and synapses is not None,
        narrow_bits=bits if narrow and synapses is not None else 0,
        narrow_shift=weight_shift if narrow and synapses is not None else 0,
        several_runs=counting and runs[1].size > 1,
        count_cols=0 if columns is None else columns[0].shape[0],
        count_src_cols=0
        if synapses is None or synapses.columns is None
        else (synapses.columns[0].shape[1]),
        packed_cols=packed_columns,
        packed_src_cols=synapses is not None and synapses.packed_columns,
        run_spikes=spikes is not None,
        sum_spikes=spiking and not counting and 0 < n <= _SUM_SPIKES_MAX,
    )
    assert sw.count_src_cols <= 2 and (not sw.count_src_cols or sw.synapses == 3)
    src_cols = None if synapses is None else synapses.columns
    assert sw.count_cols <= 2 and (not sw.count_cols or (spiking and counting))
    assert not sw.run_spikes or (spiking and counting and not sw.count_spikes)
    assert not sw.packed_cols or (
        sw.count_cols == 1 and columns is not None and columns[1].shape[0] >= 2
    )
    assert not sw.packed_src_cols or (
        sw.count_src_cols == 1 and src_cols is not None and src_cols[1].shape[0] >= 2
    )
    assert not (sw.narrow and sw.wrap_drive), "int32 neurons: the drive must not wrap"
    if sw.dense_dots:
        wt = _transposed(wt)
    elif sw.synapses == 3:
        assert synapses is not None and synapses.lut is not None
        wt, syn = synapses.lut, syn._replace(src=_octets(syn.src))
    fn = _VARIANTS.get(sw)
    if fn is None:
        fn = _VARIANTS[sw] = _make(sw)
    empty3 = np.zeros((0, 0, 0), np.int64)  # the other placeholders each their own (`NOALIAS`)

    def c(a: np.ndarray | None) -> np.ndarray:
        if a is None:
            return np.zeros(n, np.int64)
        if a.dtype == np.int64 and a.shape == (n,) and a.flags.c_contiguous:
            return a  # as `bit_accurate` keeps them: no copy per call
        return np.ascontiguousarray(np.broadcast_to(a, (n,)), np.int64)

    if drive is None:
        drive = empty3
    elif drive.dtype not in (np.float32, np.float64, np.int64):
        drive = drive.astype(np.int64)
    seen, spiked = fn(
        np.ascontiguousarray(drive),
        c(drive_bias),
        u,
        v,
        c(keep_u),
        c(keep_v),
        c(bias),
        c(thr),
        c(reset),
        np.array([bits, top, activation_bits, weight_shift, bias_from, syn.delay], np.int64),
        out if spiking else np.zeros((0, 0, 0), np.uint8),
        np.zeros((0, 0, 0), np.int64) if spiking else out,
        np.zeros((0, 0, 0), np.int64) if rec_v is None else rec_v,
        np.zeros((0, 0, 0), np.int64) if rec_u is None else rec_u,
        np.zeros((0, 0), np.int64) if active is None else active,
        np.zeros((0, 0), np.int64) if spikes is None else spikes,
        *runs,
        tuple(events) if events is not None else _NO_TABLE,
        syn.src,
        wt,
        *csr,
        np.zeros(wt.shape[1] if sw.synapses == 3 else n, wt.dtype),
        tuple(syn.events) if syn.events is not None else _NO_SRC_TABLE,
        *(columns or (np.zeros((0, n), np.int32), np.zeros((0, 0), np.int32))),
        *(src_cols or (np.zeros((0, 0), np.int32), np.zeros((0, 0), np.int32))),
    )
    return int(seen), int(spiked)


_SUM_SPIKES_MAX = 16  # `_Switches.sum_spikes`: measured at 10 neurons (and slower at 128)
_DENSE_DOTS_MAX = env_int("NEUROCOMP_DENSE_DOTS_MAX", 16)
# up to this many neurons a fused binary projection's sums are dot products (measured: the
# search for events over 128 sources and their 10-wide rows took 94 ns per row for digits'
# output layer; 10 int16 dot products of 128 take about half)


def narrow_fits(
    constants: tuple[np.ndarray | None, ...], bits: int, top: int, shift: int, drive_bound: int
) -> bool:
    """Whether a scan's neurons are exact in int32 (`scan`'s `narrow`), from a fresh state
    (zeros): `constants` = (keep_u, keep_v, bias, thr, reset) (n,) each (keep_u None without a
    current stage); `drive_bound`: the largest |drive| before the shift. Each decay is then
    computed as (|x| >> bits) * k + ((|x| & (2^bits - 1)) * k >> bits) (every term below
    2^31 for 0 <= k <= 2^bits, bits <= 15), and every sum before saturation or wrap stays below
    2^31: a state at most top + max(|thr|, |reset|), plus the shifted drive, the bias, top."""
    keep_u, keep_v, bias, thr, reset = constants
    if bits > 15:
        return False
    for k in (keep_u, keep_v):
        if k is not None and k.size and (int(k.min()) < 0 or int(k.max()) > 1 << bits):
            return False

    def top_of(a: np.ndarray | None) -> int:
        return int(np.abs(a).max()) if a is not None and a.size else 0

    state = top + max(top_of(thr), top_of(reset))
    return state + (drive_bound << shift) + top_of(bias) + top < 1 << 31


def _mode(synapses: Synapses | None) -> int:
    """`_Switches.synapses` for these synapses: 0 none, 1 dense rows, 2 CSR rows, 3 the
    table of eight-source patterns (binary sources, no events counted on the way)."""
    if synapses is None:
        return 0
    # `_MAGIC` reads the bytes of a uint64 in little-endian order
    lut = synapses.lut is not None and synapses.binary and synapses.events is None
    if lut and sys.byteorder == "little":
        return 3
    return 1 if isinstance(synapses.wt, np.ndarray) else 2


def reads_patterns(synapses: Synapses, n: int) -> bool:
    """Whether `scan` sums these synapses into n neurons from their pattern table (where
    `Synapses.columns` can count the source), not as dot products or rows of W^T."""
    return not _dense_dots(synapses, synapses.wt, n) and _mode(synapses) == 3


def _octets(src: np.ndarray) -> np.ndarray:
    """A 0/1 uint8 series (T, batch, pre) as uint64 words of eight sources (T, batch,
    ceil(pre / 8)), zero-padded where pre is not a multiple of eight."""
    pre = src.shape[2]
    if pre % 8 or src.dtype != np.uint8 or not src.flags.c_contiguous:
        padded = np.zeros((*src.shape[:2], -(-pre // 8) * 8), np.uint8)
        padded[..., :pre] = src
        src = padded
    return src.view(np.uint64)


def _dense_dots(synapses: Synapses | None, wt: np.ndarray, n: int) -> bool:
    """Whether the fused scan sums `synapses` as dot products (`_Switches.dense_dots`)."""
    return (
        synapses is not None
        and synapses.binary
        and synapses.events is None
        and isinstance(synapses.wt, np.ndarray)
        and wt.dtype in (np.int16, np.int32)
        and 0 < n <= _DENSE_DOTS_MAX
    )


_TRANSPOSED: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id -> (W^T, W), the last few


def _transposed(wt: np.ndarray) -> np.ndarray:
    """W (n, pre) from the kernel's W^T (pre, n), made once per array (a small one)."""
    hit = _TRANSPOSED.get(id(wt))
    if hit is None or hit[0] is not wt:
        hit = (wt, np.ascontiguousarray(wt.T))
        _TRANSPOSED[id(wt)] = hit
        while len(_TRANSPOSED) > 8:
            del _TRANSPOSED[next(iter(_TRANSPOSED))]
    return hit[1]


_RUNS: dict[int, tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]] = {}  # id -> the last few


def _runs(core: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """`_find_runs`, kept for the last few arrays (a counter's neuron -> core arrays, the
    same every run: finding the runs cost 7 us per scan, a tenth of counting's added time
    at batch 100)."""
    if core is None:
        return _find_runs(core)
    hit = _RUNS.get(id(core))
    if hit is None or hit[0] is not core:
        hit = (core, _find_runs(core))
        _RUNS[id(core)] = hit
        while len(_RUNS) > 16:
            del _RUNS[next(iter(_RUNS))]
    return hit[1]


def _find_runs(core: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The runs of consecutive neurons on one core (a mapping places blocks of neurons):
    their bounds (r + 1,) and cores (r,)."""
    if core is None or not core.size:
        return np.zeros(1, np.int64), np.zeros(0, np.int64)
    core = np.asarray(core, np.int64)
    starts = np.flatnonzero(np.diff(core)) + 1
    bounds = np.concatenate([[0], starts, [core.size]]).astype(np.int64)
    return bounds, np.ascontiguousarray(core[bounds[:-1]])


def _synapse_args(
    synapses: Synapses | None, n: int
) -> tuple[Synapses, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The fused scan's synapse arguments, typed alike where unused (one compiled variant)."""
    if synapses is None:
        none = np.zeros(0, np.int64)
        return Synapses(np.zeros((0, 0, 0), np.uint8), None), np.zeros((0, 0)), (none,) * 3
    src = np.ascontiguousarray(synapses.src)
    if src.dtype not in (np.uint8, np.int64):
        src = src.astype(np.int64)
    syn = synapses._replace(src=src)
    if isinstance(synapses.wt, np.ndarray):
        wt = np.ascontiguousarray(synapses.wt)
        none = np.zeros(0, np.int64)
        return syn, wt, (none, none, np.zeros(0, wt.dtype))
    m = synapses.wt
    return syn, np.zeros((0, 0), m.dtype), (m.indptr, m.indices, m.data)


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


def _make_scatter(ones: bool) -> Any:  # noqa: C901 - one compiled loop
    """The compiled `scatter` loop, with `ones` a constant of it."""

    def scatter_loop(  # noqa: C901 - one compiled loop
        src: np.ndarray,
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        out: np.ndarray,
        total: np.ndarray,
        last: np.ndarray,
        dense_t: np.ndarray,
        cols: np.ndarray,
        row: np.ndarray,
    ) -> None:
        """Event counts from a series src (T, batch, n): with x the values (or, with `ones`,
        the non-zero entries) of neuron i at step t summed over the batch (into `row`),
        out[t, indices[e]] += x * data[e] over row i of the CSR table (indptr, indices, data);
        total[i] and last[i] get x summed over every step and over the last step. With
        `dense_t` (k' x n: the table's non-zero columns `cols`, transposed and dense; empty:
        not used) each step's counts are dot products of the row instead (no chain of
        additions into the same counter: vectorised)."""
        steps, batch, n = src.shape
        if n == 0:
            return
        idx = np.zeros(n, np.int64)
        if batch == 1 and dense_t.shape[0]:  # one sample: the series' rows as they are
            for t in range(steps):
                for i in range(n):
                    x = src[t, 0, i]
                    total[i] += (x != 0) if ones else x
                for col in range(dense_t.shape[0]):
                    acc = dense_t[col, 0] * 0  # the table's type (int32 where `scatter` proved it)
                    for i in range(n):
                        x = src[t, 0, i]
                        acc += ((x != 0) if ones else x) * dense_t[col, i]
                    out[t, cols[col]] += acc
            for i in range(n):
                x = src[steps - 1, 0, i] if steps else 0
                last[i] = (x != 0) if ones else x
            return
        if batch == 1:  # one sample: its events found in its rows, only they summed
            # four rows of sums taking the events in turn: neighbouring neurons add to the
            # same counter (one core's), and one chain of additions through memory waits for
            # each store (measured 3.5 ns per event at one row)
            acc = np.zeros((4, out.shape[1]), np.int64)
            for t in range(steps):
                k = 0
                for i in range(n):  # the non-zero entries, found without a branch
                    idx[k] = i
                    k += src[t, 0, i] != 0
                for j in range(k):
                    i = idx[j]
                    x = np.int64(1) if ones else np.int64(src[t, 0, i])
                    total[i] += x
                    a = j & 3
                    for e in range(indptr[i], indptr[i + 1]):
                        acc[a, indices[e]] += x * data[e]
                if t == steps - 1:
                    for j in range(k):
                        last[idx[j]] = np.int64(1) if ones else np.int64(src[t, 0, idx[j]])
                for col in range(out.shape[1]):
                    out[t, col] += (acc[0, col] + acc[1, col]) + (acc[2, col] + acc[3, col])
                acc[:] = 0
            return
        for t in range(steps):
            row[:] = 0
            for b in range(batch):
                for i in range(n):
                    x = src[t, b, i]
                    row[i] += (x != 0) if ones else x
            for i in range(n):
                total[i] += row[i]
            if dense_t.shape[0]:
                for col in range(dense_t.shape[0]):
                    acc = row[0] * dense_t[col, 0]
                    for i in range(1, n):
                        acc += row[i] * dense_t[col, i]
                    out[t, cols[col]] += acc
                continue
            k = 0
            for i in range(n):  # the non-zero entries, found without a branch
                idx[k] = i
                k += row[i] != 0
            for j in range(k):
                i = idx[j]
                x = row[i]
                for e in range(indptr[i], indptr[i + 1]):
                    out[t, indices[e]] += x * data[e]
        if steps:
            last[:] = row

    return numba.njit(cache=True, nogil=True)(scatter_loop)


_scatters: dict[bool, Any] = {}
_DENSE_SCATTER = 1 << 14  # table entries up to which each step's counts are dot products


def scatter(
    src: np.ndarray,
    table: Any,
    out: np.ndarray,
    ones: bool = False,
    static: tuple[np.ndarray, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """out (T, k) int64 += the events of src (T, batch, n) through `table` (CSR n x k, int64),
    compiled (see `_make_scatter`); returns each neuron's total over all steps and over the
    last step, (n,) int64 each. `static`: `EventTable.static(table)`, where kept."""
    ones = bool(ones)
    if ones not in _scatters:
        _scatters[ones] = _make_scatter(ones)
    n = src.shape[2]
    total, last = np.zeros(n, np.int64), np.zeros(n, np.int64)
    dense_t, cols = (static or EventTable.static(table))[:2]
    if src.shape[1] == 1 and dense_t.shape[0] and src.size:  # int32 where each step's sum fits
        top = 1 if ones else max(abs(int(src.max())), abs(int(src.min())))
        if top * int(np.abs(dense_t).sum(axis=1).max()) < 1 << 31:
            dense_t = dense_t.astype(np.int32)
    _scatters[ones](
        np.ascontiguousarray(src),
        table.indptr,
        table.indices.view(np.uint32) if table.indices.dtype == np.int32 else table.indices,
        table.data.astype(np.int64, copy=False),
        out,
        total,
        last,
        dense_t,
        cols,
        np.zeros(n, np.int64),
    )
    return total, last


def _scatter_sums_py(
    sums: np.ndarray, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, out: np.ndarray
) -> None:
    """out[t, indices[e]] += sums[t, i] * data[e] over row i of the CSR table, for the
    non-zero entries of sums (T, n) only: the work is the events times their table rows."""
    idx = np.zeros(sums.shape[1], np.int64)
    for t in range(sums.shape[0]):
        k = np.int64(0)
        for i in range(sums.shape[1]):  # the non-zero sums, found without a branch
            idx[k] = i
            k += np.int64(sums[t, i] != 0)
        for j in range(k):
            i = idx[j]
            x = sums[t, i]
            for e in range(indptr[i], indptr[i + 1]):
                out[t, indices[e]] += x * data[e]


_sums: Any = None


def scatter_sums(sums: np.ndarray, table: Any, out: np.ndarray) -> None:
    """out (T, k) int64 += sums (T, n) int64 @ table (CSR n x k, int64), compiled, reading
    only the non-zero sums: the batch-summed events a scan left (`scan`'s `sent`) through a
    source's routing table (the same integers as `scatter` on the series they sum)."""
    global _sums
    if _sums is None:
        _sums = numba.njit(cache=True, nogil=True)(_scatter_sums_py)
    _sums(
        np.ascontiguousarray(sums, np.int64),
        table.indptr,
        table.indices,
        table.data.astype(np.int64, copy=False),
        out,
    )


def _nz_py(x: Any) -> Any:
    """A byte's event, 0 or 1, as a byte (`_column_dots_py`'s lanes)."""
    return np.uint8(x != 0)


_nz = numba.njit(inline="always")(_nz_py) if AVAILABLE else _nz_py
_BYTE_SAMPLES = 248  # samples counted in one byte lane (a multiple of 8 below 256)
_NOT_PACKED = np.zeros((0, 0), np.int32)  # `column_dots` without packed columns


def _column_dots_py(  # noqa: C901 - one compiled loop
    src: np.ndarray,
    w: np.ndarray,
    packed: np.ndarray,
    out: np.ndarray,
    to: np.ndarray,
    block: np.ndarray,
    total: np.ndarray,
) -> None:
    """out[t, j] = sum over b, i of (src[t, b, i] != 0) * w[j, i], for a uint8 series src
    (T, batch, n) and int16 columns w (u, n), in int32 (`column_dots` checked the bound):
    one sample column by column (both at once from `packed`, (1, n) int32, where given;
    (0, 0) otherwise), several samples' events per entry first counted in byte lanes; then
    each step's sums added to their counters, block[to[m, 0], t, to[m, 1]] += out[t, to[m, 2]],
    and total[j] (int64) += out[t, j] (a numpy sum over the steps took 0.12 ms at 10^4)."""
    steps, batch, n = src.shape
    U = np.uint64
    if batch == 1:  # one sample: a column's steps into a local row, then into out
        # (out's strided stores inside the loop over the entries doubled its time: measured)
        one = np.zeros(steps, np.int32)
        for j in range(U(1) if packed.shape[0] else U(w.shape[0])):
            for t in range(U(steps)):
                acc = np.int32(0)  # kept int32 (numba widens a sum of int32s to int64)
                for i in range(U(n)):
                    e = np.int32(src[t, U(0), i] != 0)
                    acc += e * (packed[U(0), i] if packed.shape[0] else np.int32(w[j, i]))
                one[t] = acc
            if packed.shape[0]:  # two columns' sums in one (`pack_columns`)
                for t in range(U(steps)):
                    out[t, U(0)] = one[t] & _LOW16
                    out[t, U(1)] = one[t] >> _PACK
            else:
                for t in range(U(steps)):
                    out[t, j] = one[t]
    # several samples: each step's events per entry, counted in byte lanes eight samples at a
    # time (a byte holds 248 samples' 0/1), then widened once per step; a loop over the
    # samples with the entries inside ran each short row apart (10-12 us at 25 steps x 100
    # samples, measured, 3.4-4.4 us so)
    row = np.zeros(n, np.int32)
    r8 = np.zeros(n, np.uint8)
    whole = U(batch) - U(batch) % U(8)
    for t in range(U(steps) if batch > 1 else U(0)):
        row[:] = 0
        for b0 in range(U(0), whole, U(_BYTE_SAMPLES)):
            r8[:] = 0
            for b in range(b0, min(b0 + U(_BYTE_SAMPLES), whole), U(8)):
                for i in range(U(n)):
                    r8[i] += (
                        (_nz(src[t, b, i]) + _nz(src[t, b + U(1), i]))
                        + (_nz(src[t, b + U(2), i]) + _nz(src[t, b + U(3), i]))
                    ) + (
                        (_nz(src[t, b + U(4), i]) + _nz(src[t, b + U(5), i]))
                        + (_nz(src[t, b + U(6), i]) + _nz(src[t, b + U(7), i]))
                    )
            for i in range(U(n)):
                row[i] += np.int32(r8[i])
        for b in range(whole, U(batch)):
            for i in range(U(n)):
                row[i] += np.int32(src[t, b, i] != 0)
        for j in range(U(w.shape[0])):
            acc = np.int32(0)
            for i in range(U(n)):
                acc = np.int32(acc + row[i] * np.int32(w[j, i]))
            out[t, j] = acc
    # the counters, a pass over the steps per target (unsigned indices: no negative-index
    # wrap per access; per step, the three loads and wraps cost more than the sums)
    for m in range(to.shape[0]):
        kind, core, col = np.uint64(to[m, 0]), np.uint64(to[m, 1]), np.uint64(to[m, 2])
        for t in range(steps):
            block[kind, t, core] += out[t, col]
    for j in range(w.shape[0]):  # each column over all steps
        s = np.int64(0)
        for t in range(steps):
            s += out[t, j]
        total[j] += s


_dots: Any = None


def column_dots(
    src: np.ndarray,
    w: np.ndarray,
    out: np.ndarray,
    to: np.ndarray | None = None,
    block: np.ndarray | None = None,
    top: int | None = None,
    packed: np.ndarray | None = None,
) -> np.ndarray:
    """A series' events through a few table columns, every step: out (T, >= u) int32 gets
    the batch sum of (src (T, batch, n) uint8 != 0) @ w.T (w: (u, n) int16 with
    batch * n * max|w| < 2^31 and batch < 2^15: exact), compiled; with `to` (m, 3) and
    `block` (kinds, T, cores) int64, each step's column to[m, 2] is added to counter
    block[to[m, 0], :, to[m, 1]] too. Returns each column's sum over all steps, (out's
    width,) int64. The columns are a routing table's distinct ones (`counting._Columns`),
    each summed once however many counters share it. `top`: max|w|, where known. `packed`:
    w's two columns as one (`pack_columns`, (1, n) int32), where they pack: one sample's
    pass sums both at once (several samples' passes leave it unread)."""
    global _dots
    if _dots is None:
        _dots = noalias_kernel(_column_dots_py)
    assert src.dtype == np.uint8 and w.dtype == np.int16 and out.dtype == np.int32
    assert out.shape[0] == src.shape[0] and out.shape[1] >= w.shape[0]
    if top is None:
        top = int(np.abs(w).max()) if w.size else 0
    assert src.shape[1] < 1 << 15 and src.shape[1] * src.shape[2] * top < 1 << 31, "overflow"
    if to is None or block is None:
        to, block = np.zeros((0, 3), np.int64), np.zeros((0, 0, 0), np.int64)
    if packed is None or src.shape[1] != 1:
        packed = _NOT_PACKED
    else:
        assert packed.shape == (1, w.shape[1]) and w.shape[0] == 2, "two columns packed"
    total = np.zeros(out.shape[1], np.int64)
    src = src if src.flags.c_contiguous else np.ascontiguousarray(src)
    w = w if w.flags.c_contiguous else np.ascontiguousarray(w)
    _dots(src, w, packed, out, to, block, total)
    return total


def _scatter_runs_py(  # noqa: C901 - one compiled loop
    src: np.ndarray,
    w: np.ndarray,
    at: np.ndarray,
    bounds: np.ndarray,
    core: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    out: np.ndarray,
    total: np.ndarray,
    last: np.ndarray,
    events: bool,
) -> None:
    """`scatter` for one sample's 0/1 events src (T, 1, n) uint8 of a population whose
    counters at its own core are weighted sums over runs of neurons on one core: per step
    and run r, out[t, at[q] + core[r]] += sum over the run of (src != 0) * w[q] (int16
    weights, int32 sums: dense, vectorised, no chain of additions into one counter); the
    other counters (CSR rows, e.g. synaptic ops at the destination cores) event by event,
    and, with `events`, each neuron's events over all steps (total) and in the last."""
    steps, n = src.shape[0], src.shape[2]
    idx = np.zeros(n, np.int64)
    rest = indptr[n] > 0
    for t in range(steps):
        for r in range(core.shape[0]):
            lo, hi = np.uint64(bounds[r]), np.uint64(bounds[r + 1])
            for q in range(w.shape[0]):
                acc = np.int32(0)
                for i in range(lo, hi):
                    acc += np.int32(np.int16(src[t, 0, i] != 0) * w[q, i])
                out[t, at[q] + core[r]] += acc
        if not (rest or events):
            continue
        k = 0
        for i in range(n):  # the non-zero entries, found without a branch
            idx[k] = i
            k += src[t, 0, i] != 0
        for j in range(k):
            i = idx[j]
            total[i] += 1
            for e in range(indptr[i], indptr[i + 1]):
                out[t, indices[e]] += data[e]
        if t == steps - 1:
            for j in range(k):
                last[idx[j]] = 1


_runs_scatter: Any = None


def scatter_runs(
    src: np.ndarray,
    own: tuple[np.ndarray, ...],
    rest: Any,
    out: np.ndarray,
    events: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """out (T, k) int64 += one sample's events src (T, 1, n) uint8 through a population's
    table split in two (`counting._OwnRuns`): `own` = (w (q, n) int16, at (q,), bounds
    (r + 1,), core (r,)), the counters at the sending core, summed densely run by run, and
    `rest` (CSR n x k, int64), the others, event by event; returns each neuron's events over
    all steps and in the last (zeros unless `events`)."""
    global _runs_scatter
    if _runs_scatter is None:
        _runs_scatter = numba.njit(cache=True, nogil=True)(_scatter_runs_py)
    assert src.dtype == np.uint8 and src.shape[1] == 1
    n = src.shape[2]
    total, last = np.zeros(n, np.int64), np.zeros(n, np.int64)
    _runs_scatter(
        np.ascontiguousarray(src), *own, rest.indptr, rest.indices, rest.data, out, total, last,
        events,
    )  # fmt: skip
    return total, last
