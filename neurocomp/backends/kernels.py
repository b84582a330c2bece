"""Synaptic sums of integer programs through float kernels, bit-exact.

A sum of integers is exact in floating point when every partial sum is an integer the format
holds exactly: below 2**24 in float32, 2**53 in float64. Whatever order a BLAS kernel adds in,
each partial sum of post neuron i is bounded by sum_j |w_ij| * max|payload|, so when that bound
(per projection, from its integer weights and the largest value its source can send) is below
the limit, the float result converted back to int64 is the integer sum. When it is not, the sum
runs in exact int64 kernels.

Three kernels compute S W^T for a block of source rows S (time steps x batch, pre):

- ``dense``: one BLAS matrix product with a dense copy of the weights (only kept where the dense
  copy is small);
- ``events_dense``: event-driven, the non-zero entries of S times the rows of the dense W^T;
- ``events_sparse``: event-driven, the non-zero entries of S times the rows of CSR W^T (the
  work is the synapses of the sources that sent something);
- ``gather``: the same in one compiled pass (numba, where installed: `jit.gather`);
- ``sparse_rows``: every synapse once for all rows at a time, W (CSC, the transpose of the
  stored W^T, no copy) times S^T: each synapse's weight streams once per call, not once per
  row, so it beats the event kernels once many sources are active in most rows.

The cheapest is chosen per call from its operation count and rates measured once per process
(`rates`), so the choice follows the spike rate. Every kernel gives the same integers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse

from ..env import env_int
from . import jit

__all__ = [
    "EXACT_LIMIT",
    "ProjectionKernel",
    "Rates",
    "rates",
    "sum_bound",
]

EXACT_LIMIT: dict[str, int] = {"float32": 1 << 24, "float64": 1 << 53}
"""Integers below these magnitudes are exact, and so are their sums while they stay below."""

DENSE_MAX_ELEMENTS = 1 << 24  # a dense copy above this (64 MiB in float32) is never made
DENSE_MAX_FILL = 8  # ... nor one more than 8x the CSR entries (it would waste memory)


@dataclass(frozen=True)
class Rates:
    """Measured throughputs (operations per second) of the three kernels on this machine."""

    dense: float  # multiply-adds per second, BLAS matrix product
    events_dense: float  # (event x post) multiply-adds per second
    events_sparse: float  # (event x synapse) multiply-adds per second
    gather: float  # the same, compiled (`jit.gather`; 0 without numba)
    sparse_rows: float  # (synapse x row) multiply-adds per second, W S^T with W sparse
    scan: float  # source entries scanned per second (finding the events)


def _best(fn: object, repeat: int = 5) -> float:
    """Least wall time of `repeat` calls: the least disturbed by a shared machine (CPU time
    would count a multithreaded BLAS's spinning threads and misprice the dense kernel)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t)
    return max(best, 1e-7)


@lru_cache(maxsize=1)
def rates() -> Rates:
    """Measure each kernel once per process, whole call included (conversions, CSR building),
    on a fixed spike block (about 50 ms)."""
    rng = np.random.default_rng(0)
    rows, pre, post = 2048, 256, 256
    w = (rng.random((post, pre)) < 0.25) * rng.integers(-8, 8, (post, pre))
    kernel = ProjectionKernel(sparse.csr_matrix(w), 1)
    s = (rng.random((rows, pre)) < 0.05).astype(np.uint8)
    events = int(np.count_nonzero(s))
    syn = int(kernel.fanout[np.nonzero(s)[1]].sum())
    t_scan = _best(lambda: np.count_nonzero(s))
    return Rates(
        dense=rows * pre * post / _best(lambda: kernel(s, "dense")),
        events_dense=events * post / _best(lambda: kernel(s, "events_dense")),
        events_sparse=max(syn, 1) / _best(lambda: kernel(s, "events_sparse")),
        gather=max(syn, 1) / _best(lambda: kernel(s, "gather")) if jit.AVAILABLE else 0.0,
        sparse_rows=rows * kernel.wt_csr.nnz / _best(lambda: kernel(s, "sparse_rows")),
        scan=rows * pre / t_scan,
    )


def _events(s: np.ndarray, dtype: type) -> sparse.csr_matrix:
    """The non-zero entries of a (rows, pre) block as CSR, without a COO round trip."""
    r, c = np.nonzero(s)
    indptr = np.zeros(s.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(r, minlength=s.shape[0]), out=indptr[1:])
    return sparse.csr_matrix((s[r, c].astype(dtype), c, indptr), shape=s.shape)


LUT_MAX_BYTES = env_int("NEUROCOMP_LUT_MAX_BYTES", 1 << 20)
# a pattern table up to this size (the digits hidden layer's, 64 x 128 int16: 512 KiB; it
# stays in this CPU's 1 MiB L2) replaces the search for events (measured on that layer at
# batch 397: 0.18-0.25 ms against 1.06 ms for the search and four-row adds)


def _pattern_table(wt: np.ndarray | sparse.csr_matrix) -> np.ndarray | bool:
    """`ProjectionKernel.lut` of fused weights W^T (pre, n); False where there is none."""
    if not isinstance(wt, np.ndarray):
        return False
    pre, n = wt.shape
    octets = -(-pre // 8)
    groups = -(-octets // 4) * 4
    lanes = 64 // wt.dtype.itemsize
    width = -(-n // lanes) * lanes
    if not pre or groups * 256 * width * wt.dtype.itemsize > LUT_MAX_BYTES:
        return False
    w = np.zeros((groups * 8, width), np.int64)
    w[:pre, :n] = wt
    return np.ascontiguousarray(pattern_sums(w), wt.dtype)


def pattern_sums(w: np.ndarray) -> np.ndarray:
    """Each group of eight rows of w (8 g, k) summed over every subset of them: (256 g, k),
    row 256 j + p the sum of group j's rows whose bits are set in p."""
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1  # (256, 8): pattern p's bits
    groups = w.shape[0] // 8
    return np.matmul(bits, w.reshape(groups, 8, -1)).reshape(groups * 256, -1)


def sum_bound(weight: sparse.csr_matrix, payload: int) -> int:
    """The largest |partial synaptic sum| a post neuron can see: max_i sum_j |w_ij| * payload
    (Python integers: no overflow)."""
    if weight.nnz == 0 or payload == 0:
        return 0
    rowabs = np.add.reduceat(np.abs(weight.data), weight.indptr[:-1][np.diff(weight.indptr) > 0])
    return int(rowabs.max()) * int(payload)


class ProjectionKernel:
    """S W^T for one projection's integer weights (post x pre CSR), in the narrowest exact
    arithmetic: float32, float64, or int64 where the bound fails (or `exact_integers`)."""

    def __init__(
        self, weight: sparse.csr_matrix, payload: int, *, exact_integers: bool = False
    ) -> None:
        self.bound = sum_bound(weight, payload)
        self.payload = payload
        self.dtype: type
        if not exact_integers and self.bound < EXACT_LIMIT["float32"]:
            self.dtype = np.float32
        elif not exact_integers and self.bound < EXACT_LIMIT["float64"]:
            self.dtype = np.float64
        else:
            self.dtype = np.int64
        self.pre, self.post = weight.shape[1], weight.shape[0]
        wt = weight.T.tocsr().astype(self.dtype)  # pre x post: a source's row of targets
        wt.sort_indices()
        self.wt_csr = wt
        self.fanout = np.diff(wt.indptr)
        elements = self.pre * self.post
        self.wt_dense: np.ndarray | None = None
        if elements <= DENSE_MAX_ELEMENTS and elements <= DENSE_MAX_FILL * max(weight.nnz, 1):
            self.wt_dense = wt.toarray()
        self.used: dict[str, int] = {}  # kernel name -> calls (what a run chose)
        self._fused: np.ndarray | sparse.csr_matrix | None = None
        self._lut: np.ndarray | bool | None = None  # False: none (`lut`)

    def fused_weights(self) -> np.ndarray | sparse.csr_matrix:
        """W^T (pre x post) for the fused scan (`jit.Synapses`): dense where a dense copy is
        kept, else CSR; in the narrowest of int16, int32 and int64 in which the bound proves
        every partial sum fits (exact; int16 adds twice the lanes of int32 per instruction)."""
        if self._fused is None:
            dtype = next(t for t in (np.int16, np.int32, np.int64) if self.bound <= np.iinfo(t).max)
            if self.wt_dense is not None:
                self._fused = np.ascontiguousarray(self.wt_dense, dtype)
            else:
                self._fused = self.wt_csr.astype(dtype)
        return self._fused

    def lut(self) -> np.ndarray | None:
        """For binary sources (0/1): W^T's sums over every pattern of each eight consecutive
        sources, (groups * 256, width) in the fused weights' type, row 256 g + p the sum of the
        rows 8 g + q of W^T for the bits q of p (groups padded to a multiple of four with zero
        rows, width to whole 64-byte lines); exact, since each sum is a subset of a post
        neuron's synapses (at most the bound). None where only CSR rows are kept or the table
        would pass `LUT_MAX_BYTES`. Made once per kernel."""
        if self._lut is None:
            self._lut = _pattern_table(self.fused_weights())
        return self._lut if isinstance(self._lut, np.ndarray) else None

    @property
    def arithmetic(self) -> str:
        return np.dtype(self.dtype).name

    def choose(self, s: np.ndarray) -> str:
        """The kernel with the least estimated time for this block of source rows."""
        r = rates()
        rows = s.shape[0]
        nz = np.nonzero(s.reshape(rows, -1).any(axis=0))[0]
        # estimate the events from the active sources (cheap), not by counting every entry
        scan = rows * self.pre / r.scan
        active_rows = int(np.count_nonzero(s)) if nz.size else 0
        synapses = active_rows * (float(self.fanout[nz].mean()) if nz.size else 0.0)
        cost = {
            "events_sparse": scan + synapses / r.events_sparse,
            "sparse_rows": rows * self.wt_csr.nnz / r.sparse_rows,
        }
        if jit.AVAILABLE and r.gather:
            cost["gather"] = scan + synapses / r.gather
        if self.wt_dense is not None:
            cost["dense"] = rows * self.pre * self.post / r.dense
            cost["events_dense"] = scan + active_rows * self.post / r.events_dense
        if self.dtype is np.int64 and self.wt_dense is not None:
            cost["dense"] *= 8  # numpy's integer matrix product uses no BLAS
        return min(cost, key=lambda k: cost[k])

    def __call__(self, s: np.ndarray, kernel: str | None = None) -> np.ndarray:
        """The integer sums (rows, post) int64 for integer source values s (rows, pre)."""
        return self.raw(s, kernel).astype(np.int64, copy=False)

    def raw(
        self, s: np.ndarray, kernel: str | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The same sums in the kernel's own arithmetic (`dtype`: float32, float64 or int64),
        each entry an exact integer; written into `out` (rows, post) of that dtype if given."""
        rows = s.shape[0]
        if out is None:
            out = np.empty((rows, self.post), self.dtype)
        if rows == 0 or self.wt_csr.nnz == 0:
            out[...] = 0
            return out
        name = kernel or self.choose(s)
        self.used[name] = self.used.get(name, 0) + 1
        if name == "dense":
            assert self.wt_dense is not None
            np.matmul(s.astype(self.dtype, copy=False), self.wt_dense, out=out)
        elif name == "events_dense":
            assert self.wt_dense is not None
            out[...] = _events(s, self.dtype) @ self.wt_dense
        elif name == "gather":
            out[...] = 0
            jit.gather(_events(s, self.dtype), self.wt_csr, out)
        elif name == "sparse_rows":  # (post x pre CSC) @ (pre x rows): one pass over W
            st: np.ndarray = np.ascontiguousarray(s.T, dtype=self.dtype)
            out[...] = (self.wt_csr.T @ st).T
        else:
            out[...] = (_events(s, self.dtype) @ self.wt_csr).toarray()
        return out
