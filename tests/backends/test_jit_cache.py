"""The compiled simulator loops are cached on disk by numba: a second process running the same
program must load them, not compile them again (a cache that never hits compiles every variant
in every process, seconds per command, and adds files to the cache folder without end: a
closure over a compiled helper did that, two new files per CLI run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import EXAMPLES

RUN = f"""
import numpy as np
import neurocomp as nc
prog = nc.compile(nc.load({str(EXAMPLES / "digits" / "digits.nir")!r}), target="reference")
x = np.load({str(EXAMPLES / "digits" / "digits_test.npz")!r})["x"][:, :4]
prog.run(x)
"""


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_a_second_process_loads_the_compiled_loops_from_the_cache(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", RUN], env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr
        if _ == 0:
            first = _files(tmp_path / "cache")
            assert any(name.endswith(".nbc") for name in first), first
    assert _files(tmp_path / "cache") == first
