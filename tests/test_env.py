"""Tuning knobs from the environment: a bad value is a warning and the default, never a
traceback while a command starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import neurocomp as nc
from neurocomp.env import env_int

from conftest import EXAMPLES


@pytest.mark.parametrize("text, expected", [("", 7), ("12", 12), (" 3 ", 3), ("0", 0)])
def test_a_whole_number_in_range_is_read(monkeypatch, text, expected):
    monkeypatch.setenv("NEUROCOMP_TEST_KNOB", text)
    assert env_int("NEUROCOMP_TEST_KNOB", 7) == expected


@pytest.mark.parametrize("text", ["abc", "2.5", "-1", "1e3"])
def test_anything_else_is_named_in_a_warning_and_the_default_used(monkeypatch, text):
    monkeypatch.setenv("NEUROCOMP_TEST_KNOB", text)
    with pytest.warns(nc.NeurocompWarning, match=f"NEUROCOMP_TEST_KNOB = '{text}'"):
        assert env_int("NEUROCOMP_TEST_KNOB", 7) == 7


def test_a_bad_knob_does_not_stop_a_command(tmp_path):
    """`int(os.environ[...])` at import raised ValueError: a traceback before any command ran."""
    env = {**os.environ, "NEUROCOMP_LUT_MAX_BYTES": "lots", "NEUROCOMP_DENSE_DOTS_MAX": "x"}
    model = EXAMPLES / "digits" / "digits.nir"
    cmd = [sys.executable, "-m", "neurocomp", "compile", str(model), "-o", str(tmp_path / "p")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "NEUROCOMP_LUT_MAX_BYTES = 'lots'" in done.stderr
    assert "Traceback" not in done.stderr
