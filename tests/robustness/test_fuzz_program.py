"""Fuzz program folders (`nc.load_program`, then a run) with damaged real saved programs.

Bases: the digits model compiled for the reference chip (plain and pruned) and for Loihi 2.
Each case damages one folder: a program.json value replaced (wrong types, negative, huge,
NaN, deep nesting) or deleted at a random path, the whole document replaced, arrays.npz members
replaced (NaN, complex, objects, wrong shapes or dtypes, a huge declared header), the archive
truncated, emptied, byte-flipped, swapped for a bare .npy or for another program's arrays, or a
FIFO. Every case must end in success or a NeurocompError, within the per-case bounds; a
hand-picked set of named cases must end in the error, and the CLI must say it in one line.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_util import DERANDOMIZE, DIGITS, examples, run_case

import neurocomp as nc

BASES: dict[str, Path] = {}
X = np.load(DIGITS / "digits_test.npz")["x"][:4, :2]


@pytest.fixture(scope="module", autouse=True)
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("programs")
    net = nc.load(DIGITS / "digits.nir")
    cal = np.load(DIGITS / "digits_calib.npz")["x"]
    BASES["reference"] = nc.compile(net).save(folder / "reference")
    BASES["pruned"] = nc.compile(net, passes="prune{sparsity=0.5}", calibration=cal).save(
        folder / "pruned"
    )
    BASES["loihi2"] = nc.compile(net, target="loihi2").save(folder / "loihi2")
    return BASES


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indices) into a JSON document."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _deep(n: int) -> Any:
    doc: Any = 0
    for _ in range(n):
        doc = [doc]
    return doc


VALUES: tuple[Any, ...] = (
    None,
    True,
    -1,
    0,
    10**30,
    -(10**30),
    1e300,
    float("nan"),
    float("inf"),
    "garbage",
    "",
    [],
    {},
    [1, 2, 3],
    {"a": 1},
    "LIF",
    "Threshold",
    2.5,
    _deep(50),
)


def _set(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def _npy(arr: Any) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=True)
    return buf.getvalue()


def _huge_header() -> bytes:
    """An .npy header declaring 2**40 int64 values, with no data behind it."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<i8", "fortran_order": False, "shape": (1 << 40,)}
    )
    return buf.getvalue()


MEMBER_VALUES: tuple[tuple[str, Any], ...] = (
    ("nan", lambda a: np.full(a.shape, np.nan)),
    ("complex", lambda a: a.astype(np.complex128)),
    ("object", lambda a: np.array([object()] * max(a.size, 1), dtype=object)),
    ("float", lambda a: a.astype(np.float64)),
    ("int32", lambda a: a.astype(np.int32)),
    ("empty", lambda a: a[:0]),
    ("longer", lambda a: np.concatenate([a, a])),
    ("2-d", lambda a: a.reshape(1, -1)),
    ("negative", lambda a: -np.abs(a) - 1),
    ("huge", lambda a: np.full(a.shape, 2**62, dtype=np.int64)),
    ("zero", lambda a: np.zeros_like(a)),
)


def _rewrite_npz(path: Path, member: str | None, data: bytes | None) -> None:
    """Rewrite arrays.npz with `member` replaced by raw .npy bytes (None: deleted)."""
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    if member is not None:
        if data is None:
            members.pop(member, None)
        else:
            members[member] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)


def _members(folder: Path) -> list[str]:
    with zipfile.ZipFile(folder / "arrays.npz") as zf:
        return sorted(zf.namelist())


def _use(folder: Path) -> None:
    prog = nc.load_program(folder)
    prog.simulate(X)
    prog.energy(X)


def _copy(base: str, tmp: Path) -> Path:
    dest = tmp / f"case-{base}"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(BASES[base], dest)
    return dest


@settings(
    max_examples=examples(60),
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_damaged_program_json(tmp_path: Path, data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(sorted(BASES)), "base")
    folder = _copy(base, tmp_path)
    doc = json.loads((folder / "program.json").read_text())
    path = data.draw(st.sampled_from(_paths(doc)), "path")
    delete = bool(path) and data.draw(st.booleans(), "delete")
    value = copy.deepcopy(data.draw(st.sampled_from(VALUES), "value"))
    doc = _set(doc, path, value, delete)
    (folder / "program.json").write_text(json.dumps(doc))
    run_case(
        "program.json", f"{base}: {'delete' if delete else value!r} at {path}", lambda: _use(folder)
    )


@settings(
    max_examples=examples(50),
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_damaged_arrays(tmp_path: Path, data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(sorted(BASES)), "base")
    folder = _copy(base, tmp_path)
    npz = folder / "arrays.npz"
    member = data.draw(st.sampled_from(_members(folder)), "member")
    how = data.draw(st.sampled_from(["value", "delete", "huge header", "bytes", "truncate"]))
    if how == "value":
        label, fn = data.draw(st.sampled_from(MEMBER_VALUES), "value")
        with zipfile.ZipFile(npz) as zf, zf.open(member) as f:
            arr = np.lib.format.read_array(f)
        _rewrite_npz(npz, member, _npy(fn(arr)))
        how = f"value {label}"
    elif how == "delete":
        _rewrite_npz(npz, member, None)
    elif how == "huge header":
        _rewrite_npz(npz, member, _huge_header())
    else:
        raw = bytearray(npz.read_bytes())
        at = data.draw(st.integers(0, len(raw) - 1), "offset")
        if how == "truncate":
            raw = raw[:at]
        else:
            raw[at] ^= data.draw(st.integers(1, 255), "xor")
        npz.write_bytes(bytes(raw))
    run_case("arrays.npz", f"{base}: {how} of {member}", lambda: _use(folder))


def _swap_arrays(folder: Path) -> None:
    other = "pruned" if folder.name != "case-pruned" else "reference"
    shutil.copy(BASES[other] / "arrays.npz", folder / "arrays.npz")


def _npy_as_npz(folder: Path) -> None:
    (folder / "arrays.npz").write_bytes(_npy(np.arange(5)))


def _empty_npz(folder: Path) -> None:
    with zipfile.ZipFile(folder / "arrays.npz", "w"):
        pass


def _fifo(folder: Path) -> None:
    (folder / "arrays.npz").unlink()
    os.mkfifo(folder / "arrays.npz")


def _json_edit(edit: Any) -> Any:
    def apply(folder: Path) -> None:
        doc = json.loads((folder / "program.json").read_text())
        doc = edit(doc)
        (folder / "program.json").write_text(json.dumps(doc))

    return apply


def _duplicate_population(doc: dict[str, Any]) -> dict[str, Any]:
    doc["populations"].append(doc["populations"][0])
    return doc


def _kind(doc: dict[str, Any]) -> dict[str, Any]:
    doc["populations"][0]["kind"] = "Izhikevich"
    return doc


def _negative_shape(doc: dict[str, Any]) -> dict[str, Any]:
    doc["populations"][0]["shape"] = [-128]
    return doc


def _version(doc: dict[str, Any]) -> dict[str, Any]:
    doc["format_version"] = 2
    return doc


def _deep_json(folder: Path) -> None:
    (folder / "program.json").write_text("[" * 100_000 + "]" * 100_000)


def _list_json(folder: Path) -> None:
    (folder / "program.json").write_text("[1, 2]")


def _slot(doc: dict[str, Any]) -> dict[str, Any]:
    doc["cores"][0]["slot"] = 10**6
    return doc


def _block(doc: dict[str, Any]) -> dict[str, Any]:
    doc["cores"][0]["blocks"][0][2] = 10**6
    return doc


def _decay(doc: dict[str, Any]) -> dict[str, Any]:
    doc["decay_bits"] = 10**30
    return doc


NAMED: dict[str, tuple[str, Any]] = {
    "another program's arrays": ("reference", _swap_arrays),
    "an .npy renamed .npz": ("loihi2", _npy_as_npz),
    "an empty arrays.npz": ("reference", _empty_npz),
    "a FIFO for arrays.npz": ("reference", _fifo),
    "deeply nested JSON": ("reference", _deep_json),
    "a JSON list": ("loihi2", _list_json),
    "a duplicate population": ("reference", _json_edit(_duplicate_population)),
    "an unknown neuron kind": ("loihi2", _json_edit(_kind)),
    "a negative shape": ("reference", _json_edit(_negative_shape)),
    "another format version": ("reference", _json_edit(_version)),
    "a slot off the board": ("loihi2", _json_edit(_slot)),
    "a block past its layer": ("reference", _json_edit(_block)),
    "decay_bits of 10**30": ("reference", _json_edit(_decay)),
}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_named_damage_is_refused(tmp_path: Path, name: str) -> None:
    base, damage = NAMED[name]
    folder = _copy(base, tmp_path)
    damage(folder)
    outcome = run_case("program folder (named)", name, lambda: _use(folder))
    assert outcome == "ProgramError", (name, outcome)


@pytest.mark.parametrize("name", ["another program's arrays", "deeply nested JSON"])
def test_cli_says_it_in_one_line(tmp_path: Path, name: str) -> None:
    base, damage = NAMED[name]
    folder = _copy(base, tmp_path)
    damage(folder)
    np.savez(tmp_path / "x.npz", x=X)
    cli = [sys.executable, "-m", "neurocomp.cli"]
    proc = subprocess.run(
        [*cli, "simulate", str(folder), "--input", str(tmp_path / "x.npz")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr


def test_the_saved_programs_load_and_run() -> None:
    for base in BASES:
        assert run_case("program folder (intact)", base, lambda b=base: _use(BASES[b])) == "ok"
