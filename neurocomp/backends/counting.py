"""Counting a bit-accurate run's events against a mapping: per step and core, spikes, synaptic
operations (at the receiving core), neuron updates, spike messages within and between tiles
with their router hops, and messages between chips (`EventCounts`).

The routing tables (which cores each neuron's spike reaches, and the hops on the way) are built
once per (network, mapping) and reused across runs (`counter`). Where numba is installed the
counts are taken from each source's series in compiled passes (`jit`); otherwise from per-step
batch sums and sparse table products.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..ir.integer import IntNetwork, IntPopulation, IntProjection
from ..mapping import Mapping
from . import columns, jit, segments
from .events import COUNTERS, MESSAGE_KINDS, EventCounts, EventKind
from .kernels import pattern_sums
from .segments import Segments


def graded_inputs(
    xs: dict[str, np.ndarray], extremes: dict[str, tuple[int, int]] | None = None
) -> frozenset[str]:
    """The inputs whose spikes are graded (a value above 1): their messages carry a payload,
    on the chip and in Lava; `extremes`: each input's (min, max), where known (`_extremes`)."""
    if extremes is not None:
        return frozenset(k for k, a in xs.items() if a.size and extremes[k][1] > 1)
    return frozenset(k for k, a in xs.items() if a.size and a.max() > 1)


_FANOUT: weakref.WeakKeyDictionary[IntProjection, np.ndarray] = weakref.WeakKeyDictionary()


def fanout(pr: IntProjection) -> np.ndarray:
    """Each source neuron's synapses in `pr` (explicit zeros included), kept with the
    (immutable) projection: a CSC conversion of a large projection costs more than a run."""
    if pr not in _FANOUT:
        _FANOUT[pr] = np.diff(pr.weight.tocsc().indptr)
    return _FANOUT[pr]


def _per_core(
    table: sparse.csc_matrix, sent: np.ndarray, dense: np.ndarray | None = None
) -> np.ndarray:
    """sent (T, neurons) @ table (neurons, k), int64: a float64 BLAS product where the table is
    small (`dense`, its float64 copy, if already made; counts are integers far below 2**53:
    exact), a sparse one otherwise."""
    if table.shape[0] * table.shape[1] <= _DENSE_TABLE:
        if dense is None:
            dense = table.toarray().astype(np.float64)
        return np.rint(sent.astype(np.float64, copy=False) @ dense).astype(np.int64)
    out = np.asarray(table.T @ np.ascontiguousarray(sent.T)).T
    return np.rint(out).astype(np.int64) if out.dtype.kind == "f" else out


_DENSE_TABLE = 1 << 20
_UINT8 = np.dtype(np.uint8)  # (a dtype compared with a dtype: faster than with its type)


def _onehot(own: np.ndarray, n_cores: int, values: np.ndarray | None = None) -> sparse.csr_matrix:
    """(neurons x cores): each neuron's value (1 by default) at its own core."""
    n = own.size
    data = np.ones(n, np.int64) if values is None else np.asarray(values, np.int64)
    return sparse.csr_matrix((data, own, np.arange(n + 1)), shape=(n, n_cores))


@dataclass(frozen=True)
class _Columns:
    """A small routing table's distinct non-zero columns (a mapped network's repeat: a spike
    counter and a message counter on one core are the same column of ones), with each
    projection's fan-out and a column of ones, for `jit.column_dots`."""

    w: np.ndarray  # (u, n) int16: the distinct columns, transposed
    table: np.ndarray  # (k,): each table column's row of w (u: an all-zero column)
    fanout: dict[str, int]  # projection -> its fan-out's row of w
    ones: int  # the row of ones (-1: none, a population's table)
    top: int  # the largest |entry|
    # each row's value where every row is constant over the neurons (`columns.uniform`:
    # counted by bytes in words, not dot products), else None
    uniform: np.ndarray | None = None

    @classmethod
    def of(
        cls, table: sparse.csr_matrix, fanouts: dict[str, np.ndarray], ones: bool
    ) -> _Columns | None:
        """For a source's table (n x k), its projections' fan-outs, and (`ones`: an input,
        whose events are counted) a column of ones."""
        n, k = table.shape
        if not n or n * k > jit._DENSE_SCATTER:
            return None
        rows = np.vstack(
            [table.T.toarray(), *(np.asarray(f) for f in fanouts.values()), np.ones((int(ones), n))]
        ).astype(np.int64)
        nonzero = rows.any(axis=1)
        distinct, inverse = np.unique(rows[nonzero], axis=0, return_inverse=True)
        top = int(np.abs(distinct).max())
        if top >= 1 << 15:  # int16 entries
            return None
        at = np.full(rows.shape[0], distinct.shape[0], np.int64)
        at[nonzero] = inverse.reshape(-1)
        fan = {pr: int(at[k + i]) for i, pr in enumerate(fanouts)}
        w = distinct.astype(np.int16)
        return cls(w, at[:k], fan, int(at[-1]) if ones else -1, top, columns.uniform(distinct))

    @functools.cached_property
    def w32(self) -> np.ndarray:
        """w in int32, as the compiled scan sums it (`Counter.scan_columns`)."""
        return np.ascontiguousarray(self.w, np.int32)

    @functools.cached_property
    def packed(self) -> np.ndarray | None:
        """Two columns as one (1, n) int32 (`jit.pack_columns`), where their sums fit; the
        scan then sums one column, not two."""
        return jit.pack_columns(self.w)

    def for_scan(self) -> tuple[np.ndarray, bool]:
        """The columns the compiled scan sums: packed where they fit, and whether they are."""
        return (self.w32, False) if self.packed is None else (self.packed, True)

    def targets(
        self, kinds: tuple[EventKind, ...], cores: int, rows: dict[EventKind, int]
    ) -> np.ndarray:
        """(m, 3): each non-zero table column's counter (its row in the counter's block,
        `rows`), core and row of w, for `jit.column_dots`."""
        zero = self.w.shape[0]
        k = np.flatnonzero(self.table != zero)
        kind = np.array([rows[kinds[i // cores]] for i in k], np.int64)
        return np.stack([kind, k % cores, self.table[k]], axis=1).astype(np.int64)

    def live(self, cores: int) -> list[int]:
        """The counters (blocks of `cores` table columns) with a non-zero column."""
        zero = self.w.shape[0]
        return [
            k
            for k in range(self.table.size // cores)
            if (self.table[k * cores : (k + 1) * cores] != zero).any()
        ]


@dataclass(frozen=True)
class _Plan:
    """How `Counter._fold_columns` spreads a source's column sums, worked out once per
    counter: its counter targets, its live counters, and the rows of its own counters
    (spikes, messages, hops: a population's per-layer totals)."""

    targets: np.ndarray  # (m, 3) `_Columns.targets`
    live: list[int]  # `_Columns.live`
    own: list[tuple[EventKind, list[int]]]  # a live own counter and its rows of w

    @classmethod
    def of(
        cls, cols: _Columns, kinds: tuple[EventKind, ...], cores: int, rows: dict[EventKind, int]
    ) -> _Plan:
        live = cols.live(cores)
        zero = cols.w.shape[0]
        own = [
            (kinds[k], [int(r) for r in cols.table[k * cores : (k + 1) * cores] if r != zero])
            for k in live
            if kinds[k] in Counter.FROM_POPULATION or kinds[k] is EventKind.SPIKES
        ]
        return cls(cols.targets(kinds, cores, rows), live, own)


@dataclass(frozen=True)
class _OwnRuns:
    """A population's routing table split for `jit.scatter_runs`: the counters at each
    neuron's own core (its spikes, messages and hops: one entry per neuron, at its core),
    as weights per neuron summed over the runs of neurons on one core, and the rest (synaptic
    ops at the destination cores) as CSR."""

    own: tuple[np.ndarray, ...]  # w (q, n) int16, at (q,), bounds (r + 1,), core (r,)
    rest: sparse.csr_matrix  # (n x k) int64
    events: bool  # each neuron's events wanted (its projections' synaptic-op totals)

    @classmethod
    def of(
        cls,
        table: sparse.csr_matrix,
        kinds: tuple[EventKind, ...],
        where: np.ndarray,
        cores: int,
        events: bool,
    ) -> _OwnRuns | None:
        n = table.shape[0]
        coo = table.tocoo()
        block = coo.col // max(cores, 1)
        own_kinds = [
            k for k, kind in enumerate(kinds)
            if kind is EventKind.SPIKES or kind in Counter.FROM_POPULATION
        ]  # fmt: skip
        is_own = np.isin(block, own_kinds)
        if not np.array_equal(coo.col[is_own] % cores, where[coo.row[is_own]]):
            return None  # not at the sending core: counted event by event
        w = np.zeros((len(kinds), n), np.int64)
        np.add.at(w, (block[is_own], coo.row[is_own]), coo.data[is_own])
        live = [k for k in own_kinds if w[k].any()]
        if live and int(np.abs(w[live]).max()) >= 1 << 15:
            return None  # int16 weights
        rest = sparse.csr_matrix(
            (coo.data[~is_own], (coo.row[~is_own], coo.col[~is_own])), shape=table.shape
        )
        rest.sort_indices()
        bounds, core = jit._runs(where)
        at = np.asarray(live, np.int64) * cores
        return cls((w[live].astype(np.int16), at, bounds, core), rest, events)


class Counter:
    """Event counting against a mapping, vectorised over every step at once: per source a
    (neurons x kinds*cores) table, so a run's counts are one sparse product per source."""

    # the kinds a source's table holds, after SYNOPS: a population's spike messages and hops,
    # counted at the sending core; an input's messages, counted at each core they arrive at
    FROM_POPULATION = (
        EventKind.MSGS_LOCAL,
        EventKind.MSGS_REMOTE,
        EventKind.HOPS_EW,
        EventKind.HOPS_NS,
        EventKind.MSGS_CHIP,
    )

    def __init__(self, net: IntNetwork, mapping: Mapping, steps: int, batch: int = 1) -> None:
        self.where: dict[str, np.ndarray] = mapping.neuron_core
        coords = mapping.coords
        self.n_cores = len(coords)
        ew, ns = mapping.pair_hops()  # indexed per traffic edge below, no cores x cores matrix
        tile = coords[:, 2]
        chip = mapping.core_chip if mapping.core_chip is not None else np.zeros(len(coords), int)
        self.tables: dict[str, sparse.csc_matrix] = {}
        self.kinds: dict[str, tuple[EventKind, ...]] = {}
        for src, d in mapping.destinations.items():
            blocks = [sparse.csr_matrix(d, dtype=np.int64)]
            if src in self.where:
                own = self.where[src]
                coo = (d > 0).tocoo()
                srcc = own[coo.row]
                n = d.shape[0]
                same_tile = tile[srcc] == tile[coo.col]  # per (neuron, destination core) pair
                for weights in (
                    same_tile,
                    ~same_tile,
                    ew[srcc, coo.col],
                    ns[srcc, coo.col],
                    chip[srcc] != chip[coo.col],
                ):
                    per_neuron = np.bincount(coo.row, weights, minlength=n).astype(np.int64)
                    blocks.append(_onehot(own, self.n_cores, per_neuron))
                self.kinds[src] = (EventKind.SYNOPS, *self.FROM_POPULATION)
            else:
                blocks.append(sparse.csr_matrix(d > 0, dtype=np.int64))
                self.kinds[src] = (EventKind.SYNOPS, EventKind.MSGS_INPUT)
            self.tables[src] = sparse.hstack(blocks, format="csc")
        self.onehot = {
            p.name: _onehot(self.where[p.name], self.n_cores).tocsc() for p in net.populations
        }
        # each kind some table can produce (a non-zero column), its row in `block`
        live = {EventKind.SPIKES, EventKind.UPDATES_ACTIVE, EventKind.UPDATES_IDLE}
        c = self.n_cores
        for src, table in self.tables.items():
            for k, kind in enumerate(self.kinds[src]):
                if table[:, k * c : (k + 1) * c].count_nonzero():
                    live.add(kind)
        self.rows = {kind: i for i, kind in enumerate(k for k in COUNTERS if k in live)}
        self._zero = np.zeros((0, self.n_cores), np.int64)  # `reset`: the dead kinds' zeros
        self._kind_rows = [(k, self.rows.get(k, -1)) for k in COUNTERS]  # `reset`'s views
        self._no_events = dict.fromkeys(COUNTERS, 0)  # `reset`: a layer's counts, copied
        self._zero.flags.writeable = False
        # the neurons per core, every population's: its updates not active are idle (`counts`)
        self._neurons = sum(
            (np.bincount(self.where[p.name], minlength=self.n_cores) for p in net.populations),
            np.zeros(self.n_cores, np.int64),
        )
        self.per_sample = self._per_sample_top()
        self.sizes = {p.name: p.size for p in net.populations}
        self.names = [p.name for p in net.populations]
        self.graded = frozenset(p.name for p in net.populations if p.graded)
        self._dense_tables: dict[str, np.ndarray] = {}
        self._scatter_tables: dict[str, tuple[sparse.csr_matrix, tuple[EventKind, ...]]] = {}
        self._event_static: dict[str, tuple[np.ndarray, ...]] = {}
        self._fanouts = {
            name: {pr.name: fanout(pr) for pr in net.projections if pr.pre == name}
            for name in (*net.inputs, *self.names)
        }
        self._columns: dict[str, _Columns | None] = {}
        self._runs_split: dict[str, _OwnRuns | None] = {}
        self._segments_of: dict[str, Segments | None] = {}  # `_segments`
        self._plans: dict[str, _Plan] = {}  # per source counted by `_fold_columns`
        self._patterns: dict[str, np.ndarray] = {}  # `source_columns`, per input
        self.reset(steps, batch)

    def _per_sample_top(self) -> int:
        """The largest count one sample can add to one counter at one core in one step:
        each source neuron sends at most one event a step (a graded spike or an input's
        value is one message, one synaptic op per synapse), so a counter's column sums over
        every table, and each core's neurons for spikes and updates."""
        top = np.zeros((len(COUNTERS), self.n_cores), np.int64)
        index = {k: i for i, k in enumerate(COUNTERS)}
        c = self.n_cores
        for src, table in self.tables.items():
            sums = np.asarray(abs(table).sum(axis=0), np.int64).reshape(-1)
            for k, kind in enumerate(self.kinds[src]):
                top[index[kind]] += sums[k * c : (k + 1) * c]
        for kind in (EventKind.SPIKES, EventKind.UPDATES_ACTIVE, EventKind.UPDATES_IDLE):
            top[index[kind]] += self._neurons
        return int(top.max(initial=0))

    def dtype(self, batch: int) -> np.dtype:
        """The counts' integer type for `batch` samples: int32 where every count per step
        and core provably fits (half the memory the counters take: a 10^4-step stream's
        block is written by every scan and pass), else int64."""
        return np.dtype(np.int32 if batch * self.per_sample < 1 << 31 else np.int64)

    def reset(self, steps: int, batch: int = 1) -> None:
        """Zero the counts, for a run of `steps` steps of `batch` samples."""
        # one block (live kinds, T, cores), which `jit.column_dots` adds into directly; the
        # kinds no table can produce (no hops on one tile) one read-only zero array
        dtype = self.dtype(batch)
        self.block = np.zeros((len(self.rows), steps, self.n_cores), dtype=dtype)
        zero = self._zero
        if zero.shape[0] != steps or zero.dtype != dtype:  # made once per steps and type
            zero = self._zero = np.zeros((steps, self.n_cores), dtype)
            zero.flags.writeable = False
        views = list(self.block)  # each live kind's (T, cores), in `rows` order
        self.per_core = {k: zero if i < 0 else views[i] for k, i in self._kind_rows}
        self.per_layer: dict[str, dict[EventKind, int]] = {
            name: self._no_events.copy() for name in self.names
        }
        self.input_spikes = 0
        # per projection, its synaptic ops over all steps and in the last, where a source was
        # counted by its distinct columns (`_columns`: no per-neuron totals then)
        self.fan_sums: dict[str, tuple[int, int]] = {}
        self.payload: dict[EventKind, np.ndarray] = {}  # made where a payload is sent (`_paid`)
        self.with_payload = set(self.graded)  # sources whose messages carry a payload

    def graded_inputs(
        self, xs: dict[str, np.ndarray], extremes: dict[str, tuple[int, int]] | None = None
    ) -> None:
        """Inputs with values above 1 send them as payloads (`graded_inputs`)."""
        if extremes is not None and all(hi <= 1 for _, hi in extremes.values()):
            return  # binary inputs (the common case: no set made per run)
        self.with_payload |= {k for k in graded_inputs(xs, extremes) if k not in self.where}

    def source(self, name: str, sent: np.ndarray) -> None:
        """Spikes (or values) a source sent, (T, neurons) summed over the batch."""
        if name not in self.where:
            self.input_spikes += int(sent.sum())
        table = self.tables.get(name)
        if table is None:
            return
        c = self.n_cores
        out = _per_core(table, sent, self._dense(name, table))  # (T, kinds * cores)
        for k, kind in enumerate(self.kinds[name]):
            self._add(name, kind, out[:, k * c : (k + 1) * c])

    def scatter(
        self, name: str, series: np.ndarray, ones: bool
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Every event of a source's series (T, batch, n) at once, compiled (`jit.scatter`):
        a population's spikes and, through its table, its messages, hops and synaptic ops
        (`ones`: one event per non-zero entry, as graded spikes are). Returns what each neuron
        sent over all steps and in the last; None where its projections' synaptic ops went
        to `fan_sums` instead (one sample: a small table, or a large one by segments)."""
        table, kinds = self._scatter_table(name, series.shape[2])
        cols = self.columns(name, series.shape[2], series.shape[1], series.dtype)
        if cols is not None and (ones or name in self.where):
            self._fold_columns(name, kinds, cols, series)
            return None
        one = series.shape[1] == 1 and series.dtype == np.uint8
        runs = self._own_runs(name, table, kinds) if one else None
        # only the sending core's counters and no neuron's totals wanted: a dense dot per
        # run (`scatter_runs`) beats finding the events; else segments, where they fit
        own_only = runs is not None and not (runs.rest.nnz or runs.events)
        seg = None if own_only or not one else self._segments(name, table, ones)
        if seg is not None:
            self._by_segments(name, kinds, seg, series)
            return None
        out = np.zeros((len(kinds) * self.n_cores, series.shape[0]), np.int64).T  # `_fold`
        if runs is not None:
            total, last = jit.scatter_runs(series, runs.own, runs.rest, out, runs.events)
        else:
            total, last = jit.scatter(series, table, out, ones, self._static(name, table))
        self._fold(name, kinds, out, int(total.sum()) if name not in self.where else 0)
        return total, last

    def columns(self, name: str, n: int, batch: int, dtype: np.dtype) -> _Columns | None:
        """Source `name`'s small table by its distinct non-zero columns, with each
        projection's fan-out and (an input) a column of ones beside them, made once per
        counter, for a uint8 series (an input's events, a binary population's spikes) of
        `batch` samples; None where the table is large or the sums do not fit int16 entries
        and int32 sums (`jit.column_dots`)."""
        if name not in self._columns:
            fanouts = self._fanouts.get(name, {})
            table = self._scatter_table(name, n)[0]
            self._columns[name] = _Columns.of(table, fanouts, ones=name not in self.where)
        cols = self._columns[name]
        if cols is None or dtype != _UINT8 or batch >= 1 << 15 or batch * n * cols.top >= 1 << 31:
            return None
        return cols

    def _segments(self, name: str, table: sparse.csr_matrix, ones: bool) -> Segments | None:
        """A source's large table by segments (`segments.Segments`), with a column per
        projection's fan-out and one of ones after its own (each event's synaptic ops and
        the event itself), made once per counter; None unless each event counts 1 (`ones`,
        or a binary population) and the table fits."""
        if not (ones or (name in self.where and name not in self.graded)):
            return None
        if name not in self._segments_of:
            n = table.shape[0]
            extra = [*self._fanouts.get(name, {}).values(), np.ones(n, np.int64)]
            wide = sparse.hstack(
                [table, sparse.csr_matrix(np.stack(extra, axis=1).astype(np.int64))],
                format="csr",
                dtype=np.int64,
            )
            wide.eliminate_zeros()
            self._segments_of[name] = Segments.of(wide)
        return self._segments_of[name]

    def _by_segments(
        self, name: str, kinds: tuple[EventKind, ...], seg: Segments, series: np.ndarray
    ) -> None:
        """One sample's series counted by segments (`_segments`): its counters, its
        projections' synaptic ops over all steps and in the last (`fan_sums`), and an
        input's events."""
        steps = series.shape[0]
        out = np.zeros((seg.k, steps), np.int64).T  # `_fold`: column-major
        segments.scatter_segments(series, seg, out)
        fans = self._fanouts.get(name, {})
        k = seg.k - len(fans) - 1  # the table's own columns
        for j, pr in enumerate(fans):
            f = out[:, k + j]
            self.fan_sums[pr] = (int(f.sum()), int(f[-1]) if steps else 0)
        self._fold(name, kinds, out[:, :k], int(out[:, -1].sum()))

    def _own_runs(
        self, name: str, table: sparse.csr_matrix, kinds: tuple[EventKind, ...]
    ) -> _OwnRuns | None:
        """A population's large table split for `jit.scatter_runs`, made once per counter."""
        if name not in self._runs_split:
            split = None
            if name in self.where:
                split = _OwnRuns.of(
                    table, kinds, self.where[name], self.n_cores, bool(self._fanouts.get(name))
                )
            self._runs_split[name] = split
        return self._runs_split[name]

    def _fold_columns(
        self, name: str, kinds: tuple[EventKind, ...], cols: _Columns, series: np.ndarray
    ) -> None:
        """One sample's series counted by its table's distinct columns: each column summed
        once per step (`columns.uniform_dots` where every column is constant over the
        neurons, else `jit.column_dots`), then spread to the table's counters."""
        plan = self._plan(name, kinds, cols)
        sums = np.zeros((series.shape[0], cols.w.shape[0] + 1), np.int32)  # last: zeros
        payload = name in self.with_payload  # graded: folded here, payloads beside the counts
        to, block = (None, None) if payload else (plan.targets, self.block)
        if cols.uniform is not None:
            every = columns.uniform_dots(series, cols.uniform, sums, not payload, to, block)
        else:
            every = jit.column_dots(series, cols.w, sums, to, block, cols.top, cols.packed)
        if payload:
            c = self.n_cores
            for k in plan.live:
                self._add(name, kinds[k], sums[:, cols.table[k * c : (k + 1) * c]])
        self._column_totals(name, cols, plan, sums[-1] if sums.size else None, every, payload)

    def scan_columns(self, pop: IntPopulation, batch: int) -> _Columns | None:
        """A binary population's table columns for the compiled scan to sum as it fires
        (`jit.scan`'s `columns`): one sample (several: batch-summed after the scan is
        cheaper), at most two distinct columns; None otherwise."""
        if batch != 1 or pop.graded or not pop.spiking:
            return None
        cols = self.columns(pop.name, pop.size, batch, np.dtype(np.uint8))
        return cols if cols is not None and cols.w.shape[0] <= 2 else None

    def source_columns(self, name: str, src: np.ndarray) -> tuple[np.ndarray, bool] | None:
        """For a fused scan in table mode reading input `name`'s binary series src (T, 1,
        pre) uint8: its table's one or two distinct columns (packed where they fit,
        `_Columns.for_scan`) summed over every pattern of eight sources, (octets * 256, u)
        int32, made once per counter, and whether they are packed; None at several samples
        or more columns."""
        steps, batch, pre = src.shape
        if batch != 1 or name in self.where:
            return None
        cols = self.columns(name, pre, batch, np.dtype(np.uint8))
        if cols is None or cols.w.shape[0] > 2:
            return None
        w_scan, packed = cols.for_scan()
        if name not in self._patterns:
            octets = -(-pre // 8)
            w = np.zeros((octets * 8, w_scan.shape[0]), np.int64)
            w[:pre] = w_scan.T
            self._patterns[name] = np.ascontiguousarray(pattern_sums(w), np.int32)
        return self._patterns[name], packed

    def columns_of(self, name: str) -> _Columns:
        """The distinct columns `columns` found for `name` (there are some)."""
        cols = self._columns.get(name)
        assert cols is not None, name
        return cols

    def take_columns(self, name: str, n: int, sums: np.ndarray) -> None:
        """The column sums (u, T) int32 a compiled scan made (`scan_columns`,
        `source_columns`) into the counters, as `_fold_columns` spreads its own (no row for
        the table's zero column: `_column_totals` reads it as zeros)."""
        kinds = self._scatter_table(name, n)[1]
        cols = self.columns_of(name)
        plan = self._plan(name, kinds, cols)
        every = columns.spread(sums, plan.targets, self.block)
        last = sums[:, -1] if sums.shape[1] else None
        self._column_totals(name, cols, plan, last, every, payload=False)

    def _plan(self, name: str, kinds: tuple[EventKind, ...], cols: _Columns) -> _Plan:
        if name not in self._plans:  # made once per counter
            self._plans[name] = _Plan.of(cols, kinds, self.n_cores, self.rows)
        return self._plans[name]

    def _column_totals(
        self,
        name: str,
        cols: _Columns,
        plan: _Plan,
        last: np.ndarray | None,
        every: np.ndarray,
        payload: bool,
    ) -> None:
        """A source's totals from its column sums over all steps (`every`) and in the last
        (None: no steps): a population's own counters per layer, an input's events, each
        projection's synaptic ops (a fan-out of zeros, the table's zero column, may have no
        row in them: 0)."""
        tot = every.tolist()  # Python ints: one conversion, not one per entry read
        if not payload and name in self.per_layer:
            layer = self.per_layer[name]
            for kind, rows in plan.own:
                layer[kind] += sum(tot[r] for r in rows)
        if cols.ones >= 0:
            self.input_spikes += tot[cols.ones]
        in_last = last.tolist() if last is not None else None
        for pr, j in cols.fanout.items():
            if j >= len(tot):
                self.fan_sums[pr] = (0, 0)
            else:
                self.fan_sums[pr] = (tot[j], in_last[j] if in_last is not None else 0)

    def take(self, name: str, events: jit.EventTable) -> tuple[np.ndarray, np.ndarray]:
        """`scatter`'s counts as the compiled scan left them (through `table`'s table, step
        by step, no second pass over the series)."""
        kinds = self._scatter_table(name, events.total.size)[1]
        sent = int(events.total.sum()) if name not in self.where else 0
        self._fold(name, kinds, events.out, sent)
        return events.total, events.last

    def event_table(self, name: str, n: int, steps: int) -> jit.EventTable:
        """Zeroed in-scan counts of a source through its routing table (n x kinds*cores, as
        `scatter` uses it); the table's arrays are made once per counter."""
        table = self._scatter_table(name, n)[0]
        return jit.EventTable.fresh(self._static(name, table), table.shape[1], steps)

    def _static(self, name: str, table: sparse.csr_matrix) -> tuple[np.ndarray, ...]:
        """A source's table arrays for the compiled counting, made once per counter."""
        if name not in self._event_static:
            self._event_static[name] = jit.EventTable.static(table)
        return self._event_static[name]

    def _fold(self, name: str, kinds: tuple[EventKind, ...], out: np.ndarray, events: int) -> None:
        """A source's counts (T, kinds * cores) into the per-core and per-population totals;
        `events`: an input's events (its spikes), else unused."""
        if name not in self.where:
            self.input_spikes += events
        c = self.n_cores
        for k, kind in enumerate(kinds):  # out is column-major: each kind's block contiguous
            self._add(name, kind, out[:, k * c : (k + 1) * c])

    def _add(self, name: str, kind: EventKind, part: np.ndarray) -> None:
        """One counter's block (T, cores) of source `name` (zeros where no table has that
        kind: nothing to add)."""
        if kind not in self.rows:
            return
        self.per_core[kind] += part
        if kind in MESSAGE_KINDS and name in self.with_payload:
            self._paid()[kind] += part
        layer = self.per_layer.get(name)
        if layer is not None and (kind in self.FROM_POPULATION or kind is EventKind.SPIKES):
            layer[kind] += int(part.sum())

    def _paid(self) -> dict[EventKind, np.ndarray]:
        """The message counters' payload parts, (T, cores) each, made at the first payload
        (a stream's block of them, untouched, cost its page faults: 25 us at 10^4 steps)."""
        if not self.payload:
            block = np.zeros((len(MESSAGE_KINDS), *self.block.shape[1:]), self.block.dtype)
            self.payload.update({k: block[i] for i, k in enumerate(MESSAGE_KINDS)})
        return self.payload

    def _scatter_table(self, name: str, n: int) -> tuple[sparse.csr_matrix, tuple[EventKind, ...]]:
        """A source's table for `scatter` (a population's with its own SPIKES block first)."""
        if name not in self._scatter_tables:
            blocks: list[sparse.csr_matrix] = []
            kinds: tuple[EventKind, ...] = ()
            if name in self.where:
                blocks.append(self.onehot[name])
                kinds = (EventKind.SPIKES,)
            if name in self.tables:
                blocks.append(self.tables[name])
                kinds = (*kinds, *self.kinds[name])
            table = (
                sparse.hstack(blocks, format="csr", dtype=np.int64)
                if blocks
                else sparse.csr_matrix((n, 0), dtype=np.int64)
            )
            table.eliminate_zeros()  # a neuron with no remote messages, say: no work
            table.sort_indices()
            self._scatter_tables[name] = (table, kinds)
        return self._scatter_tables[name]

    def spikes_only(self, pop: IntPopulation) -> bool:
        """Whether a population's only counter is its spikes at its own core (no routing
        table: its spikes reach no core), each one 0 or 1 (not graded): the compiled scan
        then adds them to `per_core` itself."""
        return pop.name not in self.tables and pop.name not in self.graded

    def spikes(self, pop: IntPopulation, spikes: np.ndarray) -> None:
        """A population's spikes (T, n), batch-summed."""
        onehot = self.onehot[pop.name]
        self.per_core[EventKind.SPIKES] += _per_core(
            onehot, spikes, self._dense(pop.name + "\0onehot", onehot)
        )
        self.per_layer[pop.name][EventKind.SPIKES] += int(spikes.sum())

    def population(self, pop: IntPopulation, spikes: np.ndarray | None, active: np.ndarray) -> None:
        """A population's active-neuron counts (T, n) and spikes (T, n), batch-summed
        (every update not active is idle: `counts`)."""
        onehot = self.onehot[pop.name]
        dense = self._dense(pop.name + "\0onehot", onehot)
        part = _per_core(onehot, active, dense)
        self.per_core[EventKind.UPDATES_ACTIVE] += part
        self.per_layer[pop.name][EventKind.UPDATES_ACTIVE] += int(active.sum())
        if spikes is not None:
            self.spikes(pop, spikes)

    def _dense(self, key: str, table: sparse.csc_matrix) -> np.ndarray | None:
        """The float64 copy of a small table, made once per counter (None: kept sparse)."""
        if table.shape[0] * table.shape[1] > _DENSE_TABLE:
            return None
        if key not in self._dense_tables:
            self._dense_tables[key] = table.toarray().astype(np.float64)
        return self._dense_tables[key]

    def counts(self, batch: int) -> EventCounts:
        """The run's counts, `batch` samples; every neuron update not counted active is idle
        (per step and core as the scans and `population` counted them: one pass here, not a
        store per step and core in each scan)."""
        active, idle = EventKind.UPDATES_ACTIVE, EventKind.UPDATES_IDLE
        steps = self.block.shape[1]
        np.subtract(batch * self._neurons, self.per_core[active], out=self.per_core[idle])
        for name, layer in self.per_layer.items():
            layer[idle] = batch * steps * self.sizes[name] - layer[active]
        return EventCounts(
            batch=batch,
            per_core=self.per_core,
            per_layer=self.per_layer,
            input_spikes=self.input_spikes,
            payload=self.payload,
        )


_COUNTERS: list[tuple[Mapping, IntNetwork, Counter]] = []  # the last few, built once each


def counter_for(net: IntNetwork, mapping: Mapping, steps: int, batch: int = 1) -> Counter:
    """A zeroed counter for (net, mapping), a run of `steps` steps of `batch` samples; its
    routing tables are reused across runs."""
    for m, n, c in _COUNTERS:
        if m is mapping and n is net:
            c.reset(steps, batch)
            return c
    c = Counter(net, mapping, steps, batch)
    _COUNTERS.insert(0, (mapping, net, c))
    del _COUNTERS[4:]
    return c
