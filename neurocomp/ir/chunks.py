"""Per-synapse passes over large layers in runs of whole rows of a compressed sparse matrix
(about `size` entries each), so that their temporaries stay a few MB however large the layer:
the allocator reuses them instead of touching fresh pages (docs/targets.md#mapping). One
definition for the passes, lowering and mapping rooms."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

SCAN_CHUNK = 1 << 20  # entries per boolean temporary in `any_equal` / `any_unequal`


def row_runs(indptr: np.ndarray, size: int) -> list[tuple[int, int]]:
    """(first, stop) rows (or columns of a CSC matrix) in runs of about `size` entries; a single
    row may hold more."""
    nnz = int(indptr[-1])
    starts = np.searchsorted(indptr, np.arange(0, nnz, size), side="right") - 1
    bounds = [*dict.fromkeys(int(r) for r in starts), len(indptr) - 1]
    return list(zip(bounds[:-1], bounds[1:], strict=False))


def scale_runs(
    indptr: np.ndarray, scale: np.ndarray, size: int
) -> Iterator[tuple[int, int, float | np.ndarray]]:
    """(lo, hi, scale) over the entries of a CSR matrix in runs of about `size`: each entry's
    row scale (an array), or the layer's one scale as a number (the same quotients, and no
    per-synapse array)."""
    nnz = int(indptr[-1])
    if scale.size and not np.any(scale != scale.flat[0]):
        one = float(scale.flat[0])
        for lo in range(0, nnz, size):
            yield lo, min(nnz, lo + size), one
        return
    for r0, r1 in row_runs(indptr, size):
        lo, hi = int(indptr[r0]), int(indptr[r1])
        yield lo, hi, np.repeat(scale[r0:r1], np.diff(indptr[r0 : r1 + 1]))


def any_equal(a: np.ndarray, value: int) -> bool:
    """Whether any entry of `a` equals `value`, SCAN_CHUNK entries at a time (no whole-array
    boolean temporary)."""
    return any(bool(np.any(a[i : i + SCAN_CHUNK] == value)) for i in range(0, a.size, SCAN_CHUNK))


def any_unequal(a: np.ndarray, value: int) -> bool:
    """Whether any entry of `a` differs from `value`, in chunks as `any_equal`."""
    return any(bool(np.any(a[i : i + SCAN_CHUNK] != value)) for i in range(0, a.size, SCAN_CHUNK))
