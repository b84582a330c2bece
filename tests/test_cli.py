"""The command line: outputs, one-line errors with exit status 2, nothing half-written."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nir
import numpy as np
import pytest

from conftest import EXAMPLES, zoo_file

DIGITS = EXAMPLES / "digits" / "digits.nir"
DIGITS_X = EXAMPLES / "digits" / "digits_test.npz"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neurocomp.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_inspect_table():
    proc = run("inspect", DIGITS, "--dt", "1e-4")
    assert proc.returncode == 0, proc.stderr
    assert "lif1" in proc.stdout and "8192" in proc.stdout and "dt = 0.0001 s" in proc.stdout


def test_inspect_json_counts():
    proc = run("inspect", zoo_file("cnn_sinabs.nir"), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["neurons"] == 8970 and info["dt"] is None
    assert [p["kind"] for p in info["populations"]] == ["IF"] * 5


def test_inspect_warns_about_inferred_dt():
    proc = run("inspect", DIGITS)
    assert proc.returncode == 0
    assert "warning: dt not given: inferred dt = 0.0001 s" in proc.stderr


def test_simulate_writes_outputs_and_accuracy(tmp_path):
    out = tmp_path / "y.npz"
    proc = run("simulate", DIGITS, "--input", DIGITS_X, "-o", out, "--dt", "1e-4", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    with np.load(out) as y:
        assert y["output"].shape == (25, 397, 10)
        assert summary["outputs"]["output"]["total"] == float(y["output"].sum())
    assert summary["accuracy"] > 0.9
    assert [p.name for p in tmp_path.iterdir()] == ["y.npz"]  # no temporary file left


def test_reset_option_changes_the_network(tmp_path):
    path = zoo_file("braille_noDelay_noBias_subtract.nir")
    x = tmp_path / "x.npz"
    np.savez(x, x=(np.random.default_rng(0).random((80, 3, 12)) < 0.3).astype(np.uint8))
    totals = {}
    for mode in ("zero", "subtract"):
        proc = run("simulate", path, "--input", x, "--dt", "1e-4", "--reset", mode, "--json")
        assert proc.returncode == 0, proc.stderr
        totals[mode] = json.loads(proc.stdout)["spikes"]["lif1.lif"]
    assert totals["zero"] != totals["subtract"]


def test_missing_file():
    assert_one_line_error(
        run("inspect", "does-not-exist.nir"), "does-not-exist.nir", "no such file"
    )


def test_not_hdf5(tmp_path):
    path = tmp_path / "x.nir"
    path.write_text("hello")
    assert_one_line_error(run("inspect", path), "not an HDF5 file")


def test_unknown_nodes_all_listed(tmp_path):
    import h5py

    path = tmp_path / "u.nir"
    nir.write(path, nir.read(DIGITS))
    with h5py.File(path, "r+") as f:
        for name in ("lif1", "lif2"):
            del f[f"node/nodes/{name}/type"]
            f[f"node/nodes/{name}/type"] = b"Izhikevich"
    assert_one_line_error(run("inspect", path), "'lif1' (Izhikevich)", "'lif2' (Izhikevich)")


def test_shape_mismatch_names_edge(tmp_path):
    g = nir.read(DIGITS)
    g.nodes["fc2"] = nir.Affine(weight=np.ones((11, 128)), bias=np.zeros(11))
    path = tmp_path / "bad.nir"
    nir.write(path, g)
    assert_one_line_error(run("inspect", path, "--dt", "1e-4"), "'fc2' -> 'lif2'", "(11,)", "(10,)")


@pytest.mark.parametrize(
    "value,needle",
    [
        (np.nan, "must be finite"),
        (np.inf, "must be finite"),
        (-1e-3, "must be > 0"),
        (0.0, "must be > 0"),
    ],
)
def test_bad_time_constant(tmp_path, value, needle):
    g = nir.read(DIGITS)
    tau = np.array(g.nodes["lif1"].tau)
    tau[5] = value
    g.nodes["lif1"].tau = tau
    path = tmp_path / "bad.nir"
    nir.write(path, g)
    assert_one_line_error(run("inspect", path, "--dt", "1e-4"), "'lif1'", "tau", needle)


def test_missing_dt(tmp_path):
    assert_one_line_error(run("inspect", zoo_file("lif_norse.nir")), "--dt SECONDS")


def test_bad_input_file(tmp_path):
    x = tmp_path / "x.npz"
    np.savez(x, x=np.zeros((5, 2, 63)))
    out = tmp_path / "y.npz"
    proc = run("simulate", DIGITS, "--input", x, "-o", out, "--dt", "1e-4")
    assert_one_line_error(proc, "expected shape (T, batch, 64)")
    assert not out.exists()


def test_bad_reset_value():
    assert_one_line_error(run("inspect", DIGITS, "--reset", "half"), "reset = half")


def test_passes_on_the_command_line_match_the_api(tmp_path):
    import neurocomp as nc
    from neurocomp.analysis import accuracy

    calib = EXAMPLES / "digits" / "digits_calib.npz"
    pipeline = "quantize{weight_bits=8},prune{sparsity=0.5}"
    proc = run(
        "simulate",
        DIGITS,
        "--input",
        DIGITS_X,
        "--dt",
        "1e-4",
        "--passes",
        pipeline,
        "--calibration",
        calib,
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    c, t = np.load(calib), np.load(DIGITS_X)
    net = nc.transform(
        nc.load(DIGITS, dt=1e-4), pipeline, calibration=c["x"], labels=c["labels"]
    ).network
    assert summary["accuracy"] == accuracy(nc.simulate(net, t["x"]), t["labels"])
    from neurocomp.passes import parse_pipeline

    reported = ",".join(r["pass"] for r in summary["passes"])
    assert parse_pipeline(reported) == parse_pipeline(pipeline)


def test_bad_pipeline_is_one_line():
    assert_one_line_error(run("inspect", DIGITS, "--passes", "prune{x=1}"), "unknown option(s)")


def test_compile_simulate_energy_round_trip(tmp_path):
    out = tmp_path / "build"
    calib = EXAMPLES / "digits" / "digits_calib.npz"
    proc = run("compile", DIGITS, "-o", out, "--calibration", calib, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    for key in (
        "target",
        "cores_used",
        "cores_available",
        "neurons",
        "synapses",
        "synapses_input",
        "weight_bits",
        "energy_per_inference_j",
    ):
        assert key in summary
    assert summary["target"] == "reference" and summary["cores_used"] == 1
    sim = run("simulate", out, "--input", DIGITS_X, "--json")
    assert sim.returncode == 0, sim.stderr
    assert json.loads(sim.stdout)["accuracy"] > 0.95
    en = run("energy", out, "--input", DIGITS_X, "--json")
    assert en.returncode == 0, en.stderr
    report = json.loads(en.stdout)
    assert [layer["name"] for layer in report["layers"]] == ["lif1", "lif2"]
    table = run("energy", out, "--input", DIGITS_X)
    assert "per inference" in table.stdout


def test_compile_human_summary(tmp_path):
    proc = run("compile", DIGITS, "-o", tmp_path / "b", "--dt", "1e-4")
    assert proc.returncode == 0, proc.stderr
    for needle in ("cores used", "synapses kept", "weight bits"):
        assert needle in proc.stdout


def test_targets_lists_the_reference_chip():
    proc = run("targets", "--json")
    assert proc.returncode == 0
    names = [t["name"] for t in json.loads(proc.stdout)]
    assert "reference" in names
    assert "1024 neurons" in run("targets").stdout


def _tiny_chip(tmp_path):
    text = (EXAMPLES.parent / "targets" / "reference.toml").read_text()
    text = text.replace("fan_in = 4096 ", "fan_in = 32 ").replace(
        "input_axons = 4096 ", "input_axons = 40 "
    )
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


def test_check_lists_every_violation(tmp_path):
    proc = run("check", DIGITS, "--target", _tiny_chip(tmp_path), "--dt", "1e-4")
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert any("fan-in per neuron needed 64, available 32" in e for e in errors)
    assert any("input axons for one neuron" in e for e in errors)
    assert len(errors) >= 2 and "Traceback" not in proc.stderr
    ok = run("check", DIGITS, "--dt", "1e-4")
    assert ok.returncode == 0 and "fits: 1 of 128 cores" in ok.stdout


def test_failed_compile_writes_nothing(tmp_path):
    out = tmp_path / "build"
    proc = run("compile", DIGITS, "-o", out, "--target", _tiny_chip(tmp_path), "--dt", "1e-4")
    assert_one_line_error(proc, "does not fit target 'reference'", "fan-in per neuron")
    assert list(tmp_path.iterdir()) == [tmp_path / "tiny.toml"]


def test_compile_replaces_an_old_program_and_refuses_other_folders(tmp_path):
    out = tmp_path / "build"
    assert run("compile", DIGITS, "-o", out, "--dt", "1e-4").returncode == 0
    assert (
        run(
            "compile", DIGITS, "-o", out, "--dt", "1e-4", "--passes", "prune{sparsity=0.5}"
        ).returncode
        == 0
    )
    assert "prune" in json.loads((out / "program.json").read_text())["pipeline"]
    other = tmp_path / "docs"
    other.mkdir()
    (other / "a.txt").write_text("x")
    assert_one_line_error(
        run("compile", DIGITS, "-o", other, "--dt", "1e-4"), "not a neurocomp program folder"
    )


def test_simulate_missing_program(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(
        run("simulate", tmp_path / "empty", "--input", DIGITS_X), "not a neurocomp program folder"
    )


# -- outputs: every OSError is one line, exit 2, nothing left ------------------------------------
# In-process (typer's CliRunner) where the case needs no subprocess: much faster.


def invoke(*args: object) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from neurocomp.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def assert_invoke_error(args: tuple[object, ...], *needles: str) -> None:
    code, _, err = invoke(*args)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prog") / "build"
    assert invoke("compile", DIGITS, "-o", out, "--dt", "1e-4", "-q")[0] == 0
    return out


@pytest.mark.parametrize(
    "extra, needle",
    [  # each was ignored without a word: the program ran as compiled
        (("--dt", "1e-3"), "--dt applies to a model file"),
        (("--passes", "quantize"), "--passes applies to a model file"),
        (("--reset", "subtract"), "--reset applies to a model file"),
        (("--calibration", str(DIGITS_X)), "--calibration applies to a model file"),
    ],
)
def test_simulate_refuses_loading_options_for_a_program(program, extra, needle):
    assert_invoke_error(("simulate", program, "-i", DIGITS_X, *extra), needle)


def test_simulate_refuses_an_engine_for_a_model_file():
    """--engine lava on a .nir ran the float simulator, saying nothing of Lava."""
    assert_invoke_error(
        ("simulate", DIGITS, "-i", DIGITS_X, "--engine", "lava"), "--engine lava runs a program"
    )


def _mount(args: list[str], where: Path) -> None:
    import shutil

    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", *args, str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting is not permitted here: {done.stderr.strip()}")


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs, filled to the last block (the disk is full)."""
    where = tmp_path / "full"
    where.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=64k", "tmpfs"], where)
    try:
        fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, bytes(512))
        os.close(fd)
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


@pytest.fixture
def read_only(tmp_path):
    """A read-only bind mount of an empty folder."""
    src, where = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    where.mkdir()
    _mount(["--bind", str(src)], where)
    try:
        done = subprocess.run(["mount", "-o", "remount,ro,bind", str(where)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def test_full_disk(full_disk, program):
    assert_invoke_error(
        ("compile", DIGITS, "-o", full_disk / "build", "--dt", "1e-4"), "No space left on device"
    )
    assert_invoke_error(
        ("simulate", program, "-i", DIGITS_X, "-o", full_disk / "y.npz"), "No space left"
    )
    assert sorted(os.listdir(full_disk)) == ["filler"]


def test_read_only_file_system(read_only, program):
    assert_invoke_error(
        ("compile", DIGITS, "-o", read_only / "a" / "build", "--dt", "1e-4"),
        "read-only file system",
    )
    assert_invoke_error(
        ("simulate", program, "-i", DIGITS_X, "-o", read_only / "y.npz"), "read-only"
    )
    assert os.listdir(read_only) == []


def test_unwritable_folder_and_unreadable_input(tmp_path):
    """As an unprivileged user (root ignores permissions): skipped where the interpreter is
    not reachable by 'nobody'."""
    import pwd

    if os.geteuid() != 0:
        pytest.skip("needs root to switch to the user 'nobody'")
    work = Path(tempfile.mkdtemp(prefix="nc-perm-"))
    try:
        work.chmod(0o777)
        (work / "locked").mkdir(mode=0o555)
        x = work / "x.npz"
        x.write_bytes(DIGITS_X.read_bytes())
        x.chmod(0o000)
        nobody = pwd.getpwnam("nobody")

        def as_nobody(*args: object) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "neurocomp", *map(str, args)],
                capture_output=True, text=True, cwd=work, user=nobody.pw_uid,
                group=nobody.pw_gid, extra_groups=[], env={**os.environ, "HOME": str(work)},
                timeout=300,
            )  # fmt: skip

        try:
            probe = as_nobody("--help")
        except PermissionError as exc:
            pytest.skip(f"'nobody' cannot run this interpreter: {exc}")
        if probe.returncode != 0:
            pytest.skip(f"'nobody' cannot run this interpreter: {probe.stderr[-200:]}")
        assert_one_line_error(
            as_nobody("compile", DIGITS, "-o", "locked/build", "--dt", "1e-4"),
            "no write permission",
        )
        assert_one_line_error(as_nobody("simulate", DIGITS, "-i", x), "Permission denied")
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.parametrize("length", [255, 256])
def test_name_length(tmp_path, program, length):
    out = tmp_path / ("y" * (length - 4) + ".npz")
    code, _, err = invoke("simulate", program, "-i", DIGITS_X, "-o", out)
    if length == 255:  # legal: written (the temporary's name is shortened)
        assert code == 0 and out.exists(), err
    else:
        assert code == 2 and "longer than 255 bytes" in err
    assert [p.name for p in tmp_path.iterdir()] == ([out.name] if length == 255 else [])


def test_parent_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    assert_invoke_error(
        ("compile", DIGITS, "-o", tmp_path / "f" / "sub" / "build", "--dt", "1e-4"),
        "is a file, not a folder",
    )
    assert os.listdir(tmp_path) == ["f"]


def test_simulate_output_onto_a_folder(tmp_path, program):
    (tmp_path / "d").mkdir()
    assert_invoke_error(("simulate", program, "-i", DIGITS_X, "-o", tmp_path / "d"), "is a folder")
    assert os.listdir(tmp_path / "d") == []


def test_symlink_output_is_followed(tmp_path, program):
    """-o through a symbolic link writes where it points; the link stays, nothing else left."""
    real = tmp_path / "real"
    link = tmp_path / "link"
    link.symlink_to(real)  # dangling: the program is created at its target
    assert invoke("compile", DIGITS, "-o", link, "--dt", "1e-4", "-q")[0] == 0
    assert link.is_symlink() and (real / "program.json").is_file()
    first = (real / "arrays.npz").read_bytes()
    assert invoke("compile", DIGITS, "-o", link, "--passes", "prune{sparsity=0.5}", "-q")[0] == 0
    assert link.is_symlink() and (real / "arrays.npz").read_bytes() != first
    assert sorted(os.listdir(tmp_path)) == ["link", "real"]  # no .link.old-PID left
    ylink = tmp_path / "y.npz"
    ylink.symlink_to(tmp_path / "y-real.npz")
    assert invoke("simulate", program, "-i", DIGITS_X, "-o", ylink)[0] == 0
    assert ylink.is_symlink() and (tmp_path / "y-real.npz").is_file()


# -- input arrays --------------------------------------------------------------------------------


def test_fifo_input_does_not_block(tmp_path):
    fifo = tmp_path / "x.npz"
    os.mkfifo(fifo)
    assert_one_line_error(run("simulate", DIGITS, "-i", fifo, "--dt", "1e-4"), "not a regular file")
    model = tmp_path / "m.onnx"
    os.mkfifo(model)
    assert_invoke_error(("inspect", model, "--calibration", DIGITS_X), "m.onnx: not a regular file")


@pytest.mark.parametrize(
    "arrays, needle",
    [
        ({"x": np.zeros((0, 2, 64))}, "T = 0 time steps"),
        ({"x": np.zeros((3, 0, 64))}, "batch = 0 samples"),
        ({"x": np.zeros((3, 2, 64)), "labels": np.zeros((2, 1), int)}, "labels must be 1-D"),
        ({"x": np.zeros((3, 2, 64)), "labels": np.zeros(3, int)}, "3 labels for a batch of 2"),
        ({"x": np.full((3, 2, 64), np.inf)}, "NaN or inf"),
        ({"x": np.zeros((3, 2, 64), complex)}, "dtype complex128"),
    ],
)
def test_bad_input_arrays(tmp_path, arrays, needle):
    path = tmp_path / "x.npz"
    np.savez(path, **arrays)
    assert_invoke_error(("simulate", DIGITS, "-i", path, "--dt", "1e-4"), needle)


def test_float_simulation_takes_real_values(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, x=np.full((3, 2, 64), 0.37))
    assert invoke("simulate", DIGITS, "-i", path, "--dt", "1e-4")[0] == 0


@pytest.mark.parametrize("value", [2, -1, 0.5, 1e300])
def test_chip_input_values_are_checked(tmp_path, program, value):
    path = tmp_path / "x.npz"
    x = np.zeros((3, 2, 64))
    x[2, 1, 7] = value
    np.savez(path, x=x)
    for command in ("simulate", "energy"):
        assert_invoke_error(
            (command, program, "-i", path), "at (2, 1, 7)", "target 'reference' takes binary"
        )
    cal = ("compile", DIGITS, "-o", tmp_path / "b", "--calibration", path, "--dt", "1e-4")
    assert_invoke_error(cal, "binary spikes")
    assert not (tmp_path / "b").exists()


def test_chips_bound():
    assert_invoke_error(("check", DIGITS, "--chips", "1000000"), "--chips 1000000: at most 8192")


# -- everything printed from files is literal (rich markup off) ----------------------------------


def test_markup_in_names_and_paths_prints_literally(tmp_path):
    g = nir.read(DIGITS)
    g.nodes["[bold red]x"] = g.nodes.pop("lif1")
    g.edges = [tuple("[bold red]x" if n == "lif1" else n for n in e) for e in g.edges]
    path = tmp_path / "[red]m.nir"
    nir.write(path, g)
    code, out, err = invoke("inspect", path, "--dt", "1e-4")
    assert code == 0, err
    assert "[bold red]x" in out and "[red]m.nir" in out
    target = tmp_path / "out[/]x"
    code, out, err = invoke("compile", path, "-o", target, "--dt", "1e-4")
    assert code == 0, err
    assert "out[/]x" in out and (target / "program.json").is_file()
    code, out, err = invoke("energy", target, "-i", DIGITS_X)
    assert code == 0 and "[bold red]x" in out, err


def test_usage_errors_are_one_line():
    for args in (("simulate", DIGITS), ("bogus",), ("inspect", DIGITS, "--dt", "abc")):
        proc = run(*args)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("error: ") and "╭" not in proc.stderr


def test_compile_on_several_chips_reports_the_board(tmp_path):
    # cores of 60 neurons, two per chip: digits' 138 neurons take three cores on two chips
    text = (EXAMPLES.parent / "targets" / "reference.toml").read_text()
    for key, old, new in (("tiles_x", 8, 1), ("tiles_y", 4, 1), ("cores_per_tile", 4, 2),
                          ("neurons", 1024, 60)):  # fmt: skip
        assert f"{key} = {old} " in text
        text = text.replace(f"{key} = {old} ", f"{key} = {new} ")
    chip = tmp_path / "small.toml"
    chip.write_text(text)
    out = tmp_path / "b"
    calib = EXAMPLES / "digits" / "digits_calib.npz"
    proc = run("compile", DIGITS, "-o", out, "-t", chip, "--chips", "3", "--calibration", calib)
    assert proc.returncode == 0, proc.stderr
    assert "chips" in proc.stdout and "2 of 3" in proc.stdout and "between chips" in proc.stdout
    en = run("energy", out, "--input", DIGITS_X)
    assert en.returncode == 0, en.stderr
    assert "chip links:" in en.stdout and "barrier across 2 of 3 chips" in en.stdout


def test_an_interrupt_ignored_in_a_finalizer_on_the_main_thread_reaches_the_main_flow():
    """A ^C that Python 'ignores' in a finalizer run on the main thread must not be raised again
    inside the hook (it would be ignored again, printed as a traceback): it reaches the code that
    runs after the hook."""
    import types

    from neurocomp import cli

    signal.signal(signal.SIGINT, signal.default_int_handler)
    info = types.SimpleNamespace(exc_type=KeyboardInterrupt)
    try:
        cli._unraisable(info)  # a KeyboardInterrupt raised inside the hook fails the test here
        with pytest.raises(KeyboardInterrupt):
            for _ in range(1000):
                time.sleep(0.01)
        assert cli._interrupted
    finally:
        cli._interrupted = False


def test_an_interrupt_a_library_turns_into_another_error_still_exits_130():
    """numba turns a ^C that lands mid-compile into RuntimeError('no compiled object yet'): after
    a ^C, whatever the command raises is reported as the interrupt (one line, status 130)."""
    code = (
        "import signal\n"
        "from neurocomp import cli\n"
        "def invoke():\n"
        "    try:\n"
        "        signal.raise_signal(signal.SIGINT)\n"
        "    except KeyboardInterrupt:\n"
        "        raise RuntimeError('no compiled object yet') from None\n"
        "cli._invoke = invoke\n"
        "cli.main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (130, b"interrupted\n"), proc.stderr
    # Without a ^C the same error is not hidden.
    plain = code.replace("signal.raise_signal(signal.SIGINT)", "raise KeyboardInterrupt")
    proc = subprocess.run([sys.executable, "-c", plain], capture_output=True, timeout=120)
    assert proc.returncode == 1 and b"RuntimeError" in proc.stderr
