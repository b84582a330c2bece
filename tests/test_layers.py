"""Every import points down the pipeline: the stages as data, each module's imports checked.

A module may import its own stage and any earlier one. Modules kept only so that an old public
import path keeps working (ALIASES) may point anywhere, but may define nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "neurocomp"

# From the bottom up. A stage is a module or a package (path relative to neurocomp/, no suffix).
STAGES: tuple[tuple[str, ...], ...] = (
    ("errors", "env", "files", "inputs", "progress"),
    ("present",),  # HTML tables, plots, metrics: usable by every stage
    ("target",),  # chip descriptions (data)
    ("ir",),  # float and integer IR
    ("frontend",),
    ("sim",),  # float simulator of the IR
    ("passes",),
    ("lowering",),  # float IR -> integer IR
    ("mapping",),
    ("backends",),  # engines that run integer programs
    ("analysis",),  # energy and latency
    ("train",),  # differentiable twin, passes that train, fitting to a budget (torch, lazily)
    ("program",),  # the compiled artifact and its folder
    ("compiler",),
    ("api",),
    ("explore",),  # design-space sweeps over compile (nc.sweep)
    ("cli_io",),  # what every command shares: reading its files, running its work
    ("cli", "cli_sweep", "__init__", "__main__"),
)

ALIASES = (
    "backends/program.py",
    "backends/lowering.py",
    "backends/reference_sim.py",
    "analysis/plots.py",
    "analysis/metrics.py",
    "analysis/html.py",
)


def _stage_of(module: str) -> int:
    """Stage index of 'neurocomp.a.b' (or of a path-like 'a/b')."""
    parts = module.split(".")
    if parts[0] == "neurocomp":
        parts = parts[1:]
    head = parts[0] if parts else "__init__"
    for i, stage in enumerate(STAGES):
        if head in stage:
            return i
    raise AssertionError(f"module neurocomp.{'.'.join(parts)} is in no stage: add it to STAGES")


def _imports(path: Path, rel: Path | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) of every neurocomp import in a file, at any depth (imports
    inside functions too); `rel`: the file's place in the package, if not under PACKAGE."""
    rel = (rel or path.relative_to(PACKAGE)).with_suffix("")
    package = ["neurocomp", *rel.parts[:-1]]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
                names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
            out += [(node.lineno, n) for n in names if n.startswith("neurocomp")]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("neurocomp")]
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def test_every_stage_exists_and_every_module_is_in_one():
    for path in MODULES:
        _stage_of(".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    for stage in STAGES:
        for name in stage:
            assert (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file(), name


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_pipeline(path):
    rel = str(path.relative_to(PACKAGE))
    if rel in ALIASES:
        return
    own = _stage_of(".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    up = [
        f"line {line}: {module} ({STAGES[_stage_of(module)][0]} comes after {STAGES[own][0]})"
        for line, module in _imports(path)
        if module != "neurocomp" and _stage_of(module) > own
    ]
    assert not up, f"neurocomp/{rel} imports a later stage:\n" + "\n".join(up)


@pytest.mark.parametrize("alias", ALIASES)
def test_alias_modules_only_hand_names_on(alias):
    tree = ast.parse((PACKAGE / alias).read_text())
    for node in tree.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        is_all = isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == [
            "__all__"
        ]
        assert is_doc or is_all or isinstance(node, ast.ImportFrom), (alias, ast.dump(node)[:80])


def _upward(path: Path, rel: Path) -> list[str]:
    own = _stage_of(".".join(rel.with_suffix("").parts))
    return [m for _, m in _imports(path, rel) if m != "neurocomp" and _stage_of(m) > own]


def test_the_checker_sees_an_upward_import(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text(
        "from ..ir.integer import IntNetwork\n"
        "def f():\n    from ..backends import lava\n    import neurocomp.cli\n"
    )
    found = _upward(fake, Path("mapping/fake.py"))
    assert found == ["neurocomp.backends", "neurocomp.cli"]
