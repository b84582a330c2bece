"""Non-dominated (Pareto-optimal) rows of a table of design points.

A point dominates another when it is at least as good in every objective and better in one.
Sorted lexicographically (every objective turned into one to minimise), a point can only be
dominated by one before it, and then by one already on the front; so one pass that compares
each point with the front so far finds it (Kung et al., 1975, simple form).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError

Objectives = Mapping[str, str]  # column -> "min" or "max"

DEFAULT_OBJECTIVES: dict[str, str] = {"accuracy": "max", "energy_per_inference_j": "min"}
# Without labels there is no accuracy: trade energy against cores instead.
UNLABELLED_OBJECTIVES: dict[str, str] = {"cores_used": "min", "energy_per_inference_j": "min"}


def pareto_mask(values: np.ndarray, senses: list[str]) -> np.ndarray:
    """Boolean mask of the non-dominated rows of `values` (n, k); senses[j] is "min" or "max".
    Rows with a NaN are never on the front; equal rows are both on it."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(senses):
        raise InputError(f"pareto: values of shape {v.shape} for {len(senses)} objectives")
    for s in senses:
        if s not in ("min", "max"):
            raise InputError(f"pareto: objective sense '{s}' (expected 'min' or 'max')")
    cost = np.where(np.array(senses) == "max", -v, v) if len(senses) else v
    ok = ~np.isnan(cost).any(axis=1)
    rows = np.flatnonzero(ok)
    order = rows[np.lexsort(cost[rows].T[::-1])] if rows.size else rows
    front: list[int] = []
    for i in order:
        c = cost[i]
        if front:
            f = cost[front]
            if np.any(np.all(f <= c, axis=1) & np.any(f < c, axis=1)):
                continue
        front.append(int(i))
    mask = np.zeros(len(v), dtype=bool)
    mask[front] = True
    return mask
