"""The suite reads nothing outside the repository: no test names the shared folder beside it."""

from __future__ import annotations

from conftest import ROOT

# Spelled in two parts so this file does not match itself.
FORBIDDEN = ("..", "/shared")


def test_no_test_reads_outside_the_repository() -> None:
    needle = FORBIDDEN[0] + FORBIDDEN[1]
    words = ('"shared"', "'shared'")
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if needle in text or any(f"ROOT.parent / {w}" in text for w in words):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_zoo_copy_is_complete() -> None:
    zoo = ROOT / "tests" / "data" / "nir-zoo"
    names = sorted(p.name for p in zoo.glob("*.nir"))
    assert "cnn_sinabs.nir" in names and len(names) == 8
    assert "BSD 3-Clause" in (zoo / "README.md").read_text(encoding="utf-8")
