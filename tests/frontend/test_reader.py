"""Reading real files from other frameworks, repairs, and dt inference."""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest

import neurocomp as nc

from conftest import zoo_file
from graphs import affine, chain, lif


def _load_warns(path, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = nc.load(path, **kw)
    return net, [str(w.message) for w in caught if issubclass(w.category, nc.NeurocompWarning)]


def test_rockpool_output_shape_is_repaired():
    path = zoo_file("lif_rockpool.nir")
    with pytest.raises(ValueError):
        nir.read(path)  # the reason a tolerant reader is needed
    net, msgs = _load_warns(path, dt=1e-4)
    assert any("'output' (Output): leading batch dimension of (1, 1, 1)" in m for m in msgs)
    assert any("node names such as '0_LinearTorch' are Rockpool's" in m for m in msgs)
    assert net.shape_of(net.outputs["output"]) == (1,)


@pytest.mark.parametrize("variant", ["bias_zero", "noBias_subtract"])
def test_braille_subgraph_files_repaired_and_equal_to_flat(variant):
    sub = zoo_file(f"braille_noDelay_{variant}_subgraph.nir")
    flat = zoo_file(f"braille_noDelay_{variant}.nir")
    net_sub, msgs = _load_warns(sub, dt=1e-4)
    assert any("edges name 'lif'" in m for m in msgs)
    net_flat = nc.load(flat, dt=1e-4)
    assert net_sub.neurons == net_flat.neurons
    assert [p.recurrent for p in net_sub.projections] == [p.recurrent for p in net_flat.projections]


@pytest.mark.parametrize("variant", ["bias_zero", "noBias_subtract"])
def test_braille_flat_and_subgraph_simulate_alike(variant):
    """The repaired v0.2.0 subgraph file holds the same trained network as the flat file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        sub = nc.load(zoo_file(f"braille_noDelay_{variant}_subgraph.nir"), dt=1e-4)
    flat = nc.load(zoo_file(f"braille_noDelay_{variant}.nir"), dt=1e-4)
    x = (np.random.default_rng(0).random((100, 4, 12)) < 0.2).astype(float)
    y_sub, y_flat = nc.simulate(sub, x), nc.simulate(flat, x)
    assert y_flat.shape == (100, 4, 7) and y_flat.sum() > 0
    np.testing.assert_array_equal(y_sub, y_flat)


def test_dt_inferred_from_snntorch_convention():
    net, msgs = _load_warns(zoo_file("braille_noDelay_bias_zero.nir"))
    assert net.dt == pytest.approx(1e-4)
    assert any("inferred dt = 0.0001 s" in m and "r = tau/dt" in m for m in msgs)


def test_dt_inference_refuses_mixed_conventions():
    rng = np.random.default_rng(0)
    g = chain(
        ("fc", affine(3, 2, rng)),
        ("a", lif(3, rng, tau=1e-3, r=10.0)),
        ("fc2", affine(3, 3, rng)),
        ("b", lif(3, rng, tau=1e-3, r=5.0)),
        input_shape=(2,),
        out=(3,),
    )
    with pytest.raises(nc.DtError):
        nc.load(g)


def test_dt_from_metadata():
    g = chain(
        ("fc", affine(3, 2, np.random.default_rng(0))),
        ("a", lif(3, np.random.default_rng(1), r=1.0)),
        input_shape=(2,),
        out=(3,),
    )
    g.metadata["dt"] = 5e-4
    net, msgs = _load_warns(g)
    assert net.dt == 5e-4 and any("metadata" in m for m in msgs)


def test_no_dt_needed_without_time_constants():
    net, msgs = _load_warns(zoo_file("cnn_sinabs.nir"))
    assert net.dt is None
    # the only warning: the file looks like Sinabs' (whose IAF neurons default to multi-spike)
    assert len(msgs) == 1 and "looks like a sinabs export" in msgs[0]
    assert net.neurons == 16 * 16 * 16 * 2 + 8 * 8 * 8 + 256 + 10


def test_file_and_graph_load_identically(tmp_path):
    g = chain(
        ("fc", affine(3, 2, np.random.default_rng(0))),
        ("a", lif(3, np.random.default_rng(1))),
        input_shape=(2,),
        out=(3,),
    )
    path = tmp_path / "g.nir"
    nir.write(path, g)
    x = (np.random.default_rng(2).random((30, 2, 2)) < 0.5).astype(float)
    a = nc.simulate(nc.load(g, dt=1e-4), x)
    b = nc.simulate(nc.load(path, dt=1e-4), x)
    np.testing.assert_array_equal(a, b)


def test_scalar_parameters_take_the_layer_shape():
    g = chain(
        ("fc", affine(4, 2, np.random.default_rng(0))),
        (
            "a",
            nir.LIF(
                tau=np.array(1e-3),
                r=np.array(10.0),
                v_leak=np.array(0.0),
                v_threshold=np.array(1.0),
                v_reset=np.array(0.0),
            ),
        ),
        input_shape=(2,),
        out=(4,),
    )
    net = nc.load(g, dt=1e-4)
    assert net.population("a").shape == (4,)


def test_summary_is_readable():
    net = nc.load(zoo_file("cnn_sinabs.nir"))
    text = net.summary()
    assert "8970 neurons" in text and "IF" in text and "input" in text
