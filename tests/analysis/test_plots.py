"""Spike rasters: every dot is a recorded spike, and every recorded spike is a dot."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neurocomp as nc

from conftest import EXAMPLES


@pytest.fixture(scope="module")
def digits_trace():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(EXAMPLES / "digits" / "digits.nir")
    x = np.load(EXAMPLES / "digits" / "digits_test.npz")["x"][:, :3]
    return net, x, nc.simulate(net, x, record=True)


def _dots(ax) -> set[tuple[float, float]]:
    (points,) = ax.collections
    return {(float(a), float(b)) for a, b in points.get_offsets()}


def test_trace_raster_shows_exactly_the_spikes(digits_trace):
    import matplotlib.pyplot as plt

    _, _, trace = digits_trace
    fig = trace.plot(batch=2)
    axes = fig.axes
    assert [ax.get_title().split(":")[0] for ax in axes] == list(trace.spikes)
    for ax, s in zip(axes, trace.spikes.values(), strict=True):
        t, n = np.nonzero(s[:, 2].reshape(len(s), -1))
        assert len(t) > 0
        assert _dots(ax) == {(float(a), float(b)) for a, b in zip(t, n, strict=True)}
        assert f"{len(t)} spikes" in ax.get_title()
    plt.close(fig)


def test_raster_in_seconds_and_population_subset(digits_trace):
    import matplotlib.pyplot as plt

    net, _, trace = digits_trace
    name = list(trace.spikes)[-1]
    fig = trace.plot(populations=[name], dt=net.dt)
    assert len(fig.axes) == 1
    assert fig.axes[0].get_xlabel() == "time (s)"
    t, _ = np.nonzero(trace.spikes[name][:, 0])
    xs = sorted(x for x, _ in _dots(fig.axes[0]))
    np.testing.assert_allclose(xs, sorted(t * net.dt))
    plt.close(fig)


def test_program_run_raster(digits_trace):
    import matplotlib.pyplot as plt

    net, x, _ = digits_trace
    program = nc.compile(net, target="reference")
    result = program.outputs(x, record=True)
    fig = result.plot(batch=1)
    for ax, s in zip(fig.axes, result.spikes.values(), strict=True):
        t, n = np.nonzero(s[:, 1].reshape(len(s), -1))
        assert _dots(ax) == {(float(a), float(b)) for a, b in zip(t, n, strict=True)}
    plt.close(fig)


def test_raster_errors_name_what_is_missing(digits_trace):
    net, x, trace = digits_trace
    with pytest.raises(nc.InputError, match="record=True"):
        nc.Trace(outputs={"output": x}).plot()
    with pytest.raises(nc.InputError, match="nope"):
        trace.plot(populations=["nope"])
    with pytest.raises(nc.InputError, match="batch index 9"):
        trace.plot(batch=9)
