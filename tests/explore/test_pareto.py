"""The Pareto front against brute force: a row is on it iff no other row dominates it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurocomp.errors import InputError
from neurocomp.explore import pareto_mask


def brute_force(values: np.ndarray, senses: list[str]) -> np.ndarray:
    n = len(values)
    out = np.zeros(n, dtype=bool)
    for i in range(n):
        if np.isnan(values[i]).any():
            continue
        dominated = False
        for j in range(n):
            if j == i or np.isnan(values[j]).any():
                continue
            no_worse = all(
                (values[j, k] >= values[i, k]) if s == "max" else (values[j, k] <= values[i, k])
                for k, s in enumerate(senses)
            )
            better = any(
                (values[j, k] > values[i, k]) if s == "max" else (values[j, k] < values[i, k])
                for k, s in enumerate(senses)
            )
            dominated |= no_worse and better
        out[i] = not dominated
    return out


# Few distinct values, so that ties and duplicate rows are common.
cell = st.one_of(st.integers(-3, 3).map(float), st.just(float("nan")), st.floats(-1e3, 1e3))


@settings(max_examples=300, deadline=None)
@given(
    k=st.integers(1, 3),
    data=st.data(),
)
def test_front_is_brute_force_non_dominated(k, data):
    n = data.draw(st.integers(0, 25))
    rows = data.draw(st.lists(st.lists(cell, min_size=k, max_size=k), min_size=n, max_size=n))
    senses = data.draw(st.lists(st.sampled_from(["min", "max"]), min_size=k, max_size=k))
    values = np.array(rows, dtype=np.float64).reshape(n, k)
    np.testing.assert_array_equal(pareto_mask(values, senses), brute_force(values, senses))


def test_accuracy_energy_example():
    # accuracy (max), energy (min): (0.9, 2) and (0.95, 3) trade off; (0.9, 3) is dominated
    values = np.array([[0.9, 2.0], [0.95, 3.0], [0.9, 3.0], [0.95, 3.0]])
    assert pareto_mask(values, ["max", "min"]).tolist() == [True, True, False, True]


def test_bad_senses():
    with pytest.raises(InputError, match="sense 'up'"):
        pareto_mask(np.zeros((2, 1)), ["up"])
    with pytest.raises(InputError, match="2 objectives"):
        pareto_mask(np.zeros((2, 1)), ["min", "max"])
