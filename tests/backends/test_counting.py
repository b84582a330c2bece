"""The event counter's block: only the kinds a mapping's tables can produce are stored
(`neurocomp.backends.counting.Counter.rows`), the rest read as zeros; int32 where the
counter's per-sample bound proves every count fits (`Counter.dtype`)."""

from __future__ import annotations

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.backends.events import COUNTERS, EventKind

from conftest import EXAMPLES, digits_spread


@pytest.fixture(scope="module")
def digits() -> tuple[nc.Program, np.ndarray]:
    net = nc.load(EXAMPLES / "digits" / "digits.nir", dt=1e-4)
    x = np.load(EXAMPLES / "digits" / "digits_test.npz")["x"][:, :3]
    return nc.compile(net, target="loihi2"), x


def test_kinds_no_table_produces_are_read_only_zeros(digits) -> None:
    prog, x = digits
    counts = prog.run(x).counts
    assert counts is not None and set(counts.per_core) == set(COUNTERS)
    dead = [k for k in COUNTERS if not counts.per_core[k].flags.writeable]
    # one core: no messages between tiles or chips, no hops
    assert set(dead) == {
        EventKind.MSGS_REMOTE,
        EventKind.HOPS_EW,
        EventKind.HOPS_NS,
        EventKind.MSGS_CHIP,
    }
    for k in dead:
        assert counts.per_core[k].shape == counts.per_core[EventKind.SPIKES].shape
        assert not counts.per_core[k].any() and counts.total(k) == 0
    live = [k for k in COUNTERS if k not in dead]
    assert all(counts.total(k) > 0 for k in live)


def test_every_kind_a_table_produces_is_kept_on_several_chips(digits) -> None:
    x = digits[1]
    # 138 neurons in cores of 60, one core per tile, two tiles per chip: three cores, two chips
    spread = digits_spread(60, tiles_x=2, tiles_y=1, cores_per_tile=1, chips=2)
    counts = spread.run(x).counts
    assert counts is not None
    dead = {k for k in COUNTERS if not counts.per_core[k].flags.writeable}
    assert dead <= {EventKind.HOPS_NS}  # one row of tiles: no north-south hops
    for kind in ("msgs_remote", "hops_ew", "msgs_chip"):
        assert counts.total(kind) > 0, kind
    # every spike the run made, every neuron updated every step
    spikes = spread.run(x, record=True, count=False).spikes
    assert counts.total("spikes") == sum(int(s.sum()) for s in spikes.values())
    updates = counts.total("updates_active") + counts.total("updates_idle")
    assert updates == x.shape[0] * x.shape[1] * spread.net.neurons


def test_each_core_updates_every_neuron_it_holds_each_step(digits) -> None:
    """Idle updates are each core's neurons (from the mapping) less its active ones, per step:
    across three cores, the active ones varying over the steps."""
    x = digits[1]
    spread = digits_spread(60, tiles_x=2, tiles_y=1, cores_per_tile=1, chips=2)
    counts = spread.run(x).counts
    assert counts is not None
    held = sum(np.bincount(c, minlength=3) for c in spread.mapping.neuron_core.values())
    active = counts.per_core[EventKind.UPDATES_ACTIVE]
    idle = counts.per_core[EventKind.UPDATES_IDLE]
    assert active.shape == idle.shape == (x.shape[0], 3)
    np.testing.assert_array_equal(active + idle, np.broadcast_to(x.shape[1] * held, active.shape))
    assert len(np.unique(active)) > 1 and idle.any()


def test_counts_are_int32_where_their_bound_proves_it_and_equal_in_int64(digits) -> None:
    """Every input spiking every step (the counts near their bound): the counts fit the
    counter's per-sample bound times the batch, are int32, and equal the int64 counts of a
    counter that cannot prove the bound."""
    from neurocomp.backends import counting

    prog, x = digits
    full = np.ones_like(x)
    counting._COUNTERS.clear()
    try:
        counts = prog.run(full).counts
        counter = counting._COUNTERS[0][2]
        assert counts is not None
        assert {a.dtype for a in counts.per_core.values()} == {np.dtype(np.int32)}
        top = max(int(a.max()) for a in counts.per_core.values())
        assert 0 < top <= full.shape[1] * counter.per_sample
        counter.per_sample = 1 << 31  # no proof: int64
        wide = prog.run(full).counts
        assert wide is not None
        assert {a.dtype for a in wide.per_core.values()} == {np.dtype(np.int64)}
        for kind in counts.per_core:
            np.testing.assert_array_equal(counts.per_core[kind], wide.per_core[kind])
        assert counts.per_layer == wide.per_layer
    finally:
        counting._COUNTERS.clear()
