"""Progress of long steps (simulation, passes, mapping), for whoever listens.

Library code calls `advance(task, done, total)`; it costs one context-variable lookup when nobody
listens. The CLI listens with a rich progress bar (`reporting`), notebooks can pass any callable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Reporter = Callable[[str, int, int], None]  # (task, done, total)

_reporter: ContextVar[Reporter | None] = ContextVar("neurocomp_progress", default=None)


def advance(task: str, done: int, total: int) -> None:
    """Report that `done` of `total` units of `task` are finished."""
    fn = _reporter.get()
    if fn is not None:
        fn(task, done, total)


@contextmanager
def reporting(fn: Reporter) -> Iterator[None]:
    """Send every `advance` made inside the block to `fn(task, done, total)`."""
    token = _reporter.set(fn)
    try:
        yield
    finally:
        _reporter.reset(token)
