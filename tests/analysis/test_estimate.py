"""The estimate's parts on hand-made activity: barrier by tiles and chips, static power of the
board and of the cores in use, host traffic, and the ANN baseline with its memory."""

from __future__ import annotations

import numpy as np
import pytest

from neurocomp.analysis.ann import BLOUW_MACS, ann_baseline, sram_access_j
from neurocomp.analysis.estimate import ENDS, Activity, barrier, core_work, estimate
from neurocomp.target import load_target


def _activity(cores: int, steps: int = 3, tiles=None, chips=None, host: int = 0, synops: int = 0):
    per_core = {"synops": np.full((steps, cores), synops, dtype=np.int64)}
    return Activity(
        per_core,
        1,
        np.zeros(cores, int) if chips is None else np.asarray(chips),
        np.arange(cores) if tiles is None else np.asarray(tiles),
        host,
    )


def test_barrier_grows_with_the_tiles_in_use_and_crosses_chips():
    spec = load_target("reference")
    one, full = spec.timing.barrier_tile_s, spec.timing.barrier_s
    assert barrier(spec, _activity(1), "nominal") == pytest.approx(one)
    assert barrier(spec, _activity(32), "nominal") == pytest.approx(full)
    mid = barrier(spec, _activity(16), "nominal")
    assert mid == pytest.approx(one + (full - one) * 4 / 5)  # log2(16) / log2(32)
    two_chips = _activity(2, chips=[0, 1])
    assert barrier(spec, two_chips, "nominal") == pytest.approx(spec.board.chip_barrier_s)
    for end in ENDS:  # every end: more tiles never shorten the barrier
        assert barrier(spec, _activity(1), end) <= barrier(spec, _activity(32), end)


def test_static_power_whole_chip_nominal_cores_in_use_low():
    spec = load_target("reference")
    est = estimate(spec, _activity(4, steps=10, synops=100))
    fig = spec.figures["energy.static_power_w"]
    assert est.static_j.nominal == pytest.approx(fig.value * est.latency_s.nominal)
    assert est.static_j.low == pytest.approx(fig.band[0] * 4 / 128 * est.latency_s.low)
    assert est.static_j.high == pytest.approx(fig.band[1] * est.latency_s.high)


def test_host_values_cost_time_and_energy_every_step():
    spec = load_target("reference")
    quiet, busy = estimate(spec, _activity(1)), estimate(spec, _activity(1, host=100))
    b = spec.board
    assert busy.latency_s.nominal - quiet.latency_s.nominal == pytest.approx(
        3 * 100 * b.host_value_s
    )
    assert busy.host_j.nominal == pytest.approx(3 * 100 * b.host_value_j)
    assert busy.host_j.low == 0.0  # inputs preloaded on chip


def test_sram_figures_are_horowitz_at_the_anchors_and_grow_with_size():
    assert sram_access_j(8 * 1024) == pytest.approx(10e-12)
    assert sram_access_j(32 * 1024) == pytest.approx(20e-12)
    assert sram_access_j(1024 * 1024) == pytest.approx(100e-12)
    sizes = [1e3, 8e3, 2e4, 1e5, 5e5, 1e6, 1e8]
    energies = [sram_access_j(s) for s in sizes]
    assert energies == sorted(energies)


def test_ann_baseline_counts_memory_beside_arithmetic():
    ann = ann_baseline(BLOUW_MACS, [(390, 256), (256, 256), (256, 29)])
    assert ann.arithmetic_j == pytest.approx(BLOUW_MACS * 0.23e-12)
    words = -(-BLOUW_MACS // 8)
    assert ann.weight_memory_j == pytest.approx(words * sram_access_j(BLOUW_MACS))
    assert ann.memory_j > ann.arithmetic_j  # memory dominates, as Horowitz says
    d = ann.to_dict()
    assert d["energy_per_inference_j"] == pytest.approx(d["arithmetic_j"] + d["memory_j"])
    ncs = d["devices"]["movidius_ncs"]  # on Blouw's own network the scaling is the identity
    assert ncs["dynamic_j"] == pytest.approx((0.647 - 0.210) / 300)
    assert ncs["total_j"] == pytest.approx(0.647 / 300)
    assert d["devices"]["jetson_tx1"]["dynamic_j"] == pytest.approx((4.98 - 2.64) / 419)


def test_a_graded_payload_makes_messages_dearer_not_synapses():
    spec = load_target("reference")
    per_core = {
        "synops": np.full((2, 1), 10, dtype=np.int64),
        "msgs_local": np.full((2, 1), 4, dtype=np.int64),
    }
    bare = Activity(per_core, 1, np.zeros(1, int), np.arange(1), 0)
    every = {"msgs_local": per_core["msgs_local"]}  # every message carries a payload
    one = {"msgs_local": np.full((2, 1), 1, dtype=np.int64)}  # one in four does
    graded = Activity(per_core, 1, np.zeros(1, int), np.arange(1), 0, 1.5, every)
    mixed = Activity(per_core, 1, np.zeros(1, int), np.arange(1), 0, 1.5, one)
    a, b, c = (estimate(spec, act).parts_j for act in (bare, graded, mixed))
    assert b["msgs_local"].nominal == pytest.approx(1.5 * a["msgs_local"].nominal)
    assert c["msgs_local"].nominal == pytest.approx((3 + 1.5) / 4 * a["msgs_local"].nominal)
    assert b["synops"].nominal == pytest.approx(a["synops"].nominal)
    # and slower: the message stage's time, per core and step, by the same count
    t = spec.timing
    work = lambda act: core_work(spec, act, "nominal")  # noqa: E731
    assert (work(mixed) - work(bare)) == pytest.approx(np.full((2, 1), 0.5 * t.spike_local_s))
    assert Activity(per_core, 1, np.zeros(1, int), np.arange(1), 0, 1.5).payload == {}


def test_barrier_across_chips_grows_in_log2_of_the_chips():
    spec = load_target("reference")
    two, per_doubling = spec.board.chip_barrier_s, spec.board.chip_barrier_doubling_s
    eight = barrier(spec, _activity(8, chips=range(8)), "nominal")
    assert eight == pytest.approx(two + 2 * per_doubling)  # log2(8 / 2) doublings past two
    # Frady20's ends, which the two figures were derived from: 14.3 us at 256, 16.2 us at 768
    at = lambda n: barrier(spec, _activity(n, chips=range(n)), "nominal")  # noqa: E731
    assert at(256) == pytest.approx(14.3e-6, rel=0.01)
    assert at(768) == pytest.approx(16.2e-6, rel=0.01)
    for end in ENDS:  # more chips never shorten the barrier; it is never below the chip's own
        times = [barrier(spec, _activity(n, chips=range(n)), end) for n in (2, 3, 8, 64)]
        assert times == sorted(times)
        assert times[0] >= barrier(spec, _activity(32), end)


def test_board_parts_zero_on_one_chip_and_banded_on_several():
    spec = load_target("reference")
    per_core = {"synops": np.full((4, 4), 10), "msgs_chip": np.full((4, 4), 3)}
    one = estimate(spec, Activity(per_core, 1, np.zeros(4, int), np.arange(4), 0))
    assert one.chips_used == 1 and one.chip_barrier_s.high == 0.0
    two = estimate(spec, Activity(per_core, 1, np.array([0, 0, 1, 1]), np.arange(4), 0))
    assert two.chips_used == 2
    link = spec.figures["board.chip_link_j"]
    for end in ENDS:
        assert getattr(two.chip_link_j, end) == pytest.approx(48 * link.at(end))
        assert getattr(two.chip_barrier_s, end) == pytest.approx(
            barrier(spec, _activity(4, chips=[0, 0, 1, 1]), end)
        )
    assert two.chip_link_j.low < two.chip_link_j.nominal < two.chip_link_j.high
