"""Placement time against the cores placed (neurocomp/mapping/place.py, chips.py).

    .venv/bin/python benchmarks/place.py     # about a minute on 2 shared cores

The traffic of a compiled banded network (benchmarks/generate.py, 1e7 synapses, 176 cores on
the reference chip) is chained into 1, 4, 16 and 40 copies (each copy's last cores send to
the next copy's first ones), then placed on a board of 256 reference chips (chip assignment,
then each chip's mesh): best of 3, with the cost of the placement against cores in order.
Time per core should stay flat as the cores grow (linear placement). Prints a markdown table.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
warnings.simplefilter("ignore")

from generate import banded  # noqa: E402

import neurocomp as nc  # noqa: E402
import neurocomp.mapping as mapping  # noqa: E402
from neurocomp.mapping.chips import place_on_board  # noqa: E402
from neurocomp.mapping.place import Traffic  # noqa: E402
from neurocomp.target import TargetSpec, load_target  # noqa: E402


def base_traffic() -> sparse.csr_matrix:
    """The traffic matrix the compiler places for the 1e7-synapse banded network of
    benchmarks/run.py (three layers of 15811, fan-in 316)."""
    got: list[sparse.csr_matrix] = []
    orig = mapping.place_on_board

    def keep(
        traffic: Traffic, spec: TargetSpec, method: str = "auto"
    ) -> tuple[np.ndarray, dict[str, Any]]:
        got.append(sparse.csr_matrix(traffic))
        return orig(traffic, spec, method)

    mapping.place_on_board = keep
    try:
        nc.compile(banded([15811, 15811, 15811], 316), chips=256)
    finally:
        mapping.place_on_board = orig
    return got[0]


def chained(t: sparse.csr_matrix, copies: int) -> sparse.csr_matrix:
    n = t.shape[0]
    big = sparse.block_diag([t] * copies, format="lil")
    for i in range(copies - 1):
        for j in range(8):
            big[i * n + n - 1 - j, (i + 1) * n + j] = 10.0
    return sparse.csr_matrix(big)


def main() -> None:
    spec = load_target("reference", chips=256)
    t = base_traffic()
    print(
        "| cores | traffic entries | chips | place s (best of 3) | ms per core | "
        "traffic x hops vs cores in order |"
    )
    print("|---|---|---|---|---|---|")
    for copies in (1, 4, 16, 40):
        big = chained(t, copies)
        best = float("inf")
        rep: dict[str, Any] = {}
        for _ in range(3):
            t0 = time.perf_counter()
            _, rep = place_on_board(big, spec)
            best = min(best, time.perf_counter() - t0)
        n = big.shape[0]
        gain = 1 - rep["traffic_hops"] / rep["greedy_traffic_hops"]
        print(
            f"| {n} | {big.nnz} | {rep.get('chips_used', 1)} | {best:.2f} | "
            f"{1000 * best / n:.2f} | {100 * gain:.0f} % lower |"
        )


if __name__ == "__main__":
    main()
