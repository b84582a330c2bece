"""Hostile NIR files: each is refused with one line naming what is wrong, never read or allocated.

Each case rewrites a copy of the shipped digits model with h5py (or builds a small graph) the way
a broken exporter or an attacker could, and checks the error class and the words of its message.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

import neurocomp as nc
from neurocomp.frontend.lower import MAX_DELAY_STEPS
from neurocomp.frontend.reader import DT_RANGE_S, MAX_FILE_BYTES

from conftest import ROOT
from graphs import affine, chain, lif

DIGITS = ROOT / "examples" / "digits" / "digits.nir"


def _copy(tmp_path: Path, name: str = "model.nir") -> Path:
    path = tmp_path / name
    shutil.copyfile(DIGITS, path)
    return path


def _small(r: float | None = None) -> nir.NIRGraph:
    rng = np.random.default_rng(0)
    return chain(("fc", affine(3, 2, rng)), ("a", lif(3, rng, r=r)), input_shape=(2,), out=(3,))


def _refused(path_or_graph, cls: type, *needles: str, dt: float | None = 1e-4) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(cls) as info:
            nc.load(path_or_graph, dt=dt)
    text = str(info.value)
    assert "\n" not in text, text
    for needle in needles:
        assert needle in text, text
    return text


def test_external_raw_storage_never_reads_another_file(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(128, dtype=np.float64).tobytes())
    path = _copy(tmp_path)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/fc1/bias"]
        f["node/nodes/fc1"].create_dataset(
            "bias", shape=(128,), dtype="f8", external=[(str(secret), 0, 128 * 8)]
        )
    _refused(path, nc.NirFileError, "'/node/nodes/fc1/bias'", "another file", "refused")


@pytest.mark.parametrize("kind", ["external", "soft"])
def test_links_are_refused(tmp_path, kind):
    other = _copy(tmp_path, "other.nir")
    path = _copy(tmp_path)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/fc1/weight"]
        link = (
            h5py.ExternalLink(str(other), "/node/nodes/fc1/weight")
            if kind == "external"
            else h5py.SoftLink("/node/nodes/fc2/weight")
        )
        f["node/nodes/fc1/weight"] = link
    _refused(path, nc.NirFileError, "'/node/nodes/fc1/weight'", f"{kind} link", "refused")


def test_hard_links_that_multiply_the_graph_are_refused(tmp_path):
    """Two hard links per level to the next group: 2^40 paths through a few hundred bytes."""
    path = _copy(tmp_path)
    with h5py.File(path, "r+") as f:
        groups = [f["node/nodes/lif1"].create_group("deep")]
        for _ in range(40):
            nxt = groups[-1].create_group("g")
            groups[-1]["h"] = nxt
            groups.append(nxt)
    _refused(path, nc.NirFileError, "reached twice", "hard link")


@pytest.mark.parametrize(
    "data,words",
    [
        (np.array([1 + 2j, 3 - 1j] * 64), "complex"),
        (np.ones(128, dtype=bool), "boolean"),
        (np.array([(1, 2.0)] * 128, dtype=[("a", "i4"), ("b", "f8")]), "compound"),
    ],
)
def test_non_real_dtypes_are_refused(tmp_path, data, words):
    path = _copy(tmp_path)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/fc1/bias"]
        f["node/nodes/fc1"].create_dataset("bias", data=data)
    _refused(path, nc.NirFileError, "'/node/nodes/fc1/bias'", words)


@pytest.mark.parametrize(
    "data", [np.array([b"1.5", b"2"] * 64), np.array(["a", "bb"] * 64, dtype=h5py.string_dtype())]
)
def test_string_weights_give_one_line_without_an_array(tmp_path, data):
    path = _copy(tmp_path)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/fc1/bias"]
        f["node/nodes/fc1"].create_dataset("bias", data=data)
    text = _refused(path, nc.ParameterError, "node 'fc1': bias", "must be real numbers")
    assert "array(" not in text and "b'" not in text


def test_in_memory_graph_with_complex_weights_is_refused():
    g = _small()
    g.nodes["fc"].weight = g.nodes["fc"].weight + 1j
    _refused(g, nc.ParameterError, "node 'fc': weight", "complex")


def test_total_declared_size_is_bounded(tmp_path):
    """Twenty unwritten 200 MB datasets: each under the per-dataset cap, a small file in all."""
    path = _copy(tmp_path)
    with h5py.File(path, "r+") as f:
        for i in range(20):
            f["node/nodes/lif1"].create_dataset(f"pad{i}", shape=(25_000_000,), dtype="f8")
    assert path.stat().st_size < 1_000_000
    _refused(path, nc.NirFileError, "in all", str(MAX_FILE_BYTES))


@pytest.mark.parametrize("value", ["abc", -1e-3, np.nan, 1e-300, np.inf, np.array([1e-4, 1e-4])])
def test_metadata_dt_is_checked(value):
    g = _small()
    g.metadata["dt"] = value
    lo, hi = DT_RANGE_S
    _refused(g, nc.DtError, "metadata dt", f"[{lo}, {hi}]", dt=None)


def test_metadata_dt_in_range_is_used(tmp_path):
    g = _small(r=1.0)
    g.metadata["dt"] = 2e-4
    path = tmp_path / "g.nir"
    nir.write(path, g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert nc.load(path).dt == 2e-4


def test_empty_graph_and_missing_ports_are_refused():
    _refused(nir.NIRGraph(nodes={}, edges=[], type_check=False), nc.GraphError, "no nodes")
    g = chain(("a", lif(3, np.random.default_rng(1))), input_shape=(3,), out=(3,))
    no_out = nir.NIRGraph(
        nodes={k: v for k, v in g.nodes.items() if k != "output"},
        edges=[e for e in g.edges if e[1] != "output"],
        type_check=False,
    )
    _refused(no_out, nc.GraphError, "no Output node")
    no_in = nir.NIRGraph(
        nodes={k: v for k, v in g.nodes.items() if k != "input"},
        edges=[e for e in g.edges if e[0] != "input"],
        type_check=False,
    )
    _refused(no_in, nc.GraphError, "no Input node")


def test_long_delay_is_refused_before_simulate_allocates():
    g = chain(
        ("d", nir.Delay(delay=np.full(3, 1e4))),
        ("a", lif(3, np.random.default_rng(1))),
        input_shape=(3,),
        out=(3,),
    )
    _refused(g, nc.ParameterError, "node 'd': delay", f"at most {MAX_DELAY_STEPS} steps")
    g.nodes["d"].delay = np.full(3, 1e300)
    _refused(g, nc.ParameterError, "node 'd': delay", dt=1e-9)


def test_short_delay_still_loads():
    g = chain(
        ("d", nir.Delay(delay=np.full(3, 5e-4))),
        ("a", lif(3, np.random.default_rng(1))),
        input_shape=(3,),
        out=(3,),
    )
    net = nc.load(g, dt=1e-4)
    assert net.projections[0].ops[0].max_steps == 5


@pytest.mark.parametrize("bias", [np.zeros((0, 3)), np.zeros(5), np.zeros((4, 1))])
def test_conv_bias_of_the_wrong_shape(bias):
    rng = np.random.default_rng(0)
    conv = nir.Conv1d(
        input_shape=None,
        weight=rng.normal(size=(4, 2, 3)),
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=bias,
    )
    g = chain(("conv", conv), ("a", lif(1, rng)), input_shape=(2, 8), out=(4, 6))
    _refused(g, nc.ShapeError, "node 'conv' (Conv1d): bias shape")


def test_fifo_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "pipe.nir"
    os.mkfifo(fifo)
    _refused(fifo, nc.NirFileError, "not a regular file")


@pytest.mark.parametrize("value", [True, "1e-4", None, 0.0, 11.0, [1e-4], 1 + 1j])
def test_check_dt_refuses_with_the_range(value):
    from neurocomp.frontend.reader import check_dt

    with pytest.raises(
        nc.DtError, match=r"dt = .*: must be a number of seconds in \[1e-09, 10.0\]"
    ):
        check_dt(value)


@pytest.mark.parametrize("value", [1e-4, np.float32(1e-3), np.array(1e-9), 10, 5e-4])
def test_check_dt_accepts_seconds_in_range(value):
    from neurocomp.frontend.reader import check_dt

    assert check_dt(value) == pytest.approx(float(value))
