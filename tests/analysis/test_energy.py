"""Energy report: the keys users rely on, sums that add up, figures from the target file."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.analysis.energy import utilisation_grid
from neurocomp.target import load_target

from conftest import EXAMPLES


@pytest.fixture(scope="module")
def report():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        prog = nc.compile(EXAMPLES / "digits" / "digits.nir")
    x = np.load(EXAMPLES / "digits" / "digits_test.npz")["x"][:, :40]
    return prog, x, prog.energy(x)


def test_to_dict_keys_and_layers_in_network_order(report):
    prog, _, rep = report
    d = rep.to_dict()
    for key in ("spikes", "synops", "neuron_updates", "energy_j", "layers"):
        assert key in d
    assert [r["name"] for r in d["layers"]] == ["lif1", "lif2"]
    for r in d["layers"]:
        for key in ("spikes", "synops", "neuron_updates", "energy_j"):
            assert key in r
    assert sum(r["spikes"] for r in d["layers"]) == d["spikes"]
    assert sum(r["synops"] for r in d["layers"]) == d["synops"]
    assert sum(r["neuron_updates"] for r in d["layers"]) == d["neuron_updates"]
    assert d["neuron_updates"] == 25 * 40 * 138  # every neuron updates every step


def test_energy_is_events_times_figures(report):
    _, _, rep = report
    d, e = rep.to_dict(), load_target("reference").energy
    dynamic = (
        d["synops"] * e.synop_j
        + d["neuron_updates_active"] * e.neuron_update_active_j
        + d["neuron_updates_idle"] * e.neuron_update_idle_j
        + (d["messages_local"] + d["messages_remote"]) * e.spike_local_j
    )
    assert d["hops"] == 0  # one core
    assert d["dynamic_energy_j"] == pytest.approx(dynamic, rel=1e-12)
    assert d["static_energy_j"] == pytest.approx(e.static_power_w * d["latency_s"] * 40)
    assert d["energy_per_inference_j"] == pytest.approx(d["energy_j"] / 40)
    assert sum(c["energy_j"] for c in d["cores"]) == pytest.approx(d["dynamic_energy_j"])
    assert d["ann"]["macs"] == report[0].summary["synapses"]


def test_table_and_plot(report, tmp_path):
    _, _, rep = report
    text = rep.table()
    assert "lif1" in text and "per inference" in text and "ANN" in text
    fig = rep.plot()
    fig.savefig(tmp_path / "energy.png")
    assert (tmp_path / "energy.png").stat().st_size > 1000
    grid = rep.utilisation_grid()  # the heatmap: every used core once, at its tile
    assert np.isfinite(grid).sum() == len(rep.cores)
    assert sorted(grid[np.isfinite(grid)]) == sorted(c["utilisation"] for c in rep.cores)
    sub_h, sub_w = utilisation_grid(rep.cores, rep.mesh)[1]
    for c in rep.cores:
        y, x = c["tile_y"] * sub_h, c["tile_x"] * sub_w
        assert np.isfinite(grid[y : y + sub_h, x : x + sub_w]).any()


def test_program_plot_shows_the_mapping(report):
    prog, _, rep = report
    fig = prog.plot()
    bars, heat = fig.axes[:2]
    assert sum(p.get_height() for p in bars.patches) == sum(
        prog.summary["cores_per_layer"].values()
    )
    shown = heat.images[0].get_array()
    assert int((~shown.mask).sum()) == prog.summary["cores_used"]
    np.testing.assert_array_equal(shown.filled(np.nan), rep.utilisation_grid())  # same cores


def test_html_representations(report):
    prog, _, rep = report
    for obj, needle in (
        (rep, "J per inference"),
        (prog, "cores"),
        (nc.load(EXAMPLES / "digits" / "digits.nir", dt=1e-4), "lif1"),
    ):
        html = obj._repr_html_()
        assert html.startswith("<div>") and "<table>" in html and needle in html
