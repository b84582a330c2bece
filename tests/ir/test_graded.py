"""Graded (multi-) spikes in integers agree with the float model's spike count, and their payload
is checked against the chip's declared width."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from neurocomp.ir.graded import largest_count, payload_violations, spike_counts
from neurocomp.sim.float_sim import spike_count


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    cap=st.sampled_from([1, 3, 64, None]),
    inclusive=st.booleans(),
)
def test_integer_counts_equal_float_counts(seed, cap, inclusive):
    rng = np.random.default_rng(seed)
    v = rng.integers(-50, 400, 200)
    thr = rng.integers(1, 40, 200)
    got = spike_counts(v, thr, cap, inclusive)
    want = spike_count(v.astype(float), thr.astype(float), cap, inclusive)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int64


def test_payload_width_needed_vs_available():
    thr = np.array([16, 4, 64])
    assert largest_count(None, thr, 2**23 - 1) == (2**23 - 1) // 4
    assert largest_count(5, thr, 2**23 - 1) == 5
    assert payload_violations("l", 1, thr, 2**23 - 1, 0) == []
    (v,) = payload_violations("l", 5, thr, 2**23 - 1, 0)
    assert (v.layer, v.resource) == ("l", "spikes per step")
    assert payload_violations("l", 7, thr, 2**23 - 1, 3) == []  # 7 fits 3 bits
    (v,) = payload_violations("l", 8, thr, 2**23 - 1, 3)
    assert v.resource == "spike payload" and "4 bits" in str(v.needed)
    (v,) = payload_violations("l", None, thr, 2**23 - 1, 16)
    assert "21 bits" in str(v.needed)
