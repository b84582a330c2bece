"""Sourced figures: every energy, timing and board figure of a shipped chip says what kind it is
and where it comes from; the loader refuses a figure whose kind, source or band is wrong."""

from __future__ import annotations

import copy
import tomllib

import pytest

import neurocomp as nc
from neurocomp.target import load_target, shipped_targets, spec_from_dict
from neurocomp.target.figures import KINDS, Figure

from conftest import ROOT

SECTIONS = ("energy", "timing", "board")


@pytest.mark.parametrize("name", sorted(shipped_targets()))
def test_every_shipped_figure_has_kind_source_and_band(name):
    spec = load_target(name)
    raw = tomllib.loads((ROOT / "targets" / f"{name}.toml").read_text())
    for section in SECTIONS:
        for key, value in raw[section].items():
            assert isinstance(value, dict), f"{name} [{section}].{key} is a bare number"
            fig = spec.figures[f"{section}.{key}"]
            assert fig.kind in KINDS and fig.kind != "unspecified", (section, key)
            assert len(fig.source) > 10, (section, key)
            lo, hi = fig.band
            assert lo <= fig.value <= hi
    assert spec.figures["energy.static_power_w"].kind == "measured"


def test_loihi1_table2_is_pre_silicon_simulation_not_measured():
    spec = load_target("reference")
    for key in ("synop_j", "neuron_update_active_j", "hop_ew_j"):
        fig = spec.figures[f"energy.{key}"]
        assert fig.kind == "pre-silicon simulation" and "Davies18" in fig.source
    synop = spec.figures["energy.synop_j"]
    assert synop.value == pytest.approx(23.6e-12) and synop.band[1] == pytest.approx(35.5e-12)
    assert "minimum" in synop.source


def test_loihi2_static_power_is_the_measured_oheo_gulch_figure():
    fig = load_target("loihi2").figures["energy.static_power_w"]
    assert fig.value == pytest.approx(0.232) and fig.kind == "measured"
    assert "PilotNet" in fig.source and "Oheo Gulch" in fig.source


def test_fitted_figures_name_what_they_were_fitted_to():
    for name in shipped_targets():
        for key, fig in load_target(name).figures.items():
            if fig.kind == "fitted":
                assert "fitted to" in fig.source and "energy_validation" in fig.source, key


REF = tomllib.loads((ROOT / "targets" / "reference.toml").read_text())


def _with(section: str, key: str, value):
    d = copy.deepcopy(REF)
    d[section][key] = value
    return d


@pytest.mark.parametrize(
    "value,needle",
    [
        ({"value": 1e-12, "kind": "guessed", "source": "x"}, "kind = 'guessed': must be one of"),
        ({"value": 1e-12, "kind": "measured"}, "kind 'measured' needs a 'source'"),
        ({"value": 1e-12, "low": 2e-12, "kind": "assumed", "source": "s"}, "band must hold"),
        ({"value": 1e-12, "high": 0.5e-12, "kind": "assumed", "source": "s"}, "band must hold"),
        ({"value": -1.0, "kind": "assumed", "source": "s"}, "value = -1.0: must be finite"),
        ({"value": 1e-12, "units": "J"}, "unknown field(s) ['units']"),
        ({"kind": "assumed", "source": "s"}, "has no 'value'"),
        ("lots", "must be a number"),
    ],
)
def test_bad_figures_are_refused_naming_the_key(value, needle):
    with pytest.raises(nc.TargetError) as info:
        spec_from_dict(_with("energy", "synop_j", value), "chip.toml")
    assert needle in str(info.value) and "[energy].synop_j" in str(info.value)


def test_a_bare_number_is_accepted_as_unspecified_and_defaults_fill_in():
    d = _with("energy", "synop_j", 5e-12)
    del d["board"]
    del d["timing"]["barrier_tile_s"]
    spec = spec_from_dict(d, "chip.toml")
    assert spec.figures["energy.synop_j"] == Figure(5e-12)
    assert spec.timing.barrier_tile_s == spec.timing.barrier_s  # one tile: the chip's barrier
    assert spec.board.chip_barrier_s == spec.timing.barrier_s
    assert spec.board.host_value_s == 0.0 and spec.board.chip_link_j == 0.0


def test_figures_survive_a_saved_program(tmp_path):
    prog = nc.compile(ROOT / "examples" / "digits" / "digits.nir", dt=1e-4)
    prog.save(tmp_path / "p")
    again = nc.load_program(tmp_path / "p")
    assert again.target.figures == prog.target.figures
    assert again.target.board == prog.target.board


@pytest.mark.parametrize(
    "key,value,needles",
    [
        ("chip_link_j", {"value": -1e-12, "kind": "assumed", "source": "s"},
         ("[board].chip_link_j.value = -1e-12", "must be finite and >= 0")),
        ("chip_link_s", {"value": 1e-9, "kind": "assumed", "source": "s", "high": 1e-10},
         ("[board].chip_link_s", "low 1e-09 <= value 1e-09 <= high 1e-10")),
        ("chip_barrier_doubling_s", "fast", ("[board].chip_barrier_doubling_s", "number")),
        # below the chip's own barrier (465 ns): the key, the value and the limit
        ("chip_barrier_s", {"value": 1e-7, "kind": "assumed", "source": "s"},
         ("[board] chip_barrier_s (low) = 1e-07 s", "least [timing] barrier_s (low) = 4.65e-07")),
        ("chip_barrier_s", {"value": 1e-6, "high": 1e-6, "kind": "assumed", "source": "s"},
         ("[board] chip_barrier_s (high) = 1e-06 s", "barrier_s (high) = 1.8e-06")),
    ],
)  # fmt: skip
def test_bad_board_figures_are_refused_naming_key_value_and_limit(key, value, needles):
    with pytest.raises(nc.TargetError) as info:
        spec_from_dict(_with("board", key, value), "board.toml")
    for needle in needles:
        assert needle in str(info.value), str(info.value)
    assert str(info.value).startswith("board.toml")


def test_kapoho_point_is_loihi2_on_eight_chips():
    one, eight = load_target("loihi2"), load_target("loihi2", chips=8)
    assert eight.chips == 8 and eight.cores_available == 8 * one.cores_available
    assert eight.core == one.core and eight.board == one.board  # the chip and board data once
    for key in ("chip_link_j", "chip_link_s", "chip_barrier_s", "chip_barrier_doubling_s"):
        assert eight.figures[f"board.{key}"].kind == "assumed"  # Loihi 2's are unpublished
