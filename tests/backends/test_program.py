"""Compiling the shipped digits model for the reference chip: accuracy, synops, save/load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.analysis import accuracy, predictions

from conftest import EXAMPLES

DIGITS = EXAMPLES / "digits"


@pytest.fixture(scope="module")
def digits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(DIGITS / "digits.nir")
    test, calib = np.load(DIGITS / "digits_test.npz"), np.load(DIGITS / "digits_calib.npz")
    prog = nc.compile(net, calibration=calib["x"])
    return net, prog, test["x"], test["labels"]


def test_bit_accurate_accuracy_within_one_point_of_float(digits):
    net, prog, x, labels = digits
    float_acc = accuracy(nc.simulate(net, x), labels)
    chip_acc = accuracy(prog.simulate(x), labels)
    assert abs(chip_acc - float_acc) <= 0.01, (chip_acc, float_acc)


def test_on_chip_accuracy_is_the_readmes(digits):
    """README's 97.73 %: this program is GOLDEN's reference-calibrated one (byte for byte on
    every machine, below) on integer inputs, so its accuracy is exact: 388 of 397."""
    _, prog, x, labels = digits
    y = prog.simulate(x)
    assert (int((predictions(y) == labels).sum()), len(labels)) == (388, 397)
    assert f"{100 * accuracy(y, labels):.2f} %" == "97.73 %"


def test_first_layer_synops_are_input_spikes_times_fan_out(digits):
    _, prog, x, _ = digits
    report = prog.energy(x).to_dict()
    first = report["layers"][0]
    assert first["name"] == "lif1"
    w = prog.net.projections_into("lif1")[0].weight
    fan_out = np.diff(w.tocsc().indptr)  # synapses leaving each input pixel
    expected = int((x.astype(np.int64).sum(axis=(0, 1)) * fan_out).sum())
    assert first["synops"] == expected
    assert report["input_spikes"] == int(x.sum())


def test_cores_used_against_the_lower_bound(digits):
    _, prog, _, _ = digits
    s = prog.summary
    assert s["cores_used"] >= s["cores_lower_bound"] >= 1
    assert s["cores_used"] == 1  # 138 neurons and 9.4k synapses fit one Loihi-1-sized core
    for row in prog.mapping.usage_table(prog.target):
        for key in ("neurons", "synapse_bits", "input_axons", "output_axons", "fan_in"):
            used, limit = row[key]
            assert 0 <= used <= limit


def test_summary_json_fields(digits):
    _, prog, _, _ = digits
    for key in (
        "target",
        "cores_used",
        "cores_available",
        "neurons",
        "synapses",
        "synapses_input",
        "weight_bits",
    ):
        assert key in prog.summary
    assert prog.summary["synapses_input"] == 64 * 128 + 128 * 10
    assert prog.summary["weight_bits"] == 8


def test_save_load_round_trip(digits, tmp_path):
    _, prog, x, _ = digits
    prog.save(tmp_path / "build")
    again = nc.load_program(tmp_path / "build")
    np.testing.assert_array_equal(again.simulate(x[:, :50]), prog.simulate(x[:, :50]))
    assert again.summary == prog.summary
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["arrays.npz", "program.json"]


def test_save_refuses_a_foreign_folder(digits, tmp_path):
    _, prog, _, _ = digits
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(nc.NeurocompError, match="not a neurocomp program folder"):
        prog.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_integer_inputs_required(digits):
    _, prog, x, _ = digits
    with pytest.raises(nc.InputError, match="takes binary spikes 0 or 1"):
        prog.simulate(x * 0.5)


@pytest.mark.parametrize("bad", ["empty_time", "empty_batch", "two", "negative"])
def test_api_inputs_checked_like_the_cli(digits, bad):
    """Program.simulate/energy check T, batch and chip values as the CLI does (InputError)."""
    _, prog, x, _ = digits
    xs = {
        "empty_time": x[:0],
        "empty_batch": x[:, :0],
        "two": x * 2,
        "negative": -x,
    }[bad]
    with pytest.raises(nc.InputError):
        prog.simulate(xs)
    with pytest.raises(nc.InputError):
        prog.energy(xs)


@pytest.mark.parametrize("call", ["run_record", "run_count", "outputs_record"])
@pytest.mark.parametrize("flag", ["no", 0, None])
def test_yes_no_arguments_take_true_or_false_only(digits, call, flag):
    """record/count are True or False: a truthy string ("no") or a number is refused, not
    taken as yes (ArgumentError naming the argument); numpy's bool is a bool."""
    _, prog, x, _ = digits
    run = {
        "run_record": lambda v: prog.run(x[:, :2], record=v),
        "run_count": lambda v: prog.run(x[:, :2], count=v),
        "outputs_record": lambda v: prog.outputs(x[:, :2], record=v),
    }[call]
    with pytest.raises(nc.ArgumentError, match=f"{call.split('_')[1]} = {flag!r}"):
        run(flag)
    assert run(np.bool_(True)) is not None


COMPILE = """
import sys, warnings, numpy as np, neurocomp as nc
warnings.simplefilter("ignore")
calib = np.load(sys.argv[2])["x"]
nc.compile(sys.argv[1], calibration=calib).save(sys.argv[3])
"""


def test_compile_is_deterministic_across_processes(tmp_path):
    outs = []
    for k in range(2):
        out = tmp_path / f"b{k}"
        subprocess.run(
            [
                sys.executable,
                "-c",
                COMPILE,
                str(DIGITS / "digits.nir"),
                str(DIGITS / "digits_calib.npz"),
                str(out),
            ],
            check=True,
            timeout=300,
        )
        outs.append({p.name: p.read_bytes() for p in out.iterdir()})
    assert outs[0] == outs[1]


# The shipped digits.nir compiled as `neurocomp compile` does by default, then with the shipped
# calibration set: digests of the program folder's content (program.json's text; every array's
# name, dtype, shape and bytes, so that the zip library's compression does not count). Integer
# programs are the same on every machine; a change here is a change of the compiler's output:
# if it is intended, replace the digest with the one the failure prints.
GOLDEN = {
    "reference": "1a9fbf855be7decbb0c48c4689f4b739168e86323bfec052e7aa91057005ccfb",
    "loihi2": "617a43484a00ddeae79d1ec7b2aab633b5d3e9d9ce436f27f618284135159ed9",
    "reference-calibrated": "0a5c5037c1f32b979cd136bdeb2dd3b922b60f6f74d70ab53999c0a5e2eeaf86",
}
DIGEST = """
import hashlib, json, sys, warnings, numpy as np, neurocomp as nc
warnings.simplefilter("ignore")
model, calib, out = sys.argv[1:4]
digests = {}
for name, target, cal in (("reference", "reference", None), ("loihi2", "loihi2", None),
                          ("reference-calibrated", "reference", np.load(calib)["x"])):
    folder = nc.compile(model, target=target, calibration=cal).save(f"{out}/{name}")
    h = hashlib.sha256((folder / "program.json").read_bytes())
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        for key in sorted(z.files):
            a = z[key]
            h.update(f"{key} {a.dtype.str} {a.shape}".encode())
            h.update(np.ascontiguousarray(a).tobytes())
    if (folder / "run_lava.py").exists():
        h.update((folder / "run_lava.py").read_bytes())
    digests[name] = h.hexdigest()
print(json.dumps(digests))
"""


def _kernels(kind: str) -> dict[str, str]:
    """Environment choosing numpy and OpenBLAS kernels as other CPUs would: `plain`, those of
    a CPU without this one's SIMD extensions; `wide`, OpenBLAS's AVX-512 kernels where this CPU
    has AVX-512 (this AMD EPYC's default is Haswell's; they sum in another order)."""
    import platform

    from numpy.core._multiarray_umath import __cpu_baseline__, __cpu_features__

    env = dict(os.environ)
    x86 = platform.machine() in ("x86_64", "AMD64")
    if kind == "plain":
        found = [f for f, on in __cpu_features__.items() if on and f not in __cpu_baseline__]
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(found)
        if x86:
            env["OPENBLAS_CORETYPE"] = "Prescott"  # OpenBLAS's plainest x86-64 kernels
    elif kind == "wide" and x86:
        env["OPENBLAS_CORETYPE"] = "SkylakeX" if __cpu_features__["AVX512_SKX"] else "Prescott"
    return env


@pytest.mark.parametrize("kernels", ["native", "plain", "wide"])
def test_shipped_digits_compiles_to_the_committed_program(tmp_path, kernels):
    model, calib = DIGITS / "digits.nir", DIGITS / "digits_calib.npz"
    proc = subprocess.run(
        [sys.executable, "-c", DIGEST, str(model), str(calib), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_kernels(kernels),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == GOLDEN
