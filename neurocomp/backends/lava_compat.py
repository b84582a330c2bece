"""Import lava-nc 0.10.0 on Python 3.11: the one place neurocomp touches Lava's import.

lava-nc 0.10.0 (the last release) declares Python < 3.11. On 3.11 its import fails because
`lava/magma/compiler/var_model.py` gives dataclass fields mutable defaults (`ByteEncoder()`),
which Python 3.11's dataclasses refuse. While lava is first imported, such a default is turned
into a `default_factory` that copies it: the same values, without the refusal.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import multiprocessing
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from ..errors import NeurocompError

_LOCK = threading.Lock()


class LavaUnavailable(NeurocompError):
    """lava-nc is not installed or cannot be imported here."""


def _copier(default: Any) -> Any:
    def make() -> Any:
        return copy.deepcopy(default)

    return make


def _tolerant(original: Any) -> Any:
    def get_field(cls: type, a_name: str, a_type: Any, *args: Any) -> Any:
        try:
            return original(cls, a_name, a_type, *args)
        except ValueError as exc:
            if "mutable default" not in str(exc):
                raise
            setattr(cls, a_name, dataclasses.field(default_factory=_copier(cls.__dict__[a_name])))
            return original(cls, a_name, a_type, *args)

    return get_field


# Lava's runtime calls multiprocessing.set_start_method("fork") when first imported, which
# raises "context has already been set" in a program that chose a start method or has already
# started a process (a Dask cluster, a torch DataLoader): the import goes through `_lava_sets`.
_MP_RUNTIME = "lava.magma.runtime.message_infrastructure.multiprocessing"


def _lava_sets(method: str, force: bool = False) -> None:
    """Lava's own set_start_method call, made harmless: the method is chosen when Lava runs."""


@contextmanager
def fork_start_method() -> Iterator[None]:
    """Run Lava with the "fork" start method its runtime needs (its actors are not picklable),
    putting back the method the program had, so that neurocomp changes nothing outside."""
    before = multiprocessing.get_start_method(allow_none=True)
    default = multiprocessing.get_all_start_methods()[0]  # the platform's default comes first
    switch = (before or default) != "fork"
    if switch:
        multiprocessing.set_start_method("fork", force=True)
    try:
        yield
    finally:
        if switch:  # None (not chosen yet) is put back as None
            multiprocessing.set_start_method(before, force=True)


def import_lava(module: str = "lava.magma.core.run_configs") -> ModuleType:
    """Import a lava module (and lava itself) with the Python 3.11 dataclass check relaxed."""
    with _LOCK:
        original = dataclasses._get_field  # type: ignore[attr-defined]
        dataclasses._get_field = _tolerant(original)  # type: ignore[attr-defined]
        set_method = multiprocessing.set_start_method
        multiprocessing.set_start_method = _lava_sets  # type: ignore[assignment]
        try:
            importlib.import_module("lava.magma.compiler.var_model")
            importlib.import_module(_MP_RUNTIME)
            return importlib.import_module(module)
        except ImportError as exc:
            raise LavaUnavailable(
                f"lava-nc cannot be imported ({exc}); install it with "
                "`pip install --ignore-requires-python lava-nc==0.10.0` "
                "(scripts/setup.sh does)"
            ) from None
        finally:
            dataclasses._get_field = original  # type: ignore[attr-defined]
            multiprocessing.set_start_method = set_method


def lava_available() -> bool:
    try:
        import_lava()
    except LavaUnavailable:
        return False
    return True
