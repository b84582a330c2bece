"""Atomic output: a compile or save that fails or is interrupted leaves nothing behind (no target
folder, no temporary folder), and an existing program folder survives a failed overwrite intact.

tests/test_cli.py already checks that a compile that does not fit writes nothing into an empty
folder, and that a successful compile replaces an old program; these tests cover failures while
writing and interrupts, through the API and through the CLI (SIGINT).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from robust_util import CASES, DIGITS, ROOT

import neurocomp as nc
import neurocomp.files as files_mod
import neurocomp.program.folder as program_mod

MODEL = DIGITS / "digits.nir"


@pytest.fixture(scope="module")
def prog() -> nc.Program:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nc.compile(str(MODEL))


@pytest.fixture(scope="module")
def pruned() -> nc.Program:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nc.compile(str(MODEL), passes="prune{sparsity=0.5}")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _raised(exc: BaseException) -> type[BaseException]:
    """What a save lets through: an OSError becomes the one-line OutputError."""
    return nc.OutputError if isinstance(exc, OSError) else type(exc)


def _failing_write(exc: BaseException):
    """write_npz that writes part of the archive, then fails with exc."""

    def write(path: Path, arrays: dict) -> None:
        path.write_bytes(b"PK\x03\x04 partial")
        raise exc

    return write


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_save_leaves_nothing(prog, tmp_path, monkeypatch, exc):
    monkeypatch.setattr(program_mod, "write_npz", _failing_write(exc))
    with pytest.raises(_raised(exc)):
        prog.save(tmp_path / "build")
    assert tree(tmp_path) == []  # neither build/ nor a .build.* temporary


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_overwrite_keeps_the_old_program(prog, pruned, tmp_path, monkeypatch, exc):
    out = tmp_path / "build"
    prog.save(out)
    before = snapshot(out)
    monkeypatch.setattr(program_mod, "write_npz", _failing_write(exc))
    with pytest.raises(_raised(exc)):
        pruned.save(out)
    assert os.listdir(tmp_path) == ["build"]  # no .build.* temporary left
    assert snapshot(out) == before
    assert nc.load_program(out).pipeline == prog.pipeline


def _fail_on_rename(monkeypatch, which: int, exc: BaseException) -> None:
    """Make the `which`-th Path.rename call (0-based) raise exc."""
    real = Path.rename
    calls = {"n": 0}

    def rename(self: Path, target: os.PathLike) -> Path:
        k = calls["n"]
        calls["n"] += 1
        if k == which:
            raise exc
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)


@pytest.mark.parametrize("exc", [OSError(5, "Input/output error"), KeyboardInterrupt()])
def test_interrupt_between_renames_keeps_the_old_program(prog, pruned, tmp_path, monkeypatch, exc):
    out = tmp_path / "build"
    prog.save(out)
    before = snapshot(out)
    _fail_on_rename(monkeypatch, 1, exc)  # 0: build -> .build.old-PID, 1: tmp -> build
    with pytest.raises(_raised(exc)):
        pruned.save(out)
    assert sorted(os.listdir(tmp_path)) == ["build"]
    assert snapshot(out) == before


def test_interrupt_while_removing_the_replaced_program(prog, pruned, tmp_path, monkeypatch):
    """^C while the replaced program is deleted: the new program is complete and in place; the
    half-deleted old one is a hidden leftover that the next save clears."""
    out = tmp_path / "build"
    prog.save(out)
    real = files_mod.shutil.rmtree

    def rmtree(path, *args, **kwargs):
        if str(path).endswith(".old"):
            (Path(path) / "arrays.npz").unlink(missing_ok=True)  # part of it is gone, then ^C
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    monkeypatch.setattr(files_mod.shutil, "rmtree", rmtree)
    with pytest.raises(KeyboardInterrupt):
        pruned.save(out)
    monkeypatch.setattr(files_mod.shutil, "rmtree", real)
    assert snapshot(out) == snapshot_of(pruned, tmp_path / "expected")
    pruned.save(out)  # the next save clears the leftover
    assert sorted(os.listdir(tmp_path)) == ["build", "expected"]


def snapshot_of(program, folder):
    program.save(folder)
    return snapshot(folder)


def test_failed_save_into_new_nested_folder_leaves_no_parents(prog, tmp_path, monkeypatch):
    monkeypatch.setattr(program_mod, "write_npz", _failing_write(OSError(28, "No space")))
    with pytest.raises(nc.OutputError):
        prog.save(tmp_path / "a" / "b" / "build")
    assert tree(tmp_path) == []


def test_compile_that_does_not_fit_keeps_the_old_program(tmp_path):
    """CLI: a failing compile over an existing program leaves it byte for byte."""
    out = tmp_path / "build"
    cli = [sys.executable, "-m", "neurocomp.cli"]
    ok = subprocess.run([*cli, "compile", str(MODEL), "-o", str(out)], capture_output=True)
    assert ok.returncode == 0, ok.stderr
    before = snapshot(out)
    chip = tmp_path / "tiny.toml"
    chip.write_text(
        (ROOT / "targets" / "reference.toml").read_text().replace("fan_in = 4096 ", "fan_in = 8 ")
    )
    bad = subprocess.run(
        [*cli, "compile", str(MODEL), "-o", str(out), "--target", str(chip)], capture_output=True
    )
    assert bad.returncode == 2 and b"fan-in per neuron" in bad.stderr
    assert sorted(os.listdir(tmp_path)) == ["build", "tiny.toml"]
    assert snapshot(out) == before


# The CLI, run with one instrumented step: when the program folder is being written (or the old
# one swapped out), the step creates a marker file and sleeps; the test then sends SIGINT, so the
# interrupt lands at a known point every time.
SLOW_CLI = """
import signal, sys, time
# A child of a background job inherits SIGINT ignored; ^C must raise KeyboardInterrupt here.
signal.signal(signal.SIGINT, signal.default_int_handler)
from pathlib import Path
import neurocomp.program.folder as program

marker, where = Path(sys.argv[1]), sys.argv[2]
def stall():
    marker.write_text("ready")
    time.sleep(60)
if where == "write":
    def write_npz(path, arrays):
        path.write_bytes(b"PK partial")
        stall()
    program.write_npz = write_npz
else:  # between moving the old program aside and renaming the new one into place
    real = Path.rename
    def rename(self, target):
        out = real(self, target)
        if str(target).endswith(".old"):  # files.py moves the old program to .NAME.xxxxxxxx.old
            stall()
        return out
    Path.rename = rename
from neurocomp.cli import main
sys.argv = ["neurocomp", *sys.argv[3:]]
main()
"""


def _interrupted_cli(tmp_path: Path, out: Path, where: str) -> subprocess.CompletedProcess:
    marker = tmp_path / "marker"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_CLI, str(marker), where, "compile", str(MODEL), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the CLI never reached the write"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    marker.unlink()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def test_sigint_while_writing_leaves_nothing(tmp_path):
    out = tmp_path / "work" / "build"
    (tmp_path / "work").mkdir()
    done = _interrupted_cli(tmp_path, out, "write")
    assert done.returncode == 130, done.stderr
    assert os.listdir(tmp_path / "work") == []


def test_sigint_while_writing_keeps_the_old_program(prog, tmp_path):
    out = tmp_path / "work" / "build"
    prog.save(out)
    before = snapshot(out)
    done = _interrupted_cli(tmp_path, out, "write")
    assert done.returncode == 130, done.stderr
    assert os.listdir(tmp_path / "work") == ["build"]
    assert snapshot(out) == before


def test_sigint_while_replacing_keeps_the_old_program(prog, tmp_path):
    out = tmp_path / "work" / "build"
    prog.save(out)
    before = snapshot(out)
    done = _interrupted_cli(tmp_path, out, "swap")
    assert done.returncode == 130, done.stderr
    assert os.listdir(tmp_path / "work") == ["build"]
    assert snapshot(out) == before


# -- faults: kills, concurrent writers, ^C at any moment (real subprocesses) ---------------------

LIGHT_CLI = [sys.executable, "-m", "neurocomp"]  # the console script's entry point


def test_leftovers_of_a_killed_compile_are_removed_by_the_next(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    out = work / "build"
    marker = tmp_path / "marker"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SLOW_CLI,
            str(marker),
            "write",
            "compile",
            str(MODEL),
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no cleanup runs
    proc.communicate()
    left = os.listdir(work)
    assert len(left) == 1 and left[0].startswith(".build."), left  # the killed run's temporary
    ok = subprocess.run([*LIGHT_CLI, "compile", str(MODEL), "-o", str(out)], capture_output=True)
    assert ok.returncode == 0, ok.stderr
    assert os.listdir(work) == ["build"]
    nc.load_program(out)


def test_concurrent_compiles_into_one_folder_all_end_cleanly(tmp_path):
    """Three compiles of different pipelines into the same -o at once: each exits 0, the folder
    holds one complete program (the last to finish), nothing else is left."""
    out = tmp_path / "build"
    pipelines = ["fold", "prune{sparsity=0.3}", "prune{sparsity=0.6}"]
    procs = [
        subprocess.Popen(
            [*LIGHT_CLI, "compile", str(MODEL), "-o", str(out), "--passes", p, "-q"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for p in pipelines
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        CASES["concurrent writers (3 compiles, one -o)"][f"exit {p.returncode}"] += 1
        assert p.returncode == 0, err
    assert os.listdir(tmp_path) == ["build"]
    assert sorted(os.listdir(out)) == ["arrays.npz", "program.json"]
    loaded = nc.load_program(out)
    assert any(p.split("{")[0] in loaded.pipeline for p in pipelines)


def _started(proc: subprocess.Popen) -> None:
    """Wait until the child runs neurocomp's own code: it has begun importing numpy (which the
    entry point does after installing its handler). Before that, Python's start-up (site,
    about 30 ms) handles SIGINT itself; no program can change that."""
    deadline = time.monotonic() + 60
    maps = Path(f"/proc/{proc.pid}/maps")
    while "_multiarray_umath" not in maps.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.002)


def _interrupt_after(delay: float, args: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _started(proc)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
def test_sigint_at_any_moment_prints_one_line_and_exits_130(tmp_path):
    """SIGINT from the imports to the end of a compile with calibration: either the run had
    finished (exit 0, a complete program) or it prints `interrupted` and exits 130 with
    nothing left."""
    args = [*LIGHT_CLI, "compile", str(MODEL), "-o", "", "-q"]
    args += ["--calibration", str(DIGITS / "digits_test.npz")]
    where = args.index("-o") + 1
    start = time.monotonic()
    args[where] = str(tmp_path / "base")
    baseline = subprocess.run(args, capture_output=True)
    assert baseline.returncode == 0, baseline.stderr
    duration = time.monotonic() - start
    outcomes = []
    for i in range(6):
        work = tmp_path / f"run{i}"
        work.mkdir()
        args[where] = str(work / "build")
        done = _interrupt_after(duration * i / 6, args)
        if done.returncode == 0:
            assert os.listdir(work) == ["build"] and done.stderr == b""
            nc.load_program(work / "build")
        else:
            assert (done.returncode, done.stderr) == (130, b"interrupted\n"), done.stderr
            assert os.listdir(work) == []
        outcomes.append(done.returncode)
        CASES["signals (SIGINT into a CLI compile)"][f"exit {done.returncode}"] += 1
    assert outcomes.count(130) >= 3, outcomes  # most signals land while it runs


def test_sigint_inside_an_import_is_raised_once_the_import_is_done(tmp_path):
    """The CLI's ^C handler holds an interrupt that lands inside an import until the module
    is made (raised there, it leaves the module half made), then raises it."""
    (tmp_path / "slow_module.py").write_text(
        "import os, signal, time\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(0.2)\n"
        "DONE = True\n"
    )
    code = (
        "import signal, sys, time\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "from neurocomp import cli\n"
        "signal.signal(signal.SIGINT, cli._on_sigint)\n"
        "try:\n"
        "    import slow_module\n"
        "    time.sleep(2)\n"
        "    print('not interrupted')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted after import', sys.modules['slow_module'].DONE)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "interrupted after import True", (done.stdout, done.stderr)
