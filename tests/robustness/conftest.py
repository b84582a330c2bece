"""Robustness suite: prints how many fuzz cases were tried, and how each ended."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # robust_util

# Neither tests/ nor tests/robustness/ is a package, so both conftest files are the module
# "conftest" and pytest drops the first from sys.modules before importing this one. Test modules
# elsewhere do `from conftest import ROOT, zoo_file, ...`: keep every name of tests/conftest.py
# importable from here.
_spec = importlib.util.spec_from_file_location(
    "_neurocomp_tests_conftest", Path(__file__).resolve().parent.parent / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_root_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root_conftest)
for _name in dir(_root_conftest):
    if not _name.startswith("_") and _name not in globals():
        globals()[_name] = getattr(_root_conftest, _name)

from robust_util import CASES  # noqa: E402


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not CASES:
        return
    terminalreporter.write_sep("=", "robustness: fuzz cases tried")
    total = 0
    for suite in sorted(CASES):
        counts = CASES[suite]
        n = sum(counts.values())
        total += n
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        terminalreporter.write_line(f"{suite}: {n} cases ({detail})")
    terminalreporter.write_line(f"total: {total} fuzz cases tried")
