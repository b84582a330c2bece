"""Hostile chip descriptions: each is refused at load with one line, before anything is built."""

from __future__ import annotations

import os

import pytest

import neurocomp as nc
from neurocomp.target import load_target
from neurocomp.target.spec import MAX_CORES, MAX_TOML_BYTES

from conftest import ROOT

REFERENCE = (ROOT / "targets" / "reference.toml").read_text()


def _refused(tmp_path, text: str, *needles: str, chips: object = None) -> str:
    path = tmp_path / "chip.toml"
    path.write_text(text)
    with pytest.raises(nc.TargetError) as info:
        load_target(str(path), chips)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, message
    return message


@pytest.mark.parametrize(
    "nest", ["a = " + "[" * 5000 + "]" * 5000, "a = " + "{b = " * 5000 + "1" + "}" * 5000]
)
def test_deep_nesting_is_an_error_not_a_recursion(tmp_path, nest):
    _refused(tmp_path, REFERENCE + f"\n[deep]\n{nest}\n", "chip.toml")


def test_moderate_nesting_beyond_the_limit(tmp_path):
    _refused(tmp_path, REFERENCE + "\n[deep]\na = " + "[" * 40 + "]" * 40 + "\n", "nested deeper")


@pytest.mark.parametrize(
    "value", ["1979-05-27T07:32:00Z", "1979-05-27", "07:32:00", "1979-05-27T07:32:00"]
)
def test_dates_and_times_cannot_be_saved_so_they_are_refused(tmp_path, value):
    _refused(tmp_path, REFERENCE + f"\n[notes]\nwhen = {value}\n", "notes.when", "string")


def test_non_finite_extra_values_are_refused(tmp_path):
    _refused(tmp_path, REFERENCE + "\n[notes]\nx = nan\n", "notes.x = nan", "finite")


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "chip.toml"
    path.write_text(REFERENCE)
    path.chmod(0)
    if os.geteuid() == 0:  # root reads every file: make the read fail as it would for a user

        def denied(self):
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(type(path), "read_bytes", denied)
    with pytest.raises(nc.TargetError, match="cannot be read .Permission denied"):
        load_target(str(path))


def test_directory_fifo_and_huge_file(tmp_path):
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    with pytest.raises(nc.TargetError, match="not a regular file"):
        load_target(str(folder))
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    with pytest.raises(nc.TargetError, match="not a regular file"):
        load_target(str(fifo))
    big = tmp_path / "big.toml"
    big.write_text(REFERENCE + "#" * MAX_TOML_BYTES)
    with pytest.raises(nc.TargetError, match="bytes, more than"):
        load_target(str(big))


def test_mesh_size_is_bounded_before_any_array(tmp_path):
    text = (
        REFERENCE.replace("tiles_x = 8 ", "tiles_x = 4096 ")
        .replace("tiles_y = 4 ", "tiles_y = 4096 ")
        .replace("cores_per_tile = 4 ", "cores_per_tile = 1024 ")
    )
    assert "tiles_x = 4096" in text and "cores_per_tile = 1024" in text
    _refused(tmp_path, text, "[mesh]", str(MAX_CORES))


@pytest.mark.parametrize(
    "chips,needle",
    [
        (10**6, "at most 8192 chips"),
        (0, "at least one"),
        ("3", "str"),
        (2.5, "float"),
        (True, "bool"),
    ],
)
def test_chips_are_checked(chips, needle):
    with pytest.raises(nc.TargetError) as info:
        load_target("reference", chips)  # type: ignore[arg-type]
    assert needle in str(info.value)
    assert load_target("reference", MAX_CORES // 128).chips == MAX_CORES // 128


def test_compile_refuses_bad_chips_before_work():
    net = nc.load(ROOT / "examples" / "digits" / "digits.nir", dt=1e-4)
    with pytest.raises(nc.TargetError, match="must be an integer"):
        nc.compile(net, chips="3")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["[bold red]x", "a/b", "x" * 65, "", "chip\nname", "-x"])
def test_chip_names_are_identifiers(tmp_path, name):
    text = REFERENCE.replace('name = "reference"', f"name = {name!r}".replace("'", '"'))
    if "\n" in name:
        text = REFERENCE.replace('name = "reference"', 'name = "chip\\nname"')
    _refused(tmp_path, text, "name")


def test_description_is_one_printable_line(tmp_path):
    text = REFERENCE.replace('description = "', 'description = "two\\nlines ', 1)
    _refused(tmp_path, text, "description")


@pytest.mark.parametrize("document", [[], 3, "x"])
def test_a_document_that_is_not_a_table(document):
    from neurocomp.target import spec_from_dict

    with pytest.raises(nc.TargetError, match="is a table"):
        spec_from_dict(document, "program.json")  # type: ignore[arg-type]
