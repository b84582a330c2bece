"""Fuzz the NIR file reader (and the compiler behind it) with corrupted real .nir files.

Base files, always the same: the shipped digits model, one file per NIR primitive
(tests/graphs.py, written with nir.write) and three files of the NIR zoo copied into
tests/data/nir-zoo (a missing one fails the test). Each case damages one of them: truncation at a
random offset, random byte overwrites, or an h5py rewrite (datasets with wrong dtypes or shapes,
huge declared shapes stored sparsely, deleted fields, garbage type strings, groups and datasets
swapped, bad edge tables, link cycles, dangling links, external storage, hard-link fan-out, many
fill-value datasets, bad metadata dt). Every case must end in success or a
NeurocompError, within the per-case time and memory bounds.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import h5py
import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_util import DERANDOMIZE, DIGITS, ROOT, examples, run_case

import neurocomp as nc

from graphs import every_primitive

ZOO = ROOT / "tests" / "data" / "nir-zoo"
ZOO_FILES = ("lif_norse.nir", "cnn_sinabs.nir", "braille_noDelay_bias_zero_subgraph.nir")
BASES: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def base_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("nir_bases")
    BASES.clear()
    BASES.append(DIGITS / "digits.nir")
    for name, (graph, _) in every_primitive(np.random.default_rng(0)).items():
        path = folder / f"{name}.nir"
        nir.write(path, graph)
        BASES.append(path)
    BASES.extend(ZOO / z for z in ZOO_FILES)
    missing = [str(p) for p in BASES if not p.is_file()]
    assert not missing, f"fuzz base files missing from the repository: {missing}"
    return BASES


def _objects(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visit(names.append)
    return sorted(names)


# (name, data) replacements for a dataset: wrong dtypes, wrong shapes, special values.
REPLACEMENTS: tuple[tuple[str, Any], ...] = (
    ("string", "garbage"),
    ("bytes", np.bytes_(b"\xff\xfe\x00")),
    ("int", np.int64(7)),
    ("negative int", np.int64(-3)),
    ("bool array", np.array([True, False, True])),
    ("complex", np.array([1 + 2j, 3 - 1j])),
    ("float16", np.array([1.5, -2.0], dtype=np.float16)),
    ("uint64 max", np.array([2**64 - 1], dtype=np.uint64)),
    ("empty", np.zeros((0,))),
    ("empty 2-D", np.zeros((0, 3))),
    ("scalar nan", np.float64(np.nan)),
    ("inf array", np.array([np.inf, -np.inf, 1.0])),
    ("nan 2-D", np.full((2, 2), np.nan)),
    ("3-D", np.ones((2, 2, 2))),
    ("vlen strings", np.array(["a", "bb"], dtype=h5py.string_dtype())),
    ("compound", np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])),
    ("huge ints", np.array([2**62, 2**62])),
    ("negative", np.array([-1.0, -2.0, -3.0])),
    ("zero", np.array([0.0])),
    ("edge triples", np.array([["a", "b", "c"]], dtype=h5py.string_dtype())),
    ("numeric edges", np.array([[0, 1], [1, 2]])),
)
# Datasets that declare many elements but store none (chunked, unwritten): a small file.
HUGE_DECLARED = ((2**20,), (2**28,), (2**31 - 1,), (2**31,), (2**40,), (2**24, 2**24))
GARBAGE_TYPES = ("Spiky", "", "lif", "NIRGraph", "Input", "LIF\x01", "\u00e9\u00e9", "Output")


def _replace(group: h5py.Group, key: str, data: Any) -> None:
    del group[key]
    group.create_dataset(key, data=data)


def _h5_mutation(path: Path, op: str, pick: int, choice: int) -> str:
    """Apply one structural corruption to the file at `path`; return what was done."""
    with h5py.File(path, "r+") as f:
        objs = _objects(f)
        datasets = [n for n in objs if isinstance(f[n], h5py.Dataset)]
        groups = ["/", *(n for n in objs if isinstance(f[n], h5py.Group))]
        ds = datasets[pick % len(datasets)]
        grp = groups[pick % len(groups)]
        parent, key = ds.rsplit("/", 1) if "/" in ds else ("/", ds)
        if op in HOSTILE_OPS:
            return HOSTILE_OPS[op](f, path, grp, ds, choice)
        if op == "replace dataset":
            label, data = REPLACEMENTS[choice % len(REPLACEMENTS)]
            _replace(f[parent], key, data)
            return f"{ds} := {label}"
        if op == "huge declared dataset":
            shape = HUGE_DECLARED[choice % len(HUGE_DECLARED)]
            del f[parent][key]
            f[parent].create_dataset(key, shape=shape, dtype="f8", chunks=True)
            return f"{ds} := unwritten float64 dataset of declared shape {shape}"
        if op == "huge shape value":
            shapes = [n for n in datasets if n.endswith(("/shape", "/input_shape"))] or [ds]
            target = shapes[pick % len(shapes)]
            values = ([2**31], [2**40], [2**15, 2**15], [2**62, 2**62], [0], [-4])
            value = np.array(values[choice % len(values)])
            p, k = target.rsplit("/", 1)
            _replace(f[p], k, value)
            return f"{target} := {value.tolist()}"
        if op == "delete dataset":
            del f[parent][key]
            return f"deleted {ds}"
        if op == "delete group":
            if grp == "/":
                del f["node"]
                return "deleted /node"
            del f[grp]
            return f"deleted group {grp}"
        if op == "garbage type":
            types = [n for n in datasets if n.endswith("/type") or n == "node/type"]
            target = types[pick % len(types)]
            value = GARBAGE_TYPES[choice % len(GARBAGE_TYPES)]
            p, k = target.rsplit("/", 1)
            _replace(f[p], k, value)
            return f"{target} := {value!r}"
        if op == "dataset to group":
            del f[parent][key]
            f[parent].create_group(key)
            return f"{ds} := empty group"
        if op == "group to dataset":
            if grp == "/":
                del f["node"]
                f.create_dataset("node", data=np.arange(3))
                return "/node := dataset"
            p, k = grp.rsplit("/", 1) if "/" in grp else ("/", grp)
            del f[p][k]
            f[p].create_dataset(k, data=np.arange(3))
            return f"group {grp} := dataset"
        if op == "hard link cycle":
            g = f[grp]
            g["loop"] = g
            return f"{grp}/loop is a hard link to {grp}"
        if op == "soft link cycle":
            f[grp]["loop"] = h5py.SoftLink("/" + grp.strip("/") if grp != "/" else "/")
            return f"{grp}/loop is a soft link to {grp}"
        if op == "dangling links":
            f[grp]["soft"] = h5py.SoftLink("/does/not/exist")
            f[grp]["ext"] = h5py.ExternalLink("missing_file.h5", "/node")
            return f"{grp} gets a dangling soft link and an external link to a missing file"
        if op == "extra field":
            f[grp].create_dataset("unexpected_field", data=np.arange(choice % 5))
            return f"{grp}/unexpected_field added"
        if op == "attributes":
            f[grp].attrs["type"] = "LIF"
            f[ds].attrs["garbage"] = np.arange(3)
            return f"attributes on {grp} and {ds}"
    raise AssertionError(op)


METADATA_DT: tuple[Any, ...] = (
    "abc",
    -1e-3,
    np.nan,
    1e-300,
    np.inf,
    0.0,
    1e-4,
    5.0,
    1e3,
    [1e-4, 1e-4],
)


def _external_storage(f: h5py.File, path: Path, grp: str, ds: str, choice: int) -> str:
    """The data of another file on disk, read as weights."""
    secret = path.parent / "secret.bin"
    secret.write_bytes(np.arange(64, dtype=np.float64).tobytes())
    parent, key = ds.rsplit("/", 1) if "/" in ds else ("/", ds)
    del f[parent][key]
    f[parent].create_dataset(key, shape=(8,), dtype="f8", external=[(str(secret), 0, 64)])
    return f"{ds} := 8 float64 stored externally in {secret.name}"


def _fan_out(f: h5py.File, path: Path, grp: str, ds: str, choice: int) -> str:
    """Two hard links per level: 2^depth paths through a small file."""
    g = f[grp].create_group("fan")
    for _ in range(8 + choice % 40):
        nxt = g.create_group("a")
        g["b"] = nxt
        g = nxt
    return f"{grp}/fan: hard-link fan-out {8 + choice % 40} levels deep"


def _fill_datasets(f: h5py.File, path: Path, grp: str, ds: str, choice: int) -> str:
    """Unwritten datasets, each under the per-dataset cap, far over it in all."""
    n = 2 + choice % 20
    for i in range(n):
        f[grp].create_dataset(f"fill{i}", shape=(2**25,), dtype="f8", chunks=(2**16,))
    return f"{grp}: {n} unwritten datasets of 2^25 float64"


def _metadata_dt(f: h5py.File, path: Path, grp: str, ds: str, choice: int) -> str:
    meta = f["node"].require_group("metadata")
    if "dt" in meta:
        del meta["dt"]
    value = METADATA_DT[choice % len(METADATA_DT)]
    meta.create_dataset("dt", data=value)
    return f"/node/metadata/dt := {value!r}"


HOSTILE_OPS = {
    "external storage": _external_storage,
    "hard link fan-out": _fan_out,
    "many fill datasets": _fill_datasets,
    "metadata dt": _metadata_dt,
}


OPS = (
    "replace dataset",
    "replace dataset",
    "huge declared dataset",
    "huge shape value",
    "delete dataset",
    "delete group",
    "garbage type",
    "dataset to group",
    "group to dataset",
    "hard link cycle",
    "soft link cycle",
    "dangling links",
    "extra field",
    "attributes",
    "external storage",
    "hard link fan-out",
    "many fill datasets",
    "metadata dt",
)

RECIPE = st.tuples(
    st.integers(0, 2**16),  # base file (mod the number of bases)
    st.one_of(
        st.tuples(st.just("truncate"), st.floats(0.0, 1.0), st.integers(0, 0)),
        st.tuples(
            st.just("overwrite bytes"),
            st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), min_size=1, max_size=8),
            st.integers(0, 0),
        ),
        st.tuples(st.sampled_from(OPS), st.integers(0, 2**16), st.integers(0, 2**16)),  # fmt: skip
    ),
    st.sampled_from((None, 1e-4, 1e-3)),
    st.sampled_from(("reference", "loihi2")),
)


@settings(
    max_examples=examples(600),
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
)
@given(RECIPE)
def test_corrupted_files_load_and_compile_or_fail_cleanly(tmp_path_factory, recipe):
    base_index, (op, a, b), dt, target = recipe
    base = BASES[base_index % len(BASES)]
    folder = tmp_path_factory.mktemp("case", numbered=True)
    path = folder / "model.nir"
    data = base.read_bytes()
    if op == "truncate":
        cut = int(a * len(data))
        path.write_bytes(data[:cut])
        what = f"truncated to {cut} of {len(data)} bytes"
    elif op == "overwrite bytes":
        buf = bytearray(data)
        done = []
        for frac, value in a:
            pos = min(int(frac * len(buf)), len(buf) - 1)
            buf[pos] = value
            done.append((pos, value))
        path.write_bytes(bytes(buf))
        what = f"bytes overwritten (offset, value): {done}"
    else:
        shutil.copyfile(base, path)
        what = _h5_mutation(path, op, a, b)
    description = f"{base.name}: {what}; dt={dt}, target={target}"

    def work() -> None:
        nc.compile(nc.load(path, dt=dt), target=target)

    try:
        run_case("fuzz files (corrupted .nir)", description, work)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
