"""Float kernels of the bit-accurate engine equal its exact int64 path, near the bound as well,
and fall back to int64 where the bound fails."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from neurocomp.backends import jit
from neurocomp.backends.bit_accurate import Semantics, run
from neurocomp.backends.events import EventKind
from neurocomp.backends.kernels import EXACT_LIMIT, ProjectionKernel, sum_bound
from neurocomp.ir.integer import IntNetwork, IntPopulation, IntProjection
from neurocomp.mapping import map_network

KERNELS = ("dense", "events_dense", "events_sparse", "sparse_rows") + (
    ("gather",) if jit.AVAILABLE else ()
)


def _weights(rng: np.random.Generator, post: int, pre: int, row_abs: int) -> np.ndarray:
    """Random sparse integer weights whose largest row |sum| is exactly row_abs."""
    w = rng.integers(-1000, 1001, (post, pre)) * (rng.random((post, pre)) < 0.6)
    w[0, 0] = w[0, 0] or 1
    scale = row_abs // max(int(np.abs(w).sum(axis=1).max()), 1)
    w = w * max(scale, 1)
    top = int(np.abs(w).sum(axis=1).argmax())
    j = int(np.flatnonzero(w[top])[0])
    w[top, j] += np.sign(w[top, j]) * (row_abs - int(np.abs(w[top]).sum()))
    return w


def _exact(w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """S W^T in Python integers."""
    return np.array(
        [[sum(int(a) * int(b) for a, b in zip(row, wr, strict=True)) for wr in w] for row in s],
        dtype=object,
    )


@pytest.mark.parametrize(
    ("row_abs", "arithmetic"),
    [
        (EXACT_LIMIT["float32"] - 1, "float32"),
        (EXACT_LIMIT["float32"], "float64"),
        (EXACT_LIMIT["float64"] - 1, "float64"),
        (EXACT_LIMIT["float64"], "int64"),
        (1 << 58, "int64"),
    ],
)
def test_bound_picks_the_narrowest_exact_arithmetic_and_every_kernel_is_exact(
    row_abs: int, arithmetic: str
) -> None:
    rng = np.random.default_rng(row_abs % 1000)
    w = _weights(rng, 6, 9, row_abs)
    assert sum_bound(sparse.csr_matrix(w), 1) == row_abs
    kernel = ProjectionKernel(sparse.csr_matrix(w), 1)
    assert kernel.arithmetic == arithmetic
    s = (rng.random((5, 9)) < 0.5).astype(np.uint8)
    s[0] = 1  # every source of the largest row at once: the bound reached
    want = _exact(w, s)
    for name in KERNELS:
        got = kernel(s, name)
        assert got.dtype == np.int64
        assert [[int(v) for v in r] for r in got] == want.tolist(), name


def test_float64_would_be_wrong_where_the_fallback_is_used() -> None:
    """The fallback is needed: past 2**53 a float64 product loses the low bits."""
    w = np.array([[(1 << 53) + 1, 1]])
    s = np.array([[1, 1]])
    assert int((s.astype(np.float64) @ w.T.astype(np.float64))[0, 0]) != (1 << 53) + 2
    assert ProjectionKernel(sparse.csr_matrix(w), 1)(s)[0, 0] == (1 << 53) + 2


def test_payload_enters_the_bound() -> None:
    w = sparse.csr_matrix(np.array([[1 << 20, -(1 << 20)]]))
    assert ProjectionKernel(w, 7).arithmetic == "float32"  # 2**21 * 7 < 2**24
    assert ProjectionKernel(w, 8).arithmetic == "float64"  # 2**21 * 8 = 2**24


@st.composite
def programs(draw):
    """Random layered programs, weights scaled so some sums sit near or past a float limit,
    sometimes with feedback from the last population to the first (run step by step), some
    populations graded (a spike count up to their cap as payload) or spiking at v >= threshold."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in = draw(st.integers(1, 6))
    depth = draw(st.integers(1, 3))
    limit = draw(st.sampled_from([1 << 8, 1 << 24, 1 << 53, 1 << 56]))
    offset = draw(st.sampled_from([-1, 0, 1]))
    decay_bits = 12
    pops, projs, prev, prev_n = [], [], "in", n_in
    payload_in = draw(st.integers(1, 3))
    payload = payload_in
    for k in range(depth):
        n = draw(st.integers(1, 6))
        cap = draw(st.sampled_from([1, 1, 3, None]))
        pops.append(
            IntPopulation(
                name=f"p{k}",
                kind="CubaLIF",
                shape=(n,),
                dv=rng.integers(0, 4097, n),
                du=rng.integers(0, 4097, n),
                bias=rng.integers(-20, 21, n),
                v_reset=np.zeros(n, np.int64),
                threshold=rng.integers(0, limit // 4 + 2, n),
                scale=np.ones(n),
                reset=draw(st.sampled_from(["zero", "subtract"])),
                max_spikes=cap,
                inclusive=draw(st.booleans()),
            )
        )
        row_abs = max(1, (limit + offset) // payload)
        projs.append(
            IntProjection(
                f"w{k}", prev, f"p{k}", sparse.csr_matrix(_weights(rng, n, prev_n, row_abs))
            )
        )
        if draw(st.booleans()):
            projs.append(
                IntProjection(
                    f"r{k}",
                    f"p{k}",
                    f"p{k}",
                    sparse.csr_matrix(_weights(rng, n, n, row_abs)),
                    recurrent=True,
                )
            )
        prev, prev_n = f"p{k}", n
        payload = 1 if cap is None else cap  # uncapped: far past the limit (the int64 path)
    if depth > 1 and draw(st.booleans()):
        projs.append(
            IntProjection(
                "feedback",
                prev,
                "p0",
                sparse.csr_matrix(_weights(rng, pops[0].size, prev_n, 1000)),
                recurrent=True,
            )
        )
    net = IntNetwork({"in": (n_in,)}, tuple(pops), tuple(projs), {"out": prev}, decay_bits)
    x = rng.integers(0, payload_in + 1, (draw(st.integers(1, 10)), draw(st.integers(1, 3)), n_in))
    x[..., 0] = payload_in  # the largest payload is sent
    sem = Semantics(
        state_bits=draw(st.sampled_from([24, 62])),
        overflow=draw(st.sampled_from(["saturate", "wrap"])),
        current_overflow=draw(st.sampled_from(["saturate", "wrap"])),
        decay_rounding=draw(st.sampled_from(["toward_zero", "floor"])),
        synapse_delay=draw(st.sampled_from([0, 1])),
        weight_shift=draw(st.sampled_from([0, 6])),
        activation_bits=draw(st.sampled_from([0, 16])),
    )
    return net, x, sem


@settings(max_examples=60, deadline=None)
@given(programs())
def test_float_kernels_equal_the_exact_integer_path(case):
    net, x, sem = case
    fast = run(net, x, sem, record=True)
    exact = run(net, x, sem, record=True, exact_integers=True)
    for name in exact.v:
        np.testing.assert_array_equal(fast.v[name], exact.v[name])
    for name in exact.spikes:
        np.testing.assert_array_equal(fast.spikes[name], exact.spikes[name])


def test_event_counts_equal_on_both_paths() -> None:
    rng = np.random.default_rng(3)
    n_in, n = 40, 30
    pop = IntPopulation(
        "p",
        "LIF",
        (n,),
        dv=np.full(n, 400),
        bias=np.zeros(n, np.int64),
        v_reset=np.zeros(n, np.int64),
        threshold=np.full(n, 300),
        scale=np.ones(n),
    )
    w = rng.integers(-100, 200, (n, n_in)) * (rng.random((n, n_in)) < 0.3)
    net = IntNetwork(
        {"in": (n_in,)},
        (pop,),
        (IntProjection("w", "in", "p", sparse.csr_matrix(w)),),
        {"out": "p"},
        12,
    )
    from neurocomp.target.spec import load_target

    spec = load_target("reference")
    mapping = map_network(net, spec)
    x = (rng.random((15, 4, n_in)) < 0.2).astype(np.int64)
    a = run(net, x, spec.format, mapping=mapping).counts
    b = run(net, x, spec.format, mapping=mapping, exact_integers=True).counts
    assert a is not None and b is not None
    assert a.total("synops") == int((x.sum(axis=1) @ (w != 0).T).sum())
    for kind in a.per_core:
        np.testing.assert_array_equal(a.per_core[kind], b.per_core[kind])
    assert a.per_layer == b.per_layer


def test_graded_spikes_bound_the_kernel_and_count_as_one_event() -> None:
    """A graded source's kernel is bounded by its largest count (its cap), not by 1; each
    graded spike is one SPIKES event and one synaptic op per synapse, whatever its count."""
    from neurocomp.backends.bit_accurate import _extremes, _kernels, integer_inputs
    from neurocomp.target.spec import load_target

    rng = np.random.default_rng(5)
    n_in, n, m = 12, 10, 6

    def pop(name: str, size: int, cap: int | None) -> IntPopulation:
        return IntPopulation(
            name,
            "IF",
            (size,),
            dv=np.zeros(size, np.int64),
            bias=np.zeros(size, np.int64),
            v_reset=np.zeros(size, np.int64),
            threshold=np.full(size, 50),
            scale=np.ones(size),
            reset="subtract",
            max_spikes=cap,
        )

    w1 = rng.integers(0, 120, (n, n_in)) * (rng.random((n, n_in)) < 0.5)
    w2 = rng.integers(-30, 60, (m, n)) * (rng.random((m, n)) < 0.7)
    net = IntNetwork(
        {"in": (n_in,)},
        (pop("a", n, 4), pop("b", m, 1)),
        (
            IntProjection("w1", "in", "a", sparse.csr_matrix(w1)),
            IntProjection("w2", "a", "b", sparse.csr_matrix(w2)),
        ),
        {"out": "b", "a": "a"},
        12,
    )
    spec = load_target("reference")
    x = (rng.random((20, 3, n_in)) < 0.4).astype(np.int64)
    kern = _kernels(net, _extremes(integer_inputs(net, x)), spec.format, False)
    assert kern["w2"].bound == sum_bound(sparse.csr_matrix(w2), 4)
    res = run(net, x, spec.format, mapping=map_network(net, spec), record=True)
    exact = run(net, x, spec.format, record=True, exact_integers=True)
    s = res.spikes["a"]
    assert s.dtype == np.int64 and s.max() > 1  # counts above one are sent
    np.testing.assert_array_equal(s, exact.spikes["a"])
    np.testing.assert_array_equal(res.outputs["a"], s)
    assert res.counts is not None
    assert res.counts.per_layer["a"][EventKind.SPIKES] == int((s > 0).sum())
    fanout = (w2 != 0).sum(axis=0)
    synops_b = int(((s > 0).sum(axis=(0, 1)) * fanout).sum())
    assert res.counts.per_layer["b"][EventKind.SYNOPS] == synops_b


@settings(max_examples=40, deadline=None)
@given(programs())
def test_compiled_scan_equals_the_numpy_scan(case):
    """The numba neuron scan (where installed) and the numpy one give the same integers."""
    from neurocomp.backends import jit

    net, x, sem = case
    was = jit.AVAILABLE
    try:
        jit.AVAILABLE = False
        plain = run(net, x, sem, record=True)
    finally:
        jit.AVAILABLE = was
    compiled = run(net, x, sem, record=True)
    for name in plain.v:
        np.testing.assert_array_equal(compiled.v[name], plain.v[name])
    for name in plain.spikes:
        np.testing.assert_array_equal(compiled.spikes[name], plain.spikes[name])


def _small_cores(neurons: int):
    """The reference chip with `neurons` per core, so that small programs span cores and
    tiles (messages, hops)."""
    from neurocomp.program.folder import _toml_shape
    from neurocomp.target import load_target, spec_from_dict

    raw = _toml_shape(load_target("reference").to_dict())
    raw["core"]["neurons"] = neurons
    return spec_from_dict(raw, f"reference with {neurons} neurons per core")


@pytest.mark.skipif(not jit.AVAILABLE, reason="compiled counting needs numba")
@settings(max_examples=40, deadline=None)
@given(programs(), st.sampled_from([2, 3, 1024]), st.sampled_from([None, 0]))
def test_compiled_event_counting_equals_the_numpy_counting(case, per_core, dense_limit):
    """Counting fused into the compiled scan and `jit.scatter` (where numba is installed)
    gives every event count of the numpy path, per step and core and per population; with
    `dense_limit` 0 every table counts as large (CSR rows, `jit.scatter_runs`)."""
    from neurocomp.backends import counting

    net, x, sem = case
    spec = _small_cores(per_core)
    mapping = map_network(net, spec)
    limit = jit._DENSE_SCATTER
    if dense_limit is not None:
        jit._DENSE_SCATTER = dense_limit
    try:
        _counts_agree(net, x, sem, mapping)
    finally:
        jit._DENSE_SCATTER = limit
        counting._COUNTERS.clear()  # their tables were split under the limit set here


def _counts_agree(net, x, sem, mapping) -> None:
    for xb in (x, x[:, :1]):  # one sample: counted by the tables' distinct columns
        was = jit.AVAILABLE
        try:
            jit.AVAILABLE = False
            plain = run(net, xb, sem, mapping=mapping).counts
        finally:
            jit.AVAILABLE = was
        # int64 and uint8 input (uint8: an input counted by `jit.column_dots` too)
        for xi in (xb, xb.astype(np.uint8)):
            compiled = run(net, xi, sem, mapping=mapping).counts
            assert plain is not None and compiled is not None
            for kind in plain.per_core:
                np.testing.assert_array_equal(compiled.per_core[kind], plain.per_core[kind])
            assert compiled.per_layer == plain.per_layer
            assert compiled.input_spikes == plain.input_spikes


@pytest.mark.skipif(not jit.AVAILABLE, reason="the fused scan needs numba")
@settings(max_examples=15, deadline=None)
@given(programs(), st.sampled_from([2, 1024]))
def test_fused_synapses_equal_the_separate_kernel_and_scan(case, per_core):
    """A projection summed inside the compiled scan (`jit.Synapses`, int32/int64 rows)
    gives the integers and every event count of the float kernel followed by the scan."""
    from neurocomp.backends import bit_accurate

    net, x, sem = case
    mapping = map_network(net, _small_cores(per_core))
    was, dots = (bit_accurate._FUSE, bit_accurate._INPUTS_IN_SCAN), jit._DENSE_DOTS_MAX
    try:
        bit_accurate._FUSE = "never"
        plain = run(net, x, sem, mapping=mapping, record=True)
        bit_accurate._FUSE = "always"
        fused = run(net, x, sem, mapping=mapping, record=True)
        jit._DENSE_DOTS_MAX = 0  # a few neurons' sums by their events too, not dot products
        by_events = run(net, x, sem, mapping=mapping, record=True)
        bit_accurate._INPUTS_IN_SCAN = True  # an input's events counted inside the scan too
        in_scan = run(net, x, sem, mapping=mapping, record=True)
    finally:
        bit_accurate._FUSE, bit_accurate._INPUTS_IN_SCAN = was
        jit._DENSE_DOTS_MAX = dots
    for other in (fused, by_events):
        for name in plain.v:
            np.testing.assert_array_equal(other.v[name], plain.v[name])
        for name in plain.spikes:
            np.testing.assert_array_equal(other.spikes[name], plain.spikes[name])
    for other in (fused, by_events, in_scan):
        assert plain.counts is not None and other.counts is not None
        for kind in plain.counts.per_core:
            np.testing.assert_array_equal(other.counts.per_core[kind], plain.counts.per_core[kind])
        assert other.counts.per_layer == plain.counts.per_layer
        assert other.counts.input_spikes == plain.counts.input_spikes


@pytest.mark.skipif(not jit.AVAILABLE, reason="counting in the scan needs numba")
@pytest.mark.parametrize(
    ("n", "k", "batch", "zero_columns"),
    [
        (7, 5, 3, False),
        (300, 90, 1, False),
        (50, 400, 2, False),
        (9, 12, 2, True),
        (20, 6, 1, True),
    ],
)
def test_events_counted_in_the_scan_equal_the_per_step_table_product(
    n, k, batch, zero_columns
) -> None:
    """Events counted step by step inside the compiled scan (`jit.EventTable`: dense dot
    products over a small table's non-zero columns, CSR rows of the non-zero sums for a large
    one) equal the old per-step counting: the batch-summed spikes of each step times the
    routing table, all-zero columns (a mapped network's usual case) included."""
    rng = np.random.default_rng(n * k)
    steps = 40
    table = sparse.random(n, k, 0.3, format="csr", random_state=n, dtype=np.float64)
    table.data = rng.integers(1, 9, table.nnz).astype(np.float64)
    table = table.astype(np.int64)
    if zero_columns:  # every other column empty, the last one full
        dense = table.toarray()
        dense[:, ::2] = 0
        dense[:, -1] = 3
        table = sparse.csr_matrix(dense)
        assert 0 < jit.EventTable.static(table)[0].shape[0] < k
    drive = rng.integers(-200, 600, (steps, batch, n)).astype(np.int64)
    out = np.zeros((steps, batch, n), np.uint8)
    ev = jit.EventTable.of(table, steps)
    jit.scan(
        drive, np.zeros((batch, n), np.int64), np.zeros((batch, n), np.int64), None,
        np.full(n, 4096 - 500), np.zeros(n, np.int64), np.full(n, 300), np.zeros(n, np.int64),
        zero_reset=True, floor=False, bits=12, top=(1 << 23) - 1, saturate_u=True,
        saturate_v=True, out=out, rec_v=None, rec_u=None,
        active=np.zeros((steps, 1), np.int64), core=np.zeros(n, np.int64), events=ev,
    )  # fmt: skip
    sent = out.sum(axis=1, dtype=np.int64)  # (T, n): the old per-step batch sums
    assert sent.any() and not sent.all()
    np.testing.assert_array_equal(ev.out, sent @ table.toarray())
    np.testing.assert_array_equal(ev.total, sent.sum(axis=0))
    np.testing.assert_array_equal(ev.last, sent[-1])
    old = np.zeros((steps, k), np.int64)
    total, last = jit.scatter(out, table, old)
    np.testing.assert_array_equal(ev.out, old)
    np.testing.assert_array_equal(ev.total, total)


@pytest.mark.skipif(not jit.AVAILABLE, reason="the fused scan needs numba")
@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.int64])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_fused_rows_of_any_exact_width_equal_one_row_at_a_time_in_int64(dtype, layout) -> None:
    """The fused scan's synaptic rows in int16/int32 (where the bound allows), binary events
    added four rows per pass, give the spikes and voltages of the same weights in int64 added
    one event at a time (the path for graded sources): the same integers."""
    rng = np.random.default_rng(11)
    steps, batch, pre, n = 30, 3, 37, 23
    w = rng.integers(-40, 41, (pre, n)) * (rng.random((pre, n)) < 0.7)
    assert int(np.abs(w).sum(axis=0).max()) < 1 << 15  # exact in int16
    src = (rng.random((steps, batch, pre)) < 0.4).astype(np.uint8)

    def scan(wt, binary: bool) -> tuple[np.ndarray, np.ndarray]:
        out = np.zeros((steps, batch, n), np.uint8)
        v = np.zeros((batch, n), np.int64)
        jit.scan(
            None, np.zeros((batch, n), np.int64), v, None, np.full(n, 4096 - 300),
            np.zeros(n, np.int64), np.full(n, 150), np.zeros(n, np.int64), zero_reset=True,
            floor=False, bits=12, top=(1 << 23) - 1, saturate_u=True, saturate_v=True, out=out,
            rec_v=None, rec_u=None, synapses=jit.Synapses(src, wt, 1, None, binary),
        )  # fmt: skip
        return out, v

    wt = w.astype(dtype)
    spikes, v = scan(wt if layout == "dense" else sparse.csr_matrix(wt), True)
    spikes_ref, v_ref = scan(w.astype(np.int64), False)
    assert spikes_ref.any() and not spikes_ref.all()
    np.testing.assert_array_equal(spikes, spikes_ref)
    np.testing.assert_array_equal(v, v_ref)


def test_fused_weights_take_the_narrowest_exact_integer_type() -> None:
    """int16 up to a sum bound of 2^15 - 1, then int32, then int64."""
    for row_abs, dtype in ((2**15 - 1, np.int16), (2**15, np.int32), (2**31, np.int64)):
        w = np.zeros((2, 3), np.int64)
        w[0, 0] = row_abs
        kernel = ProjectionKernel(sparse.csr_matrix(w), 1)
        assert kernel.fused_weights().dtype == dtype, row_abs


@pytest.mark.skipif(not jit.AVAILABLE, reason="column counting needs numba")
@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 30),
    # one sample; a few (the samples past a multiple of 8); byte lanes of 248 samples and more
    st.one_of(st.integers(1, 20), st.integers(240, 600)),
    st.integers(1, 40),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
)
def test_column_dots_equal_the_batch_summed_events_times_the_columns(steps, batch, n, u, seed):
    """`jit.column_dots` (int16 columns, int32 sums, one sample or several) gives the numpy
    product of each step's batch-summed events (non-zero entries) with the columns, where a
    step's events per entry pass 255 (past a byte lane) too."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, 4, (steps, batch, n)).astype(np.uint8)  # values above 1: one event
    w = rng.integers(-(2**15) + 1, 2**15, (u, n)).astype(np.int16)
    out = np.zeros((steps, u + 1), np.int32)
    jit.column_dots(src, w, out)
    want = (src != 0).sum(axis=1, dtype=np.int64) @ w.T.astype(np.int64)
    np.testing.assert_array_equal(out[:, :u], want)
    assert not out[:, u].any()


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 70), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_pattern_tables_sum_every_subset_of_eight_sources(pre, n, seed) -> None:
    """`ProjectionKernel.lut`: row 256 g + p is the sum of W^T's rows 8 g + q over the bits q of
    p (pre not a multiple of eight, n not of the lane width: padded with zeros), in the fused
    weights' type; so any binary row's sums are the table rows of its eight-source patterns."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-300, 301, (n, pre)) * (rng.random((n, pre)) < 0.5)
    kernel = ProjectionKernel(sparse.csr_matrix(w), 1)
    lut = kernel.lut()
    assert lut is not None and lut.dtype == kernel.fused_weights().dtype
    s = (rng.random((9, pre)) < 0.4).astype(np.uint8)
    padded = np.zeros((9, lut.shape[0] // 256 * 8), np.uint8)
    padded[:, :pre] = s
    bits = padded.reshape(9, -1, 8) << np.arange(8)
    pattern = bits.sum(axis=2) + 256 * np.arange(padded.shape[1] // 8)
    sums = lut[pattern].astype(np.int64).sum(axis=1)[:, :n]
    np.testing.assert_array_equal(sums, s.astype(np.int64) @ w.T)
    assert not lut[:, n:].any()


def test_pattern_tables_stay_under_their_size_limit() -> None:
    """Above `LUT_MAX_BYTES` there is no table."""
    w = np.ones((200, 2000), np.int64)  # 252 groups x 256 x 224 int32: far above 1 MiB
    assert ProjectionKernel(sparse.csr_matrix(w), 1).lut() is None


def _narrow_case(rng, has_u, floor, sat, zero_reset):
    steps, batch, pre, n = 40, 3, 21, 19
    w = rng.integers(-200, 201, (pre, n)) * (rng.random((pre, n)) < 0.6)
    src = (rng.random((steps, batch, pre)) < 0.5).astype(np.uint8)
    bits, top = 12, (1 << 23) - 1
    keep_u = rng.integers(0, 4097, n) if has_u else None
    keep_v = rng.integers(3000, 4097, n)
    keep_v[0] = 4096  # no decay at all: the largest factor
    bias = rng.integers(-3000, 3000, n)
    thr = rng.integers(1, 60000, n)
    reset = rng.integers(-500, 500, n)
    return steps, batch, n, w, src, bits, top, (keep_u, keep_v, bias, thr, reset)


@pytest.mark.skipif(not jit.AVAILABLE, reason="the compiled scan needs numba")
@pytest.mark.parametrize(
    ("has_u", "floor", "sat", "zero_reset"),
    [(False, False, True, True), (True, True, False, False), (True, False, True, False),
     (False, True, False, True)],
)  # fmt: skip
def test_int32_neurons_and_pattern_tables_equal_the_int64_scan(has_u, floor, sat, zero_reset):
    """The scan's int32 neurons (`narrow`, decay as a split product) on the pattern table's
    sums give the spikes, voltages and currents of the int64 scan on rows added one event at
    a time, for either rounding, saturation or wrap, either reset; negative states included."""
    rng = np.random.default_rng(7 + 2 * has_u + floor + 4 * sat + 8 * zero_reset)
    steps, batch, n, w, src, bits, top, consts = _narrow_case(rng, has_u, floor, sat, zero_reset)
    kernel = ProjectionKernel(sparse.csr_matrix(w.T), 1)
    shift = 6
    assert jit.narrow_fits(consts, bits, top, shift, kernel.bound)

    def scan(narrow: bool) -> tuple[np.ndarray, ...]:
        out = np.zeros((steps, batch, n), np.uint8)
        u, v = np.zeros((batch, n), np.int64), np.zeros((batch, n), np.int64)
        rec_v, rec_u = np.zeros((steps, batch, n), np.int64), np.zeros((steps, batch, n), np.int64)
        syn = (
            jit.Synapses(src, kernel.fused_weights(), 1, None, True, kernel.lut(), kernel.bound)
            if narrow
            else jit.Synapses(src, w.astype(np.int64), 1, None, False)
        )
        jit.scan(
            None, u, v, *consts, zero_reset=zero_reset, floor=floor, bits=bits, top=top,
            saturate_u=sat, saturate_v=sat, out=out, rec_v=rec_v, rec_u=rec_u if has_u else None,
            activation_bits=16, weight_shift=shift, synapses=syn,
            drive_bound=kernel.bound if narrow else None, narrow=narrow,
        )  # fmt: skip
        return out, rec_v, rec_u, u, v

    got, want = scan(True), scan(False)
    assert want[0].any() and not want[0].all() and (want[1] < 0).any()
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_narrow_fits_refuses_what_int32_cannot_hold() -> None:
    """int32 neurons only where every sum stays below 2^31 and the decay's split is exact."""
    n = 4
    keep, z = np.full(n, 4000), np.zeros(n, np.int64)
    ok = (None, keep, z, np.full(n, 100), z)
    top = (1 << 23) - 1
    assert jit.narrow_fits(ok, 12, top, 6, 1000)
    assert not jit.narrow_fits(ok, 16, top, 6, 1000)  # decay bits: the split's product
    assert not jit.narrow_fits((None, np.full(n, 5000), z, z, z), 12, top, 6, 1000)  # > 2^12
    assert not jit.narrow_fits(ok, 12, (1 << 30) - 1, 6, 1000)  # the state range
    assert not jit.narrow_fits(ok, 12, top, 20, 1 << 12)  # the shifted drive


@pytest.mark.skipif(not jit.AVAILABLE, reason="column counting needs numba")
@pytest.mark.parametrize("batch", [1, 3])
def test_column_dots_add_each_step_to_its_counters(batch) -> None:
    """`jit.column_dots` with targets adds column to[m, 2] of every step to counter
    block[to[m, 0], :, to[m, 1]] (several targets on one column, one on none)."""
    rng = np.random.default_rng(batch)
    src = (rng.random((50, batch, 30)) < 0.3).astype(np.uint8)
    w = rng.integers(-9, 10, (2, 30)).astype(np.int16)
    to = np.array([[0, 1, 0], [2, 0, 1], [2, 1, 0], [1, 0, 2]], np.int64)  # column 2: zeros
    block = rng.integers(0, 5, (3, 50, 2)).astype(np.int64)
    before = block.copy()
    out = np.zeros((50, 3), np.int32)
    total = jit.column_dots(src, w, out, to, block)
    sums = (src != 0).sum(axis=1, dtype=np.int64) @ w.T.astype(np.int64)
    want = before.copy()
    for kind, core, col in to:
        want[kind, :, core] += sums[:, col] if col < 2 else 0
    np.testing.assert_array_equal(block, want)
    np.testing.assert_array_equal(total[:2], sums.sum(axis=0))


def test_runs_of_a_core_array_are_found_once_and_match_its_blocks() -> None:
    """`jit._runs` keeps each core array's runs (found once per counter, not per scan); a
    new array with other contents gets its own, and the runs are the array's blocks."""
    core = np.array([0, 0, 1, 1, 1, 0, 2], np.int64)
    bounds, cores = jit._runs(core)
    np.testing.assert_array_equal(bounds, [0, 2, 5, 6, 7])
    np.testing.assert_array_equal(cores, [0, 1, 0, 2])
    assert jit._runs(core)[0] is bounds  # kept, not found again
    other = np.array([3, 3, 3], np.int64)
    np.testing.assert_array_equal(jit._runs(other)[0], [0, 3])
    np.testing.assert_array_equal(jit._runs(other)[1], [3])
    empty = jit._runs(None)
    assert empty[0].tolist() == [0] and empty[1].size == 0


@pytest.mark.skipif(not jit.AVAILABLE, reason="column counting needs numba")
@pytest.mark.parametrize("u", [1, 2, 3])
def test_column_dots_of_one_sample_equal_numpy_for_each_column_count(u) -> None:
    """One sample's columns equal the numpy product, at the largest int16 entries and with
    graded values (one event each)."""
    rng = np.random.default_rng(u)
    src = rng.integers(0, 3, (300, 1, 257)).astype(np.uint8)
    w = rng.integers(-(2**15) + 1, 2**15, (u, 257)).astype(np.int16)
    w[:, 0] = 2**15 - 1
    out = np.zeros((300, u + 1), np.int32)
    jit.column_dots(src, w, out)
    want = (src[:, 0] != 0).astype(np.int64) @ w.T.astype(np.int64)
    np.testing.assert_array_equal(out[:, :u], want)
    assert not out[:, u].any()


@pytest.mark.skipif(not jit.AVAILABLE, reason="column counting needs numba")
@settings(max_examples=20, deadline=None)
@given(st.integers(1, 300), st.integers(3, 200), st.integers(0, 2**32 - 1))
def test_column_dots_of_one_sample_by_packed_columns_equal_numpy(steps, n, seed) -> None:
    """Two non-negative columns packed in one (`pack_columns`, summed in one pass) give
    one sample's two column sums per step, and their totals, at every sum's largest value;
    several samples ignore the packing."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, 3, (steps, 1, n)).astype(np.uint8)
    w = np.stack([rng.integers(0, (1 << 16) // n, n), rng.integers(0, (1 << 15) // n, n)])
    for row, top in ((0, (1 << 16) - 1), (1, (1 << 15) - 1)):  # each sum at its largest
        for i in range(n):  # int16 entries
            w[row, i] += min(top - w[row].sum(), (1 << 15) - 1 - w[row, i])
    packed = jit.pack_columns(w)
    assert packed is not None
    src[0, 0] = 1  # every entry sends at step 0: both sums at their largest
    out = np.zeros((steps, 3), np.int32)
    total = jit.column_dots(src, w.astype(np.int16), out, packed=packed)
    want = (src[:, 0] != 0).astype(np.int64) @ w.T
    np.testing.assert_array_equal(out[:, :2], want)
    np.testing.assert_array_equal(total[:2], want.sum(axis=0))
    assert not out[:, 2].any()
    many = np.concatenate([src, src], axis=1)
    out2 = np.zeros((steps, 3), np.int32)
    jit.column_dots(many, w.astype(np.int16), out2, packed=packed)
    np.testing.assert_array_equal(out2[:, :2], 2 * want)


def _doubled_into(src: np.ndarray, out: np.ndarray) -> None:
    for i in range(src.shape[0]):
        out[i] = 2 * src[i]


@pytest.mark.skipif(not jit.AVAILABLE, reason="needs numba")
def test_kernels_compile_with_noalias_where_numba_has_the_flag() -> None:
    """`jit.noalias_kernel` compiles with numba's noalias flag (mapped onto `njit`'s options)
    wherever this numba has it, and the kernel it makes computes as the plain one does."""
    from numba.core import compiler

    want = {"noalias": True} if hasattr(compiler.Flags, "noalias") else {}
    assert want == jit.NOALIAS
    kernel = jit.noalias_kernel(_doubled_into)
    src, out = np.arange(7, dtype=np.int64), np.zeros(7, np.int64)
    kernel(src, out)
    np.testing.assert_array_equal(out, 2 * src)
    assert kernel.targetoptions.get("noalias", False) is bool(jit.NOALIAS)
