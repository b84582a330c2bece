"""Exporter detection never mistakes the shipped snnTorch model for another framework's."""

from __future__ import annotations

import warnings

import neurocomp as nc

from conftest import EXAMPLES


def test_shipped_snntorch_digits_is_not_called_a_rockpool_export() -> None:
    # uniform tau and r fit Rockpool's r = tau exp(-dt/tau)/dt for some dt per node; snnTorch's
    # r = tau/dt for one dt across the file must win (it was a false warning on the main job)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nc.load(EXAMPLES / "digits" / "digits.nir", dt=1e-4)
    assert not [w for w in caught if "looks like" in str(w.message)]
