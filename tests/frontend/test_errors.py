"""Bad input ends in a NeurocompError subclass whose message names what is wrong."""

from __future__ import annotations

import nir
import numpy as np
import pytest

import neurocomp as nc

from graphs import affine, chain, lif


def _lif_graph(**overrides):
    rng = np.random.default_rng(0)
    node = lif(3, rng)
    for k, v in overrides.items():
        setattr(node, k, v)
    return chain(("fc", affine(3, 2, rng)), ("lif", node), input_shape=(2,), out=(3,))


def test_missing_file(tmp_path):
    with pytest.raises(nc.NirFileError, match="no such file"):
        nc.load(tmp_path / "absent.nir")


def test_not_hdf5(tmp_path):
    path = tmp_path / "model.nir"
    path.write_text("this is not HDF5")
    with pytest.raises(nc.NirFileError, match="not an HDF5 file"):
        nc.load(path)


def test_hdf5_without_node_group(tmp_path):
    import h5py

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(nc.NirFileError, match="no '/node' group"):
        nc.load(path)


def test_truncated_file(tmp_path):
    good = tmp_path / "good.nir"
    nir.write(good, _lif_graph())
    bad = tmp_path / "bad.nir"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(nc.NirFileError):
        nc.load(bad)


def test_unknown_node_types_listed_at_once(tmp_path):
    import h5py

    path = tmp_path / "unknown.nir"
    nir.write(path, _lif_graph())
    with h5py.File(path, "r+") as f:
        for name, kind in (("fc", "Banana"), ("lif", "Resonator")):
            del f[f"node/nodes/{name}/type"]
            f[f"node/nodes/{name}/type"] = kind.encode()
    with pytest.raises(nc.UnsupportedNodeError) as info:
        nc.load(path)
    assert "'fc' (Banana)" in str(info.value) and "'lif' (Resonator)" in str(info.value)
    assert info.value.nodes == {"fc": "Banana", "lif": "Resonator"}


def test_missing_field(tmp_path):
    import h5py

    path = tmp_path / "missing.nir"
    nir.write(path, _lif_graph())
    with h5py.File(path, "r+") as f:
        del f["node/nodes/lif/v_threshold"]
    with pytest.raises(nc.ParameterError, match="'lif': v_threshold = missing"):
        nc.load(path, dt=1e-4)


@pytest.mark.parametrize("field", ["tau", "r", "v_threshold", "v_leak"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_parameters(field, bad):
    arr = np.ones(3)
    arr[1] = bad
    with pytest.raises(nc.ParameterError, match=f"node 'lif': {field} = .*must be finite"):
        nc.load(_lif_graph(**{field: arr}), dt=1e-4)


@pytest.mark.parametrize("value", [0.0, -1e-3])
def test_non_positive_time_constant(value):
    with pytest.raises(nc.ParameterError, match="node 'lif': tau = .*must be > 0"):
        nc.load(_lif_graph(tau=np.array([1e-3, value, 1e-3])), dt=1e-4)


def test_time_constant_shorter_than_dt():
    with pytest.raises(nc.ParameterError, match=r"tau = 5e-05 \(must be >= dt = 0.0001 s"):
        nc.load(_lif_graph(tau=np.full(3, 5e-5)), dt=1e-4)


def test_shape_mismatch_names_the_edge():
    rng = np.random.default_rng(0)
    g = chain(("fc", affine(4, 2, rng)), ("lif", lif(3, rng)), input_shape=(2,), out=(3,))
    with pytest.raises(
        nc.ShapeError, match="edge 'fc' -> 'lif': 'fc' gives \\(4,\\), 'lif' expects \\(3,\\)"
    ):
        nc.load(g, dt=1e-4)


def test_weight_input_mismatch():
    rng = np.random.default_rng(0)
    g = chain(("fc", affine(3, 5, rng)), ("lif", lif(3, rng)), input_shape=(2,), out=(3,))
    with pytest.raises(nc.ShapeError, match="'fc' \\(Affine\\): weight expects 5 inputs"):
        nc.load(g, dt=1e-4)


def test_dangling_edge():
    g = _lif_graph()
    g.edges.append(("lif", "nowhere"))
    g.edges.append(("elsewhere", "lif"))
    with pytest.raises(nc.GraphError, match="references missing node"):
        nc.load(g, dt=1e-4)


def test_stateless_cycle():
    rng = np.random.default_rng(0)
    g = chain(
        ("a", affine(2, 2, rng)),
        ("b", affine(2, 2, rng)),
        ("lif", lif(2, rng)),
        input_shape=(2,),
        out=(2,),
    )
    g.edges.append(("b", "a"))
    with pytest.raises(nc.GraphError, match="cycle a -> b -> a has no neuron"):
        nc.load(g, dt=1e-4)


def test_dt_required_when_not_certain():
    with pytest.raises(nc.DtError, match="pass dt in seconds"):
        nc.load(_lif_graph(r=np.ones(3)))


@pytest.mark.parametrize("dt", [0.0, -1e-4, float("nan"), float("inf")])
def test_bad_dt(dt):
    with pytest.raises(nc.DtError):
        nc.load(_lif_graph(), dt=dt)


def test_bad_reset():
    with pytest.raises(nc.ParameterError, match="reset = bogus"):
        nc.load(_lif_graph(), dt=1e-4, reset="bogus")


def test_simulation_input_shape():
    net = nc.load(_lif_graph(), dt=1e-4)
    with pytest.raises(nc.InputError, match=r"expected shape \(T, batch, 2\), got \(5, 2\)"):
        nc.simulate(net, np.zeros((5, 2)))
    with pytest.raises(nc.InputError, match="NaN"):
        nc.simulate(net, np.full((5, 1, 2), np.nan))


def test_in_memory_graph_of_wrong_type():
    with pytest.raises(nc.NirFileError, match="give a path or NIRGraph"):
        nc.load(42)
