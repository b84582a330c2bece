"""Shared machinery of the robustness suite: run one fuzz case under a time and memory bound,
classify how it ended, and count every case (conftest.py prints the totals).

A case may end in exactly two ways: success, or an exception that is a `NeurocompError`. Anything
else (another exception, a case running past its wall-clock bound, an allocation past its memory
bound) is a failure reported with the input that caused it.

CI runs a fixed set of examples (derandomized). For longer, exploratory runs:
  NEUROCOMP_FUZZ_SCALE=10    ten times the examples of every fuzz test
  NEUROCOMP_FUZZ_RANDOM=1    new random examples on every run
  NEUROCOMP_FUZZ_COLLECT=f   append every failure (place, input) to file f and keep going
  NEUROCOMP_FUZZ_CASE_SECONDS / NEUROCOMP_FUZZ_CASE_MEMORY   the per-case bounds
Bugs already reported go in KNOWN_BUGS (counted, not failed; each with a strict xfail test in
test_known_bugs.py until fixed).
"""

from __future__ import annotations

import collections
import contextlib
import os
import resource
import signal
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neurocomp as nc

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "examples" / "digits"
TARGETS = ROOT / "targets"

# Per-case bounds. Every fuzz input is small (a few KB, a few dozen neurons), so anything near
# these bounds is a hang or an allocation driven by a declared (not an actual) size.
CASE_SECONDS = float(os.environ.get("NEUROCOMP_FUZZ_CASE_SECONDS", "20"))
CASE_MEMORY = int(os.environ.get("NEUROCOMP_FUZZ_CASE_MEMORY", str(2 * 2**30)))  # bytes


# Exploration: NEUROCOMP_FUZZ_COLLECT=path appends each failure to that file instead of failing.
COLLECT = os.environ.get("NEUROCOMP_FUZZ_COLLECT", "")


# CI runs a fixed set of examples; NEUROCOMP_FUZZ_RANDOM=1 draws new ones (exploration).
DERANDOMIZE = not os.environ.get("NEUROCOMP_FUZZ_RANDOM")


def examples(default: int) -> int:
    """max_examples for a hypothesis test; NEUROCOMP_FUZZ_SCALE multiplies it (longer runs)."""
    return max(1, int(default * float(os.environ.get("NEUROCOMP_FUZZ_SCALE", "1"))))


# suite -> outcome -> count. Outcomes: "ok", an error class name, or "FAIL ...".
CASES: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)


class CaseTimeout(BaseException):
    """A case ran past CASE_SECONDS (raised from SIGALRM; a BaseException so that a bare
    `except Exception` in the code under test cannot swallow it)."""


@dataclass(frozen=True)
class KnownBug:
    """A reported, not yet fixed bug: cases that hit it are counted, not failed. Each has its own
    strict-xfail regression test, which fails (XPASS) once the bug is fixed: then delete it here."""

    name: str
    matches: Callable[[BaseException, str], bool]  # (exception, formatted traceback)


def last_neurocomp_frame(exc: BaseException) -> tuple[str, str]:
    """(path inside the package, function) of the innermost neurocomp frame of exc."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/neurocomp/" in f.filename]
    if not frames:
        return ("", "")
    return (frames[-1].filename.split("/neurocomp/")[-1], frames[-1].name)


def _in(file: str, *functions: str) -> Callable[[BaseException], bool]:
    def where(exc: BaseException) -> bool:
        f, fn = last_neurocomp_frame(exc)
        return f == file and (not functions or fn in functions)

    return where


KNOWN_BUGS: list[KnownBug] = []  # all fixed; add new finds here with a regression test


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


@contextlib.contextmanager
def bounded(seconds: float = CASE_SECONDS, memory: int = CASE_MEMORY) -> Iterator[None]:
    """Run the body with a wall-clock alarm and an address-space limit of `memory` bytes above
    what the process already maps (an allocation past it raises MemoryError instead of
    exhausting the machine)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _vm_bytes() + memory
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)

    def on_alarm(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"case ran longer than {seconds} s")

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class CaseFailure(AssertionError):
    """A case that ended in something other than success or a NeurocompError."""


def run_case(suite: str, description: str, fn: Callable[[], Any]) -> str:
    """Run one fuzz case under bounds; count and return its outcome, raise CaseFailure on a
    non-NeurocompError exception, a hang or an unbounded allocation (naming the input)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with bounded():
                fn()
    except nc.NeurocompError as exc:
        outcome = type(exc).__name__
    except (Exception, CaseTimeout) as exc:  # KeyboardInterrupt still stops the run
        tb = traceback.format_exc()
        for bug in KNOWN_BUGS:
            if bug.matches(exc, tb):
                CASES[suite][f"known bug: {bug.name}"] += 1
                return f"known bug: {bug.name}"
        kind = "hang" if isinstance(exc, CaseTimeout) else type(exc).__name__
        if isinstance(exc, MemoryError):
            kind = "unbounded allocation (MemoryError)"
        CASES[suite][f"FAIL {kind}"] += 1
        if COLLECT:  # exploring: note the failure and its place, keep going
            where = ":".join(last_neurocomp_frame(exc))
            with open(COLLECT, "a") as log:
                log.write(f"{kind} at {where}: {str(exc)[:200]!r}\n")
                log.write(f"    input: {description[:1500]}\n")
            return f"FAIL {kind}"
        raise CaseFailure(
            f"{suite}: {kind} instead of success or a NeurocompError\n"
            f"input: {description}\n{tb[-6000:]}"
        ) from None
    else:
        outcome = "ok"
    CASES[suite][outcome] += 1
    return outcome
