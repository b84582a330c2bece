"""The documentation site (mkdocs.yml, docs/) stays true to the code.

Every page is in the navigation; the example chip of docs/targets.md loads and compiles as the
page says; every error class is in the catalogue of docs/errors.md and in the API reference; and
the catalogue's examples that need only shipped files still print exactly what the page shows.
The strict site build itself runs in scripts/test.sh.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

import neurocomp as nc
from neurocomp.target import load_target

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CHIP = DOCS / "examples" / "mychip.toml"


def _nav_pages(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for v in nav.values() for p in _nav_pages(v)]
    return [p for item in nav for p in _nav_pages(item)]


def _code_blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _cli_examples(text: str) -> list[tuple[str, list[str]]]:
    """Every `$ neurocomp ...` line of a code block with the output lines below it."""
    out = []
    for block in _code_blocks(text):
        for i, line in enumerate(block):
            if line.startswith("$ neurocomp "):
                j = i + 1
                while j < len(block) and block[j] and not block[j].startswith("$ "):
                    j += 1
                out.append((line[2:], block[i + 1 : j]))
    return out


def test_every_page_is_in_the_nav():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages == set(_nav_pages(config["nav"]))


def test_example_chip_loads_and_compiles_as_documented():
    assert '--8<-- "examples/mychip.toml"' in (DOCS / "targets.md").read_text()
    spec = load_target(str(CHIP))
    assert (spec.name, spec.cores_available, spec.format.weight_bits) == ("mychip", 16, 6)
    net = nc.load(ROOT / "examples" / "digits" / "digits.nir", dt=1e-4)
    summary = nc.compile(net, target=str(CHIP)).summary
    assert (summary["cores_used"], summary["cores_lower_bound"]) == (3, 3)
    assert (summary["synapses"], summary["synapses_input"]) == (9079, 9472)


def _error_classes() -> list[type]:
    for info in pkgutil.walk_packages(nc.__path__, "neurocomp."):
        importlib.import_module(info.name)
    found, todo = [], [nc.NeurocompError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("neurocomp."):
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_is_catalogued():
    catalogue = (DOCS / "errors.md").read_text()
    reference = (DOCS / "api" / "errors.md").read_text()
    classes = _error_classes()
    assert len(classes) >= 10
    for cls in classes:
        assert f"### {cls.__name__}\n" in catalogue, cls
        if cls.__module__ != "neurocomp.errors":
            assert f"::: {cls.__module__}.{cls.__qualname__}\n" in reference, cls


def test_catalogue_examples_with_shipped_files_are_real(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from neurocomp.cli import app

    examples = [
        (cmd, want)
        for cmd, want in _cli_examples((DOCS / "errors.md").read_text())
        if not re.search(r"\bbad/|\bfake\b|^neurocomp \w+ build", cmd)
    ]
    assert len(examples) >= 10
    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    for cmd, want in examples:
        args = shlex.split(cmd)[1:]
        if "-o" in args and args[args.index("-o") + 1].startswith("build"):
            args[args.index("-o") + 1] = str(tmp_path / "build")  # never write into the tree
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (cmd, result.output)
        assert result.stderr.splitlines() == want, cmd
        assert not (tmp_path / "build").exists(), cmd
