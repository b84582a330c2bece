"""Packaging: every subpackage is declared, and the shipped chip files install with it."""

from __future__ import annotations

import tomllib

from conftest import ROOT


def test_every_subpackage_is_declared():
    declared = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "neurocomp").rglob("__init__.py")
    }
    assert found | {"neurocomp.target_files"} == declared


def test_shipped_targets_are_the_toml_files_in_targets():
    from neurocomp.target import shipped_targets

    assert set(shipped_targets()) == {p.stem for p in (ROOT / "targets").glob("*.toml")}
