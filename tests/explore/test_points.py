"""Merging the event counts of an evaluation's shards (`neurocomp.explore.points`)."""

from __future__ import annotations

import numpy as np

import neurocomp as nc
from neurocomp.backends.events import EventKind
from neurocomp.explore.points import merge_counts

from sweep_data import digits


def test_shards_with_and_without_payloads_merge_to_the_whole_runs_counts() -> None:
    """A shard whose inputs are graded (values above 1: their messages carry a payload) and
    one whose inputs are not (no payload counters at all): merged, every counter equals
    the whole set's run, and the payload is the graded shard's."""
    d = digits(6)
    prog = nc.compile(d["model"], target="loihi2", calibration=d["calibration"])
    x = np.asarray(d["eval_input"])
    plain = (x[:, :3] != 0).astype(np.uint8)
    graded = (x[:, 3:] != 0).astype(np.uint8) * 2
    a, b = prog.run(plain).counts, prog.run(graded).counts
    assert a is not None and b is not None
    assert not a.payload and b.payload[EventKind.MSGS_INPUT].any()
    merged = merge_counts([a, b])
    whole = prog.run(np.concatenate([plain, graded], axis=1)).counts
    assert whole is not None and merged.batch == whole.batch == 6
    for kind, counts in whole.per_core.items():
        np.testing.assert_array_equal(merged.per_core[kind], counts, err_msg=str(kind))
    assert merged.per_layer == whole.per_layer
    for kind, part in b.payload.items():
        np.testing.assert_array_equal(merged.payload[kind], part)
