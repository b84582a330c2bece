"""Regression tests: minimal reproductions of the bugs the fuzzers found (all fixed).

A new find goes into robust_util.KNOWN_BUGS with a strict xfail here until it is fixed; then the
mark and the entry are deleted, so the fuzzers fail on the bug if it comes back.
"""

from __future__ import annotations

import contextlib
import warnings

import h5py
import nir
import numpy as np
import pytest
from robust_util import bounded

import neurocomp as nc


def _must_fail_cleanly(fn) -> None:
    """fn must raise a NeurocompError within the fuzz case bounds (20 s, 2 GiB)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with bounded(), pytest.raises(nc.NeurocompError):
            fn()


def _graph(nodes: dict, edges: list) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _chain(shape, *middle: tuple[str, nir.NIRNode], out=None) -> nir.NIRGraph:
    nodes = {"in": nir.Input(input_type={"input": np.array(shape)})}
    edges, prev = [], "in"
    for name, node in middle:
        nodes[name] = node
        edges.append((prev, name))
        prev = name
    nodes["out"] = nir.Output(output_type={"output": np.array(out if out is not None else shape)})
    edges.append((prev, "out"))
    return _graph(nodes, edges)


def _lif(shape=()) -> nir.LIF:
    return nir.LIF(
        tau=np.full(shape, 5e-3),
        r=np.ones(shape),
        v_leak=np.zeros(shape),
        v_threshold=np.ones(shape),
        v_reset=np.zeros(shape),
    )


@pytest.mark.parametrize("shape", [[2**31], [2**15, 2**15]])
def test_huge_declared_input_shape_is_refused_not_allocated(shape):
    _must_fail_cleanly(lambda: nc.load(_chain(shape, ("lif", _lif())), dt=1e-4))


def test_huge_declared_readout_is_refused_not_allocated():
    _must_fail_cleanly(
        lambda: nc.load(_chain([2**31], ("s", nir.Scale(scale=np.array(2.0)))), dt=1e-4)
    )


def test_huge_declared_passthrough_is_refused_not_allocated():
    def work():
        net = nc.load(_chain([2**31]), dt=1e-4)
        nc.compile(net, passes="prune_neurons{dead=false}")

    _must_fail_cleanly(work)


def test_huge_declared_dataset_in_file_is_refused(tmp_path):
    path = tmp_path / "huge.nir"
    nir.write(path, _chain([3], ("lif", _lif(3))))
    with h5py.File(path, "r+") as f:
        del f["node/nodes/lif/tau"]
        f["node/nodes/lif"].create_dataset("tau", shape=(2**30,), dtype="f8", chunks=True)
    assert path.stat().st_size < 100_000
    _must_fail_cleanly(lambda: nc.load(path, dt=1e-4))


@pytest.mark.parametrize("start", [np.array([0, 1]), np.array("x"), np.float64(np.inf)])
def test_flatten_with_non_integer_dims(start):
    flat = nir.Flatten(input_type={"input": np.array([2, 3])}, start_dim=0)
    flat.start_dim = start
    _must_fail_cleanly(lambda: nc.load(_chain([2, 3], ("flat", flat), ("lif", _lif())), dt=1e-4))


@pytest.mark.parametrize("groups", [np.float64(np.nan), np.ones((2, 2))])
def test_conv_with_bad_groups(groups):
    conv = nir.Conv1d(
        input_shape=None,
        weight=np.ones((2, 2, 3)),
        stride=1,
        padding=1,
        dilation=1,
        groups=1,
        bias=np.zeros(2),
    )
    conv.groups = groups
    _must_fail_cleanly(lambda: nc.load(_chain([2, 5], ("conv", conv), ("lif", _lif())), dt=1e-4))


def test_pool_with_string_kernel():
    pool = nir.SumPool2d(
        kernel_size=np.array([2, 2]), stride=np.array([1, 1]), padding=np.array([0, 0])
    )
    pool.kernel_size = np.array(["a", "a"])
    _must_fail_cleanly(lambda: nc.load(_chain([1, 4, 4], ("pool", pool), ("lif", _lif())), dt=1e-4))


def test_two_dimensional_declared_shape():
    _must_fail_cleanly(
        lambda: nc.load(_chain([3], ("lif", _lif(3)), out=[[1, 2], [3, 4]]), dt=1e-4)
    )


def test_node_stored_as_dataset(tmp_path):
    path = tmp_path / "flat.nir"
    with h5py.File(path, "w") as f:
        f.create_dataset("version", data="1.0")
        f.create_dataset("node", data=np.arange(3))
    _must_fail_cleanly(lambda: nc.load(path))


def test_prune_neurons_emptying_a_layer_then_compile():
    g = _chain(
        [2],
        ("fc", nir.Affine(weight=np.array([[-1.0, -1.0]]), bias=np.array([-1.0]))),
        ("lif", _lif(1)),
        ("fc2", nir.Affine(weight=np.array([[1.0]]), bias=np.array([0.0]))),
        ("lif2", _lif(1)),
        out=[1],
    )
    net = nc.load(g, dt=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # compiling (keeping an empty or dropped layer) or a NeurocompError are both fine
        with bounded(), contextlib.suppress(nc.NeurocompError):
            nc.compile(net, passes="prune_neurons{dead=false}")
