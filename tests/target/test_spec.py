"""Chip descriptions: shipped ones load, bad ones are refused with the key named."""

from __future__ import annotations

import tomllib

import pytest

import neurocomp as nc
from neurocomp.target import load_target, spec_from_dict

from conftest import ROOT

REF = tomllib.loads((ROOT / "targets" / "reference.toml").read_text())


def _variant(**changes):
    import copy

    d = copy.deepcopy(REF)
    for dotted, value in changes.items():
        section, _, key = dotted.rpartition("__")
        table = d[section] if section else d
        if value is None:
            del table[key]
        else:
            table[key] = value
    return d


def test_reference_is_loihi1_per_core():
    spec = load_target("reference")
    assert spec.cores_available == 128
    assert (spec.core.neurons, spec.core.input_axons, spec.core.output_axons) == (1024, 4096, 4096)
    assert spec.core.synapse_memory_bits == 16384 * 64
    assert spec.energy.synop_j == pytest.approx(23.6e-12)


def test_every_figure_in_the_reference_file_has_a_source():
    text = (ROOT / "targets" / "reference.toml").read_text()
    for section in ("core", "energy", "timing", "format", "mesh"):
        block = text.split(f"[{section}]")[1].split("\n[")[0]
        for line in block.splitlines():
            if "=" in line and not line.strip().startswith("#"):
                assert "#" in line or section in ("energy", "timing"), line
    assert "Davies" in text and "Frady" in text


@pytest.mark.parametrize(
    "changes,needle",
    [
        ({"core__neurons": 0}, "[core].neurons = 0: must be in [1, "),
        ({"core__neurons": "many"}, "must be an integer"),
        ({"energy__synop_j": -1.0}, "synop_j = -1.0: must be finite and >= 0"),
        ({"format__overflow": "explode"}, "overflow = 'explode'"),
        ({"core__neurons": None}, "[core] is missing 'neurons'"),
        ({"mesh__banana": 3}, "[mesh] has unknown key(s) ['banana']"),
        ({"format__neuron_models": ["Izhikevich"]}, "entries must be from"),
        ({"format__weight_bits": 1}, "weight_bits = 1: must be in [2, 32]"),
        ({"time_step": 1e-3}, "unknown top-level key(s) ['time_step']"),
        ({"backend": "brian2"}, "backend = 'brian2': must be one of ('lava',)"),
    ],
)
def test_schema_errors_name_the_key(changes, needle):
    with pytest.raises(nc.TargetError) as info:
        spec_from_dict(_variant(**changes), "chip.toml")
    assert needle in str(info.value)


def test_a_chip_neurocomp_has_never_seen(tmp_path):
    text = (ROOT / "targets" / "reference.toml").read_text()
    text = text.replace('name = "reference"', 'name = "tiny"').replace(
        "neurons = 1024 ", "neurons = 16 "
    )
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    spec = load_target(str(path))
    assert spec.name == "tiny" and spec.core.neurons == 16
    prog = nc.compile(
        nc.load(ROOT / "examples" / "digits" / "digits.nir", dt=1e-4), target=str(path)
    )
    assert prog.summary["cores_used"] == -(-138 // 16)  # 128 + 10 neurons, 16 per core, packed


def test_unknown_target_and_bad_files(tmp_path):
    with pytest.raises(nc.TargetError, match="unknown target 'loihi9'"):
        load_target("loihi9")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    with pytest.raises(nc.TargetError, match="not valid TOML"):
        load_target(str(bad))
    with pytest.raises(nc.TargetError, match="no such chip description"):
        load_target(str(tmp_path / "missing.toml"))


def test_chips_per_board():
    assert load_target("reference", chips=3).cores_available == 384
    with pytest.raises(nc.TargetError):
        load_target("reference", chips=0)
