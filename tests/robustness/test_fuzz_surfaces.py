"""Fuzz the command line's other surfaces: input `.npz` files and output paths.

Input arrays: generated `.npz` files (every dtype numpy can save, shapes with zeros and wrong
ranks, NaN, inf, negative, fractional and huge values, labels of every wrong kind, wrong array
names) and damaged ones (truncated, bytes overwritten, forged `.npy` headers declaring any shape
and dtype), each run through `simulate` on a `.nir` (float) and on a program folder (the chip's
values), and through `compile --calibration`, in-process. Output paths: generated names
(markup, unicode, dots, 255+ bytes), parents that are files, symbolic links (dangling, to a
folder, in a loop), folders with other files, leftovers of killed writers, for the `.npz` and
program-folder writers. Every case must end in success or the one-line error with exit 2 (a
NeurocompError), within the per-case bounds, and leave nothing but a complete output.
(Signals and concurrent writers: test_atomic.py and tests/test_files.py.)
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_util import DERANDOMIZE, DIGITS, examples, run_case

import neurocomp as nc
from neurocomp import cli

MODEL = DIGITS / "digits.nir"


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fuzz_prog") / "build"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nc.compile(str(MODEL), dt=1e-4).save(out)
    return out


class Exit2OneLine(nc.NeurocompError):
    """What the CLI did: exit status 2 with one `error:` line (counted as such by run_case)."""


def invoke(*args: object) -> None:
    """The CLI in-process: success, or exit 2 with one `error:` line (raised as Exit2OneLine
    for run_case); anything else raises what happened."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(cli.app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if result.exit_code == 0:
        return
    lines = result.stderr.splitlines()
    if result.exit_code != 2 or len(lines) != 1 or not lines[0].startswith("error: "):
        raise AssertionError(f"exit {result.exit_code}, stderr {result.stderr!r}")
    raise Exit2OneLine(lines[0])


# -- input arrays ---------------------------------------------------------------------------------

DTYPES = ("u1", "i2", "i8", "u8", "f2", "f4", "f8", "?", "c16", "U3", "S2", "O", ">f8", "m8[s]")
SPECIAL = (0, 1, 2, -1, 0.5, np.nan, np.inf, -np.inf, 1e300, 2**62)
SHAPES = st.one_of(
    st.just((5, 2, 64)),
    st.tuples(st.integers(0, 4), st.integers(0, 3), st.sampled_from([64, 63, 0, 1])),
    st.lists(st.integers(0, 3), min_size=0, max_size=4).map(tuple),
    st.tuples(st.integers(1, 3), st.integers(1, 2), st.just(8), st.just(8)),
)
LABELS = st.sampled_from(
    ["none", "right", "short", "long", "2-D", "float", "fraction", "negative", "strings", "scalar"]
)


def _array(dtype: str, shape: tuple[int, ...], value: Any, where: float) -> np.ndarray:
    arr = np.zeros(shape, dtype=np.float64)
    if arr.size:
        arr.reshape(-1)[int(where * (arr.size - 1))] = value if np.isfinite(value) else 0
    if dtype == "O":
        return np.array([{"a": 1}] * max(arr.size, 1), dtype=object)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out = arr.astype(dtype)
    if out.dtype.kind == "f" and out.size and not np.isfinite(value):
        out.reshape(-1)[int(where * (out.size - 1))] = value
    return out


def _labels(kind: str, batch: int) -> Any:
    return {
        "right": np.arange(batch) % 10,
        "short": np.arange(max(batch - 1, 0)),
        "long": np.arange(batch + 1),
        "2-D": np.zeros((batch, 2), int),
        "float": np.arange(batch, dtype=float),
        "fraction": np.full(batch, 0.5),
        "negative": -np.ones(batch, int),
        "strings": np.array(["a"] * batch),
        "scalar": np.int64(3),
    }.get(kind)


GENERATED = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(DTYPES),
        "shape": SHAPES,
        "value": st.sampled_from(SPECIAL),
        "where": st.floats(0, 1),
        "labels": LABELS,
        "name": st.sampled_from(["x", "input", "other", "x+other"]),
    }
)


def _write_generated(path: Path, case: dict[str, Any]) -> None:
    arr = _array(case["dtype"], case["shape"], case["value"], case["where"])
    arrays: dict[str, Any] = {}
    for name in case["name"].split("+"):
        arrays[name] = arr
    labels = _labels(case["labels"], arr.shape[1] if arr.ndim > 1 else 1)
    if labels is not None:
        arrays["labels"] = labels
    np.savez(path, **arrays)  # (pickles object arrays: the reader must refuse them)


def _forged_npy(descr: str, shape: tuple[int, ...], data: int, fortran: bool) -> bytes:
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + bytes(data)


DAMAGED = st.fixed_dictionaries(
    {
        "how": st.sampled_from(["truncate", "overwrite", "forge", "forge-zip64-size"]),
        "at": st.floats(0, 1),
        "bytes": st.binary(min_size=1, max_size=16),
        "descr": st.sampled_from(["<f8", "|u1", "<i8", "|O", "<c16", "V8", "<U4", "|b1"]),
        "shape": st.lists(
            st.sampled_from([0, 1, 2, 64, 397, 2**20, 2**31, 2**40]), min_size=0, max_size=4
        ).map(tuple),
        "data": st.sampled_from([0, 8, 64, 512]),
        "fortran": st.booleans(),
    }
)


def _write_damaged(path: Path, case: dict[str, Any]) -> None:
    if case["how"].startswith("forge"):
        npy = _forged_npy(case["descr"], case["shape"], case["data"], case["fortran"])
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("x.npy", npy)
        if case["how"] == "forge-zip64-size":  # the zip directory lies about the size too
            raw = bytearray(path.read_bytes())
            cd = raw.rindex(b"PK\x01\x02")
            raw[cd + 24 : cd + 28] = (2**32 - 2).to_bytes(4, "little")
            path.write_bytes(bytes(raw))
        return
    buf = io.BytesIO()
    np.savez_compressed(buf, x=(np.arange(5 * 2 * 64).reshape(5, 2, 64) % 2).astype(np.uint8))
    raw = bytearray(buf.getvalue())
    at = int(case["at"] * (len(raw) - 1))
    if case["how"] == "truncate":
        raw = raw[:at]
    else:
        raw[at : at + len(case["bytes"])] = case["bytes"]
    path.write_bytes(bytes(raw))


def _all_commands(path: Path, prog: Path, tmp: Path) -> list[tuple[object, ...]]:
    return [
        ("simulate", MODEL, "-i", path, "--dt", "1e-4"),
        ("simulate", prog, "-i", path),
        ("energy", prog, "-i", path),
        ("compile", MODEL, "-o", tmp / "b", "--calibration", path, "--dt", "1e-4", "-q"),
    ]


@settings(
    max_examples=examples(60),
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
)
@given(st.one_of(GENERATED.map(lambda c: ("generated", c)), DAMAGED.map(lambda c: ("damaged", c))))
def test_input_npz_files(program, tmp_path_factory, case):
    kind, recipe = case
    tmp = tmp_path_factory.mktemp("npz")
    path = tmp / "x.npz"
    (_write_generated if kind == "generated" else _write_damaged)(path, recipe)
    for args in _all_commands(path, program, tmp):
        run_case(
            f"fuzz inputs (.npz, {args[0]})",
            f"{kind} {recipe} | {args[:2]}",
            lambda args=args: invoke(*args),
        )
        left = sorted(p.name for p in tmp.iterdir())
        assert left in (["x.npz"], ["b", "x.npz"]), left
        if "b" in left:
            nc.load_program(tmp / "b")


def test_fifo_and_special_files(program, tmp_path):
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero"), Path("/dev/null"), tmp_path):
        for args in _all_commands(path, program, tmp_path):
            run_case(
                "fuzz inputs (special files)",
                f"{path} | {args[0]}",
                lambda args=args: invoke(*args),
            )


# -- output paths ---------------------------------------------------------------------------------

NAMES = st.one_of(
    st.text(st.sampled_from("ab[]/.-_ é\\~$*"), min_size=1, max_size=12),
    st.sampled_from(["out[/]x", "[bold red]x", ".", "..", "...", "-", "a" * 255, "a" * 256]),
    st.integers(240, 260).map(lambda n: "é" * (n // 2)),
)
SETUPS = st.sampled_from(
    [
        "plain",
        "parent is a file",
        "dangling symlink",
        "symlink to folder",
        "symlink loop",
        "folder with files",
        "existing program",
        "existing file",
        "leftovers",
        "leftover symlink to fifo",
    ]
)


def _prepare(root: Path, name: str, setup: str, program: Path) -> Path:
    """The -o path of one case, with the setup around it."""
    if setup == "parent is a file":
        (root / "f").write_text("x")
        return root / "f" / name
    target = root / name
    try:
        if setup == "dangling symlink":
            target.symlink_to(root / "elsewhere")
        elif setup == "symlink to folder":
            (root / "real").mkdir()
            target.symlink_to(root / "real")
        elif setup == "symlink loop":
            target.symlink_to(target)
        elif setup == "folder with files":
            target.mkdir()
            (target / "mine.txt").write_text("x")
        elif setup == "existing program":
            target.mkdir()
            for f in program.iterdir():
                (target / f.name).write_bytes(f.read_bytes())
        elif setup == "existing file":
            target.write_text("old")
        elif setup == "leftovers":
            (root / f".{name[:200]}.abcd1234").mkdir()
            (root / f".{name[:200]}.efgh5678.tmp").write_text("half")
        elif setup == "leftover symlink to fifo":
            os.mkfifo(root / "fifo")
            (root / f".{name[:200]}.abcd1234").symlink_to(root / "fifo")
    except OSError:
        pass  # a name the file system refuses: the case then tests that
    return target


def _check_nothing_half_written(root: Path, target: Path, before: set[str]) -> None:
    """No temporary of any writer is left under root (leftovers planted by the case may have
    been removed, never added); the output and the folders leading to it may be new."""
    real = Path(os.path.realpath(target))
    allowed = {real, *real.parents}
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            path = Path(dirpath) / entry
            rel = os.path.relpath(path, root)
            if rel in before or path in allowed:
                continue
            if entry.startswith(".") and not _inside_output(path, real):
                raise AssertionError(f"left behind: {rel}")


def _inside_output(path: Path, output: Path) -> bool:
    return output in path.parents


@settings(
    max_examples=examples(50),
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
)
@given(NAMES, SETUPS, st.sampled_from(["npz", "program"]))
def test_output_paths(program, tmp_path_factory, name, setup, kind):
    root = tmp_path_factory.mktemp("out")
    target = _prepare(root, name, setup, program)
    before = {
        os.path.relpath(os.path.join(d, e), root) for d, ds, fs in os.walk(root) for e in ds + fs
    }
    if kind == "npz":
        args: tuple[object, ...] = (
            "simulate",
            program,
            "-i",
            DIGITS / "digits_test.npz",
            "-o",
            target,
        )
    else:
        args = ("compile", MODEL, "-o", target, "--dt", "1e-4", "-q")
    outcome = run_case(
        f"fuzz output paths ({kind})", f"{setup} {name!r}", lambda args=args: invoke(*args)
    )
    _check_nothing_half_written(root, target, before)
    if outcome == "ok" and kind == "program":
        nc.load_program(target)
