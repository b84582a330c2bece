"""Counting by bytes in words where every column is constant (`neurocomp.backends.columns`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurocomp.backends import columns, jit

pytestmark = pytest.mark.skipif(not jit.AVAILABLE, reason="compiled counting needs numba")


def test_uniform_finds_columns_constant_over_the_neurons_only() -> None:
    cols = np.array([[1, 1, 1], [7, 7, 7]], np.int64)
    np.testing.assert_array_equal(columns.uniform(cols), [1, 7])
    assert columns.uniform(np.array([[1, 1, 2]], np.int64)) is None
    assert columns.uniform(np.zeros((1, 0), np.int64)) is None


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 40),  # steps
    st.integers(1, 9),  # batch
    st.integers(1, 300),  # neurons: rows of whole words, across words, short, long
    st.booleans(),  # binary (0/1) or graded (any non-zero byte is one event)
    st.integers(0, 2**32 - 1),
)
def test_uniform_dots_equal_the_batch_summed_events_times_each_value(
    steps, batch, n, binary, seed
) -> None:
    """Each step's non-zero entries over the batch times each column's value, added to the
    targets' counters, and each column's total over the steps: as numpy computes them."""
    rng = np.random.default_rng(seed)
    src = (rng.random((steps, batch, n)) < rng.random()).astype(np.uint8)
    if not binary:
        src *= rng.integers(1, 256, src.shape).astype(np.uint8)  # bytes with any bits set
    coef = rng.integers(-9, 10, 3).astype(np.int64)
    to = np.array([[0, 1, 0], [1, 0, 2], [1, 1, 2], [0, 0, 3]], np.int64)  # 3: the zero column
    block = rng.integers(0, 5, (2, steps, 2)).astype(np.int64)
    before = block.copy()
    out = np.zeros((steps, 4), np.int32)
    total = columns.uniform_dots(src, coef, out, binary, to, block)
    events = (src != 0).sum(axis=(1, 2), dtype=np.int64)
    want = events[:, None] * coef[None, :]
    np.testing.assert_array_equal(out[:, :3], want)
    assert not out[:, 3].any()
    np.testing.assert_array_equal(total[:3], want.sum(axis=0))
    expected = before.copy()
    for kind, core, col in to:
        expected[kind, :, core] += want[:, col] if col < 3 else 0
    np.testing.assert_array_equal(block, expected)


def test_uniform_dots_equal_column_dots_on_a_misaligned_slice() -> None:
    """A series that starts off an eight-byte boundary (a slice of a larger array) and a
    graded one with high bits only: the same counts as the dot products."""
    rng = np.random.default_rng(5)
    big = (rng.random((30, 4, 61)) < 0.4).astype(np.uint8) * 128
    src = big[:, 1:]  # neither contiguous nor aligned
    w = np.array([[1] * 61, [4] * 61], np.int16)
    want = np.zeros((30, 3), np.int32)
    jit.column_dots(src, w, want)
    got = np.zeros((30, 3), np.int32)
    columns.uniform_dots(src, np.array([1, 4], np.int64), got, False)
    np.testing.assert_array_equal(got, want)


def test_one_samples_columns_summed_in_the_scan_equal_the_numpy_counting(monkeypatch) -> None:
    """digits on loihi2, one sample: each population's spikes through its table's distinct
    columns (a spike counter's ones, a fan-out that varies where quantization zeroed
    weights) summed by the compiled scan as it fires (`Counter.scan_columns`; the output
    layer's spikes, its only counter, added by its scan per step and core), and the
    input's events summed pattern by pattern as the hidden layer's scan reads them
    (`Counter.source_columns`, the one step its delay leaves unread counted after the loop), two
    columns packed in one int32 where they fit (`jit.pack_columns`), give every count of
    the numpy path, per step and core and per layer."""
    import neurocomp as nc
    from neurocomp.backends import counting
    from neurocomp.backends.bit_accurate import run

    from conftest import EXAMPLES

    net = nc.load(EXAMPLES / "digits" / "digits.nir", dt=1e-4)  # its export's dt
    prog = nc.compile(net, target="loihi2")
    x = np.load(EXAMPLES / "digits" / "digits_test.npz")["x"][:, 3:4]
    used = []
    scan_columns, source_columns = counting.Counter.scan_columns, counting.Counter.source_columns

    def spy(self, pop, batch):
        cols = scan_columns(self, pop, batch)
        used.append((pop.name, None if cols is None else (cols.w.shape[0], cols.for_scan()[1])))
        return cols

    def spy_source(self, name, src):
        found = source_columns(self, name, src)
        packed = None if found is None else found[1]
        used.append((name, None if found is None else (self.columns_of(name).w.shape[0], packed)))
        return found

    monkeypatch.setattr(counting.Counter, "scan_columns", spy)
    monkeypatch.setattr(counting.Counter, "source_columns", spy_source)
    compiled = run(prog.net, x, prog.target.format, mapping=prog.mapping).counts
    # the hidden layer's spikes and the input's events summed in the scans, two columns packed
    # in one; the output layer's, its only counter, added per step by its scan (`run_spikes`)
    assert {("lif1", (2, True)), ("input", (2, True))} <= set(used)
    assert "lif2" not in {name for name, _ in used}
    monkeypatch.setattr(jit, "AVAILABLE", False)
    plain = run(prog.net, x, prog.target.format, mapping=prog.mapping).counts
    assert compiled is not None and plain is not None
    for kind in plain.per_core:
        np.testing.assert_array_equal(compiled.per_core[kind], plain.per_core[kind], str(kind))
    assert compiled.per_layer == plain.per_layer


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.integers(0, 2**32 - 1))
def test_packed_columns_sum_to_both_columns_sums_or_are_refused(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    w = np.stack([rng.integers(0, 300, n), rng.integers(0, 300, n)])
    fire = rng.integers(0, 2, n).astype(np.int32)
    packed = jit.pack_columns(w)
    if w[0].sum() >= 1 << 16 or w[1].sum() >= 1 << 15:
        assert packed is None
        return
    assert packed is not None and packed.dtype == np.int32 and packed.shape == (1, n)
    k = np.int32(0)
    for i in range(n):  # the scan's int32 accumulation: no wrap anywhere on the way
        k = np.int32(k + (packed[0, i] & -fire[i]))
    assert int(k & ((1 << 16) - 1)) == int(fire @ w[0])
    assert int(k >> 16) == int(fire @ w[1])


def test_packing_refuses_negative_entries_and_other_widths() -> None:
    assert jit.pack_columns(np.array([[1, -1], [2, 2]])) is None
    assert jit.pack_columns(np.ones((1, 4), np.int64)) is None
    assert jit.pack_columns(np.ones((3, 4), np.int64)) is None
