"""Counting one sample's events by segments of a routing table
(`neurocomp.backends.segments`): the same integers as `jit.scatter`'s CSR rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from neurocomp.backends import jit, segments

pytestmark = pytest.mark.skipif(not jit.AVAILABLE, reason="compiled counting needs numba")


def _table(rng: np.random.Generator, n: int, k: int, per_row: int, top: int) -> sparse.csr_matrix:
    rows, cols = [], []
    for i in range(n):
        c = rng.choice(k, size=min(rng.integers(0, per_row + 1), k), replace=False)
        rows += [i] * c.size
        cols += list(c)
    data = rng.integers(1, top + 1, len(rows))
    table = sparse.csr_matrix((data, (rows, cols)), shape=(n, k), dtype=np.int64)
    table.sort_indices()
    return table


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 30),  # steps
    st.integers(1, 200),  # neurons
    st.integers(1, 60),  # counters
    st.integers(0, 16),  # entries per row, at most
    st.sampled_from([1, 3, 255, 60000]),  # the largest entry (60000: a field holds one)
    st.booleans(),  # 0/1 events or any non-zero byte (one event each)
    st.integers(0, 2**32 - 1),
)
def test_segments_count_what_the_csr_rows_count(steps, n, k, per_row, top, graded, seed) -> None:
    """Per step and counter: equal to `jit.scatter` (one event per non-zero entry) on the
    same table and series (entries up to a 16-bit field, over many events: the fields are
    unpacked in time)."""
    rng = np.random.default_rng(seed)
    table = _table(rng, n, k, per_row, top)
    src = (rng.random((steps, 1, n)) < rng.random()).astype(np.uint8)
    if graded:
        src *= rng.integers(1, 256, src.shape).astype(np.uint8)
    seg = segments.Segments.of(table)
    assert seg is not None
    assert (seg.width <= segments.LANES).all() and seg.start[-1] == n
    base = rng.integers(0, 9, (steps, k)).astype(np.int64)
    got, want = base.copy(), base.copy()
    segments.scatter_segments(src, seg, got)
    jit.scatter(src, table, want, ones=True)
    np.testing.assert_array_equal(got, want)


def test_a_segment_holds_consecutive_neurons_with_at_most_sixteen_counters() -> None:
    """Neurons 0-9 reach counters 0-9 (one each), 10-19 counters 10-29 (two each): the
    first segment takes neurons up to its sixteenth counter, the next starts there."""
    rows = [*range(10), *np.repeat(np.arange(10, 20), 2)]
    cols = [*range(10), *range(10, 30)]
    table = sparse.csr_matrix((np.ones(30, np.int64), (rows, cols)), shape=(20, 30))
    seg = segments.Segments.of(table)
    assert seg is not None
    np.testing.assert_array_equal(seg.start, [0, 13, 20])
    np.testing.assert_array_equal(seg.width, [16, 14])
    np.testing.assert_array_equal(seg.cols[0], np.arange(16))
    np.testing.assert_array_equal(seg.cols[1, :14], np.arange(16, 30))
    assert (seg.cols[1, 14:] == -1).all()


def test_tables_that_do_not_fit_are_refused() -> None:
    wide = sparse.csr_matrix(np.ones((2, 17), np.int64))  # a row with 17 counters
    assert segments.Segments.of(wide) is None
    negative = sparse.csr_matrix(np.array([[1, -1]], np.int64))
    assert segments.Segments.of(negative) is None
    big = sparse.csr_matrix(np.array([[70000]], np.int64))  # over a 16-bit field
    assert segments.Segments.of(big) is None


def test_a_mapped_stream_is_counted_by_segments_as_numpy_counts_it() -> None:
    """digits on cores of 40 neurons, every table taken as large: at one sample its input
    and hidden layer are counted by segments; at one and three, its output layer (no routing
    table) by each core's spikes in its scan. Every count per step and core equals the
    numpy path's."""
    from neurocomp.backends import counting

    from conftest import EXAMPLES, digits_spread

    prog = digits_spread(40, tiles_x=2, tiles_y=2, cores_per_tile=2, chips=2)
    xs = np.load(EXAMPLES / "digits" / "digits_test.npz")["x"][:, :3].astype(np.uint8)
    limit = jit._DENSE_SCATTER
    for x in (xs[:, :1], xs):
        counting._COUNTERS.clear()
        try:
            jit._DENSE_SCATTER = 0
            got = prog.run(x).counts
            used = [k for k, s in counting._COUNTERS[0][2]._segments_of.items() if s is not None]
            jit.AVAILABLE = False
            want = prog.run(x).counts
        finally:
            jit.AVAILABLE = True
            jit._DENSE_SCATTER = limit
            counting._COUNTERS.clear()
        assert got is not None and want is not None
        assert len(used) == (2 if x.shape[1] == 1 else 0), used  # the input, the hidden layer
        for kind in want.per_core:
            np.testing.assert_array_equal(got.per_core[kind], want.per_core[kind], err_msg=kind)
        assert got.per_layer == want.per_layer
        assert got.input_spikes == want.input_spikes
