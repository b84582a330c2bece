"""What every command of the command line shares: reading its files (models, inputs, labels)
and running its work, so that errors a user can cause end as one line and exit status 2.

A file is read once per command (`read_npz_once`), never across commands.
"""

from __future__ import annotations

import functools
import os
import stat
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import typer

from . import api
from .errors import InputError, NeurocompError, NirFileError, ParameterError
from .inputs import check_chip_inputs, check_labels, check_time_batch, read_npz
from .ir.integer import IntNetwork
from .ir.network import Network
from .progress import reporting

if TYPE_CHECKING:
    from rich.progress import TaskID

    from .program.artifact import Program

T = TypeVar("T")


@contextmanager
def progress_bars(quiet: bool) -> Iterator[None]:
    """Rich progress bars on stderr for long steps, when stderr is a terminal (or
    NEUROCOMP_PROGRESS=always; =never turns them off). They vanish when the step ends."""
    mode = os.environ.get("NEUROCOMP_PROGRESS", "auto")
    if quiet or mode == "never" or (mode != "always" and not sys.stderr.isatty()):
        yield
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True, force_terminal=True if mode == "always" else None, markup=False)
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bars:
        tasks: dict[str, TaskID] = {}

        def report(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bars.add_task(task, total=total)
            bars.update(tasks[task], completed=done, total=total)

        with reporting(report):
            yield


def run_command(fn: Callable[[], T], quiet: bool = False) -> T:
    """Call fn; turn NeurocompErrors into one line + exit 2, and warnings into one line each."""
    _read_npz_cached.cache_clear()  # a file is read once per command, never across commands
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with progress_bars(quiet):
                result = fn()
        except NeurocompError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    if not quiet:
        for w in caught:
            if issubclass(w.category, UserWarning):
                typer.echo(f"warning: {w.message}", err=True)
    return result


def read_npz_once(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file (read once per command; see inputs.read_npz for what is
    refused)."""
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        return read_npz(path)  # raises the one-line error
    return _read_npz_cached(str(path), os.path.realpath(path), st.st_ino, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_npz_cached(shown: str, real: str, ino: int, mtime_ns: int) -> dict[str, np.ndarray]:
    return read_npz(shown)


def load_inputs(path: Path, net: Network | IntNetwork) -> dict[str, np.ndarray]:
    """The input arrays of `net` in an .npz file, each (T >= 1, batch >= 1, ...)."""
    xs = _pick_inputs(path, read_npz_once(path), list(net.inputs))
    for name, arr in xs.items():
        check_time_batch(name, arr)
    return xs


def _pick_inputs(path: Path, arrays: dict[str, np.ndarray], names: list[str]) -> dict[str, Any]:
    if len(names) == 1:
        for key in (names[0], "x", "input"):
            if key in arrays:
                return {names[0]: arrays[key]}
        candidates = [k for k in arrays if k not in ("labels", "dt")]
        if len(candidates) == 1:
            return {names[0]: arrays[candidates[0]]}
        raise InputError(
            f"{path}: expected an array named 'x' or '{names[0]}', found {sorted(arrays)}"
        )
    missing = [n for n in names if n not in arrays]
    if missing:
        raise InputError(f"{path}: missing arrays for inputs {missing}")
    return {n: arrays[n] for n in names}


def chip_inputs(path: Path, prog: Program) -> dict[str, np.ndarray]:
    """Input arrays for a compiled program: spike values the target chip takes."""
    xs = load_inputs(path, prog.net)
    check_chip_inputs(xs, prog.target)
    return xs


def load_model(
    model: Path,
    dt: float | None,
    reset: str | None,
    calibration: Path | None,
    framework: str | None = None,
    max_spikes: str | None = None,
    neurons: str | None = None,
) -> Network:
    """Load a .nir file, or convert a .onnx ANN with the rates of its --calibration spikes."""
    _refuse_special_file(model)
    kind: dict[str, Any] = {} if neurons is None else {"neurons": neurons.replace("-", "_")}
    if model.suffix.lower() != ".onnx":
        return api.load(model, dt=dt, reset=reset, **_nir_options(framework, max_spikes), **kind)
    if calibration is None:
        raise InputError(
            f"{model}: converting an ONNX ANN needs --calibration x.npz (array 'x': rate-coded "
            "spike trains (T, batch, *input_shape), e.g. from neurocomp.rate_code)"
        )
    graded = _nir_options(None, max_spikes)  # --max-spikes G > 1: graded conversion
    return api.load(
        model, dt=dt, reset=reset, calibration=_calibration_array(calibration), **graded, **kind
    )


def _refuse_special_file(path: Path) -> None:
    """A FIFO, socket or device as a model would block the reader or never end."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing or unreadable: the reader says so
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise NirFileError(f"{path}: not a regular file (a FIFO, socket or device)")


def _nir_options(framework: str | None, max_spikes: str | None) -> dict[str, Any]:
    """load() keywords for --framework and --max-spikes (absent ones keep their defaults)."""
    opts: dict[str, Any] = {} if framework is None else {"framework": framework}
    if max_spikes is None:
        return opts
    if max_spikes.lower() == "none":
        return {**opts, "max_spikes": None}
    try:
        return {**opts, "max_spikes": int(max_spikes)}
    except ValueError:
        raise ParameterError(
            "<network>", "--max-spikes", max_spikes, "an integer >= 1 or 'none'"
        ) from None


def _calibration_array(path: Path) -> np.ndarray:
    """The array 'x' (or the only array besides labels) of an .npz file."""
    arrays = {k: v for k, v in read_npz_once(path).items() if k not in ("labels", "dt")}
    if "x" in arrays:
        return arrays["x"]
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    raise InputError(f"{path}: expected an array named 'x', found {sorted(arrays)}")


def load_network(
    model: Path,
    dt: float | None,
    reset: str | None,
    passes: str | None,
    calibration: Path | None,
    framework: str | None = None,
    max_spikes: str | None = None,
    neurons: str | None = None,
) -> tuple[Network, list[dict[str, Any]]]:
    """Load a model and run the optional pipeline; returns the network and the pass reports."""
    net = load_model(model, dt, reset, calibration, framework, max_spikes, neurons)
    if not passes:
        return net, []
    cal_x, cal_labels = None, None
    if calibration is not None:
        cal_x = load_inputs(calibration, net)
        cal_labels = read_labels(calibration, cal_x)
    result = api.transform(net, passes, calibration=cal_x, labels=cal_labels)
    return result.network, result.reports


def table_console() -> Any:
    """Console for tables: markup off, so names and paths from files print literally."""
    from rich.console import Console

    return Console(width=100, highlight=False, soft_wrap=True, markup=False)


def read_labels(path: Path, xs: dict[str, np.ndarray]) -> np.ndarray | None:
    """The file's labels, if any: one whole class number >= 0 per sample."""
    labels = read_npz_once(path).get("labels")
    if labels is None:
        return None
    return check_labels(labels, next(iter(xs.values())).shape[1], f"{path}: 'labels'")
