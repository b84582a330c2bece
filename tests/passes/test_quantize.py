"""quantize: integers on a shared grid per population, within the declared widths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

import neurocomp as nc
from neurocomp.passes.fold import matrix_of
from neurocomp.passes.quantize import mse_clip

from graphs import affine, chain, cubalif, every_primitive, lif


def _net(seed: int, n_in: int, n_hidden: int, scale: float):
    rng = np.random.default_rng(seed)
    g = chain(
        ("fc", affine(n_hidden, n_in, rng, scale)),
        ("h", lif(n_hidden, rng)),
        ("fc2", affine(3, n_hidden, rng, scale)),
        ("o", cubalif(3, rng)),
        input_shape=(n_in,),
        out=(3,),
    )
    return nc.load(g, dt=1e-4)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    bits=st.integers(2, 12),
    granularity=st.sampled_from(["layer", "channel", "auto"]),
    clip=st.sampled_from(["auto", "max", "mse"]),
    n_in=st.integers(1, 12),
    n_hidden=st.integers(1, 12),
    scale=st.floats(1e-3, 1e3),
)
def test_quantized_values_are_integers_on_the_grid(
    seed, bits, granularity, clip, n_in, n_hidden, scale
):
    net = _net(seed, n_in, n_hidden, scale)
    folded = nc.transform(net, "fold").network
    text = f"quantize{{weight_bits={bits},granularity={granularity},clip={clip}}}"
    q = nc.transform(net, text).network
    qmax = 2 ** (bits - 1) - 1
    for pr, pr0 in zip(q.projections, folded.projections, strict=True):
        s = q.population(pr.post).quant.scale.reshape(-1)[:, None]
        m, m0 = matrix_of(pr).weight.toarray(), matrix_of(pr0).weight.toarray()
        ints = m / s
        np.testing.assert_allclose(ints, np.round(ints), atol=1e-6)
        assert np.abs(np.round(ints)).max() <= qmax
        # Round to nearest within the range, the range's end beyond it (a clip below max |w|).
        inside = np.abs(m0) <= qmax * s * (1 + 1e-9)
        assert np.all(np.abs(m - m0)[inside] <= np.broadcast_to(s / 2, m.shape)[inside] * 1.001)
        np.testing.assert_allclose(m[~inside], (np.sign(m0) * qmax * s)[~inside], rtol=1e-9)
        if clip == "max" or (clip == "auto" and bits > 3):
            assert inside.all()  # max-abs never clips
        if granularity == "layer" or (granularity == "auto" and bits > 3):
            assert np.ptp(s) == 0
    for pop in q.populations:
        s = pop.quant.scale
        for arr in (pop.params.v_threshold, pop.params.v_reset, pop.params.v_bias):
            if arr is not None:
                np.testing.assert_allclose(arr / s, np.round(arr / s), atol=1e-6)
        step = 2.0**-12
        np.testing.assert_allclose(pop.params.dv / step, np.round(pop.params.dv / step), atol=1e-9)


def test_threshold_keeps_its_ratio_to_the_weights():
    net = _net(3, 8, 10, 0.7)
    q = nc.transform(net, "quantize{weight_bits=8}").network
    f = nc.transform(net, "fold").network
    for name in ("h", "o"):
        wq = np.abs(matrix_of(q.projections_into(name)[0]).weight.data).max()
        w0 = np.abs(matrix_of(f.projections_into(name)[0]).weight.data).max()
        thr_q = q.population(name).params.v_threshold
        thr_0 = f.population(name).params.v_threshold
        np.testing.assert_allclose(thr_q / wq, thr_0 / w0, rtol=2 / 127)


def test_report_fields_and_saturation_counting():
    net = _net(5, 6, 8, 2.0)
    x = (np.random.default_rng(0).random((40, 4, 6)) < 0.5).astype(float)
    rep = nc.transform(net, "quantize{weight_bits=8,state_bits=8}", calibration=x).reports[0]
    for layer in rep["layers"]:
        for key in (
            "scale_min",
            "scale_max",
            "exponent",
            "weight_rel_err_max",
            "weight_rel_err_rms",
            "state_saturations",
            "scales_raised_for_state",
        ):
            assert key in layer
    wide = nc.transform(net, "quantize{weight_bits=8}", calibration=x).reports[0]
    for layer in wide["layers"]:
        assert layer["scales_raised_for_state"] == 0 and layer["state_saturations"] == 0
        assert 0 < layer["weight_rel_err_max"] <= 0.5 / 127 + 1e-12
    # With an 8-bit state the calibration run forces coarser scales: counted, and saturation rare.
    assert sum(layer["scales_raised_for_state"] for layer in rep["layers"]) > 0
    state_samples = 40 * 4 * (8 + 3 * 2)  # steps x batch x (LIF v + CubaLIF v and u)
    assert sum(layer["state_saturations"] for layer in rep["layers"]) <= 0.01 * state_samples


def test_every_primitive_quantizes_and_stays_close():
    cases = every_primitive(np.random.default_rng(5))
    for name, (graph, shape) in cases.items():
        net = nc.load(graph, dt=1e-4)
        q = nc.transform(net, "quantize{weight_bits=12,granularity=channel}").network
        x = (np.random.default_rng(1).random((40, 2, *shape)) < 0.3).astype(float)
        a, b = nc.simulate(net, x), nc.simulate(q, x)
        assert a.shape == b.shape
        if net.population(net.outputs["output"]).params.spiking:
            assert np.mean(a.sum(0) == b.sum(0)) >= 0.5, name


def test_bad_option_value():
    with pytest.raises(nc.PassError, match="granularity = 'tensor' .*one of 'auto', 'layer'"):
        nc.transform(_net(0, 2, 2, 1.0), "quantize{granularity=tensor}")


def _sq_error(w: np.ndarray, c: float, qmax: int) -> float:
    s = c / qmax
    return float(np.sum(np.square(w - np.clip(np.round(w / s), -qmax, qmax) * s)))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    bits=st.integers(2, 8),
    rows=st.integers(1, 6),
    cols=st.integers(1, 40),
    tail=st.floats(0.5, 8.0),
    density=st.floats(0.2, 1.0),
)
def test_mse_clip_never_errs_more_than_max_abs(seed, bits, rows, cols, tail, density):
    rng = np.random.default_rng(seed)
    dense = rng.standard_t(tail, (rows, cols)) * (rng.random((rows, cols)) < density)
    w = sparse.csr_matrix(dense)
    qmax = 2 ** (bits - 1) - 1
    for groups in (np.zeros(rows, np.int64), np.arange(rows)):  # per layer, per neuron
        top = np.zeros(rows)
        for g in np.unique(groups):
            vals = np.abs(dense[groups == g])
            top[groups == g] = vals.max()
        c = mse_clip([w], top, groups, qmax)
        for g in np.unique(groups):
            vals = dense[groups == g][dense[groups == g] != 0]
            if vals.size == 0:
                continue
            chosen = c[groups == g]
            assert np.ptp(chosen) == 0 and 0 < chosen[0] <= top[groups == g][0]
            assert _sq_error(vals, chosen[0], qmax) <= _sq_error(vals, top[groups == g][0], qmax)


def test_low_bits_default_to_the_mse_clip_per_neuron():
    net = _net(4, 12, 12, 1.0)
    for bits, granularity, clip in (
        (2, "channel", "mse"),
        (3, "channel", "mse"),
        (4, "layer", None),
    ):
        rep = nc.transform(net, f"quantize{{weight_bits={bits}}}").reports[0]
        assert rep["granularity"] == granularity
        assert [layer.get("clip") for layer in rep["layers"]] == [clip, clip]
    # 8 bits: the scales max-abs scaling gives, explicitly or by default
    same = [
        nc.transform(net, p).network for p in ("quantize", "quantize{clip=max,granularity=layer}")
    ]
    for a, b in zip(*(n.populations for n in same), strict=True):
        np.testing.assert_array_equal(a.quant.scale, b.quant.scale)
    with pytest.raises(nc.PassError, match="clip = mse"):
        nc.transform(net, "quantize{clip=mse,percentile=90}")


def test_two_bit_mse_clip_keeps_most_weights_on_digits():
    import warnings

    from conftest import EXAMPLES

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(EXAMPLES / "digits" / "digits.nir")
    n0 = nc.transform(net, "fold").network.synapses
    # max-abs with one scale per layer rounds 96 % of the weights to zero; the default keeps most
    old = nc.transform(net, "quantize{weight_bits=2,clip=max,granularity=layer}").network
    new = nc.transform(net, "quantize{weight_bits=2}").network
    assert old.synapses < 0.1 * n0 and new.synapses > 0.5 * n0
