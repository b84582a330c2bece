"""The digits example as a small sweep: 2 targets x 4 pipelines, one of which cannot compile."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from conftest import EXAMPLES

DIGITS = EXAMPLES / "digits"
TARGETS = ["reference", "loihi2"]
PIPELINES: list[str | None] = [
    None,
    "quantize{weight_bits=4}",
    "prune{sparsity=0.5}",
    "quantize{weight_bits=16}",  # wider than either chip's 8 bits: a failing point
]


def digits(eval_samples: int = 120) -> dict[str, Any]:
    """sweep() keyword arguments: the network, calibration and evaluation sets."""
    import neurocomp as nc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = nc.load(DIGITS / "digits.nir", dt=1e-4)
    test = np.load(DIGITS / "digits_test.npz")
    cal = np.load(DIGITS / "digits_calib.npz")
    return {
        "model": net,
        "targets": TARGETS,
        "passes": PIPELINES,
        "calibration": cal["x"][:, :100],
        "labels": cal["labels"][:100],
        "eval_input": test["x"][:, :eval_samples],
        "eval_labels": test["labels"][:eval_samples],
    }


def without_timings(table: Any) -> Any:
    from neurocomp.explore.points import TIMING_COLUMNS

    return table.drop(columns=list(TIMING_COLUMNS))
