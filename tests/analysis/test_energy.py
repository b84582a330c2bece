"""Energy report: the keys users rely on, sums that add up, figures from the target file."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.analysis.energy import utilisation_grid
from neurocomp.ir.network import Network, NeuronParams, Population, Projection
from neurocomp.ir.ops import Dense
from neurocomp.program.folder import _toml_shape
from neurocomp.target import load_target, spec_from_dict

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
    prog, x, rep = report
    spec = load_target("reference")
    d, e, tm, b = rep.to_dict(), spec.energy, spec.timing, spec.board
    dynamic = (
        d["synops"] * e.synop_j
        + d["neuron_updates_active"] * e.neuron_update_active_j
        + d["neuron_updates_idle"] * e.neuron_update_idle_j
        + d["spikes"] * e.spike_j
        + (d["messages_local"] + d["messages_remote"] + d["messages_input"]) * e.spike_local_j
    )
    assert d["hops"] == 0 and d["messages_chip"] == 0  # one core
    assert d["messages_input"] == d["input_spikes"]  # every input reaches the one core
    assert d["dynamic_energy_j"] == pytest.approx(dynamic, rel=1e-12)
    values = 64 + 10  # inputs streamed in and outputs read out, every step
    assert d["host_energy_j"] == pytest.approx(values * 25 * 40 * b.host_value_j)
    # one core on one tile: the one-tile barrier; a step is the core's work + barrier +
    # management + host traffic
    per_step = tm.barrier_tile_s + tm.step_overhead_s + values * b.host_value_s
    assert d["latency_s"] - d["chip_latency_s"] == pytest.approx(
        25 * (per_step - tm.barrier_tile_s)
    )
    assert d["chip_latency_s"] > 25 * tm.barrier_tile_s
    assert d["static_energy_j"] == pytest.approx(e.static_power_w * d["latency_s"] * 40)
    assert d["energy_per_inference_j"] == pytest.approx(d["energy_j"] / 40)
    assert d["energy_j"] == pytest.approx(
        d["dynamic_energy_j"] + d["host_energy_j"] + d["static_energy_j"]
    )
    assert sum(c["energy_j"] for c in d["cores"]) == pytest.approx(d["dynamic_energy_j"])
    assert d["ann"]["macs"] == prog.summary["synapses"]


def test_band_holds_the_nominal_and_is_the_figures_at_their_ends(report):
    prog, x, rep = report
    d = rep.to_dict()
    for q in ("energy_per_inference", "dynamic_per_inference", "static_per_inference"):
        assert d[f"{q}_low_j"] <= d[f"{q}_j"] <= d[f"{q}_high_j"]
    assert d["latency_low_s"] <= d["latency_s"] <= d["latency_high_s"]
    assert (
        rep.energy_per_inference_low_j
        < rep.energy_per_inference_j
        < rep.energy_per_inference_high_j
    )
    # the high end is the nominal estimate on a chip whose figures are their high ends
    raw = _toml_shape(prog.target.to_dict())
    for section in ("energy", "timing", "board"):
        for fig in raw[section].values():
            fig["value"] = fig.get("high", fig["value"])
    high = dataclasses.replace(prog, target=spec_from_dict(raw, "high.toml")).energy(x)
    assert high.energy_per_inference_j == pytest.approx(rep.energy_per_inference_high_j)
    assert high.latency_s == pytest.approx(rep.latency_high_s)
    # the low end charges static power only for the cores in use (1 of 128)
    lo = prog.target.figures["energy.static_power_w"].band[0]
    assert d["static_per_inference_low_j"] == pytest.approx(lo / 128 * d["latency_low_s"])


def test_activity_sparsity_and_synops_per_inference(report):
    _, _, rep = report
    d = rep.to_dict()
    assert d["synops_per_inference"] == d["synops"] / 40
    assert d["activation_sparsity"] == pytest.approx(1 - d["spikes"] / d["neuron_updates"])


def _two_chip_spec():
    raw = _toml_shape(load_target("reference").to_dict())
    raw["mesh"].update(tiles_x=1, tiles_y=1, cores_per_tile=2)
    raw["core"]["neurons"] = 60
    return spec_from_dict(raw, "two-chip.toml")


def test_messages_between_chips_pay_the_link_and_the_multichip_barrier():
    # 138 neurons in cores of 60 on chips of 2 cores: three cores, on two chips
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        prog = nc.compile(EXAMPLES / "digits" / "digits.nir", target=_two_chip_spec(), chips=2)
    x = np.load(EXAMPLES / "digits" / "digits_test.npz")["x"][:, :5]
    rep = prog.energy(x)
    d, spec = rep.to_dict(), prog.target
    chip_of = np.array([r["chip"] for r in prog.mapping.usage_table(spec)])
    assert len(set(chip_of)) == 2
    # independent count: each lif1 spike sends one message per destination core on another chip
    spikes = prog.run(x, record=True, count=False).spikes["lif1"].sum(axis=(0, 1))
    own = chip_of[prog.mapping.neuron_core["lif1"]]
    dest = prog.mapping.destinations["lif1"].tocsr()
    crossing = np.array([(chip_of[dest[i].indices] != own[i]).sum() for i in range(dest.shape[0])])
    assert d["messages_chip"] == int(spikes @ crossing) > 0
    link = d["messages_chip"] * spec.board.chip_link_j
    assert d["dynamic_by_event_j"]["msgs_chip"] * 5 == pytest.approx(link)
    per_step = spec.board.chip_barrier_s + spec.timing.step_overhead_s
    assert d["chip_latency_s"] > 25 * spec.board.chip_barrier_s
    assert d["latency_s"] > 25 * per_step


def test_table_and_plot(report, tmp_path):
    _, _, rep = report
    text = rep.table()
    assert "lif1" in text and "per inference" in text and "ANN" in text
    assert "pre-silicon simulation" in text and "[" in text.split("per inference:")[1]
    fig = rep.plot()
    fig.savefig(tmp_path / "energy.png")
    band = fig.axes[1]  # energy per inference by part, the band as an error bar
    assert [p.get_height() for p in band.patches] == pytest.approx(
        [rep.totals[f"{k}_per_inference_j"] for k in ("dynamic", "host", "static")]
    )
    (err,) = [c for c in band.containers if hasattr(c, "lines") and c.lines[1]]
    assert sorted(cap.get_ydata()[0] for cap in err.lines[1]) == pytest.approx(
        [rep.energy_per_inference_low_j, rep.energy_per_inference_high_j]
    )
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
    html = rep._repr_html_()
    assert "Figures used" in html and "Davies18" in html and "measured" in html


def test_one_chip_energy_ignores_the_board_and_reports_zero_board_lines(report):
    prog, x, rep = report
    d = rep.to_dict()
    assert d["chips_used"] == 1 and d["messages_chip"] == 0
    for key in ("chip_link_per_inference", "chip_barrier_step"):
        assert [v for k, v in d.items() if k.startswith(key)] == [0.0, 0.0, 0.0]
    assert not any(line.startswith("chip links") for line in rep.footer())
    # a one-chip program's energy does not depend on the chip-to-chip figures
    raw = _toml_shape(prog.target.to_dict())
    for key in ("chip_link_j", "chip_link_s", "chip_barrier_s", "chip_barrier_doubling_s"):
        raw["board"][key] = {"value": 1e-3, "kind": "assumed", "source": "a test's board"}
    other = dataclasses.replace(prog, target=spec_from_dict(raw, "other-board.toml"))
    assert other.energy(x).to_dict()["energy_per_inference_j"] == d["energy_per_inference_j"]


def test_several_chips_report_links_and_barrier_in_the_footer():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        prog = nc.compile(EXAMPLES / "digits" / "digits.nir", target=_two_chip_spec(), chips=2)
    x = np.load(EXAMPLES / "digits" / "digits_test.npz")["x"][:, :5]
    rep = prog.energy(x)
    t, spec = rep.totals, prog.target
    assert t.chips_used == 2
    assert t.chip_link_per_inference_j == pytest.approx(
        t.messages_chip / 5 * spec.board.chip_link_j
    )
    assert t.chip_link_per_inference_low_j < t.chip_link_per_inference_j
    assert t.chip_link_per_inference_j < t.chip_link_per_inference_high_j
    assert t.chip_barrier_step_s == pytest.approx(spec.board.chip_barrier_s)  # two chips
    lines = [ln for ln in rep.footer() if ln.startswith(("chip links", "barrier across"))]
    assert len(lines) == 2 and "barrier across 2 of 2 chips" in lines[1]
    assert f"{t.chip_link_per_inference_j:.3e}" in lines[0] and "[" in lines[0]


def _graded_net(multi_spike: bool) -> Network:
    """in -> a -> b -> c; `a` sends graded payloads (sigma-delta values, or multi-spike counts
    with `multi_spike`), b and c are binary LIFs (b sends one-bit spikes to c)."""
    rng = np.random.default_rng(4)

    def lif(n: int, vth: float) -> NeuronParams:
        return NeuronParams(np.full(n, 0.1), np.ones(n), np.zeros(n), np.zeros(n), np.full(n, vth))

    if multi_spike:
        a = dataclasses.replace(lif(5, 0.3), reset="subtract", max_spikes=4)
        pop_a = Population("a", (5,), "LIF", a)
    else:
        a = NeuronParams(
            np.zeros(5), np.ones(5), np.zeros(5), np.zeros(5), np.full(5, 2 / 64),
            sigma_delta="relu", payload_unit=1 / 64,
        )  # fmt: skip
        pop_a = Population("a", (5,), "SigmaDelta", a)
    return Network(
        inputs={"in": (6,)},
        populations=(pop_a, Population("b", (4,), "LIF", lif(4, 0.3)),
                     Population("c", (3,), "LIF", lif(3, 0.3))),
        projections=(
            Projection("w1", "in", "a", (Dense(rng.uniform(0.0, 0.2, (5, 6))),)),
            Projection("w2", "a", "b", (Dense(rng.uniform(0.0, 0.3, (4, 5))),)),
            Projection("w3", "b", "c", (Dense(rng.uniform(0.0, 0.5, (3, 4))),)),
        ),
        outputs={"y": "c"},
    )  # fmt: skip


@pytest.mark.parametrize("multi_spike", [False, True], ids=["sigma-delta", "multi-spike"])
def test_a_payload_prices_exactly_the_messages_that_carry_one(multi_spike):
    """On loihi2 (24-bit payloads: a payload message costs (32 + 24) / 32 bare ones), by hand
    from the recorded spikes: the graded population's messages and the graded input's (values
    above 1) at that factor, the binary population's bare; one core, so every message is local.
    A wider payload changes the graded layer's energy only, by its messages x the difference."""
    x = np.random.default_rng(5).integers(0, 4, (12, 2, 6))  # graded input: values up to 3
    net = _graded_net(multi_spike)
    spec = load_target("loihi2")
    prog = nc.compile(net, target=spec)
    assert prog.mapping.cores_used == 1 and spec.format.spike_payload_bits == 24
    spikes = prog.run(x, record=True, count=False).spikes
    sent = {k: int(np.count_nonzero(v)) for k, v in spikes.items()}  # one message each
    assert sent["a"] and sent["b"] and ((spikes["a"] > 1) | (spikes["a"] < 0)).any()  # graded
    inputs = int(np.count_nonzero(x))  # every channel has synapses on the one core
    rep = prog.energy(x)
    t, batch, j = rep.totals, x.shape[1], spec.energy.spike_local_j
    assert (t.messages_local, t.messages_input) == (sent["a"] + sent["b"], inputs)
    parts = t.dynamic_by_event_j
    assert parts["msgs_local"] == pytest.approx((sent["b"] + 1.75 * sent["a"]) * j / batch)
    assert parts["msgs_input"] == pytest.approx(1.75 * inputs * j / batch)
    wide = dataclasses.replace(spec, format=dataclasses.replace(spec.format, spike_payload_bits=56))
    rep56 = nc.compile(net, target=wide).energy(x)
    layer = lambda r: {d["name"]: d["energy_j"] for d in r.layers}  # noqa: E731
    l24, l56 = layer(rep), layer(rep56)
    assert l56["a"] - l24["a"] == pytest.approx(sent["a"] * j * (2.75 - 1.75))
    assert l56["b"] == pytest.approx(l24["b"]) and l56["c"] == pytest.approx(l24["c"])
    # binary input (0/1): its messages are bare
    bits = (x > 1).astype(np.int64)
    bare_in = nc.compile(net, target=spec).energy(bits).totals
    assert bare_in.dynamic_by_event_j["msgs_input"] == pytest.approx(
        bare_in.messages_input * j / batch
    )
