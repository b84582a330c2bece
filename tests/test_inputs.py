"""neurocomp.inputs: .npz files read without trusting them, and the checks on input arrays."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.inputs import (
    CHIP_SPIKE_MAX,
    check_chip_inputs,
    check_labels,
    check_spikes,
    check_time_batch,
    read_npz,
)


def npy_bytes(header: dict, data: bytes) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + data


NPY3 = {"descr": "<f8", "fortran_order": False, "shape": (3,)}


def test_reads_what_numpy_writes(tmp_path):
    x = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    f = np.asfortranarray(np.random.default_rng(0).random((3, 5)))
    np.savez(tmp_path / "a.npz", x=x, labels=np.arange(3))
    np.savez_compressed(tmp_path / "b.npz", f=f, big=np.dtype(">i4").type(7) * np.ones(4, ">i4"))
    a = read_npz(tmp_path / "a.npz")
    assert sorted(a) == ["labels", "x"] and np.array_equal(a["x"], x)
    b = read_npz(tmp_path / "b.npz")
    assert np.array_equal(b["f"], f) and np.array_equal(b["big"], np.full(4, 7))


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.npz"
    os.mkfifo(fifo)
    with pytest.raises(nc.InputError, match="not a regular file"):
        read_npz(fifo)  # opened non-blocking: returns at once (the test would hang otherwise)


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda p: p.mkdir(), "a folder"),
        (lambda p: p.write_bytes(b""), "not a zip archive"),
        (lambda p: p.write_bytes(b"hello world"), "not a zip archive"),
        (lambda p: p.write_bytes(npy_bytes(NPY3, b"\0" * 24)), "an .npy file"),
        (lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 40), "not a readable .npz"),
        (lambda p: np.savez(p, x=np.array([{}], dtype=object)), "pickles are never read"),
        (lambda p: np.savez(p, x=np.ones(3, complex)), "dtype complex128"),
        (lambda p: np.savez(p, x=np.array(["a"])), "dtype <U1"),
        (lambda p: np.savez(p, x=np.zeros(2, [("a", "i4")])), "dtype"),
    ],
)
def test_bad_files_are_one_input_error(tmp_path, make, needle):
    path = tmp_path / "x.npz"
    make(path)
    with pytest.raises(nc.InputError, match=needle):
        read_npz(path)


def test_missing_file(tmp_path):
    with pytest.raises(nc.InputError, match="no such file"):
        read_npz(tmp_path / "absent.npz")


def test_header_declaring_a_huge_shape_allocates_nothing(tmp_path):
    path = tmp_path / "x.npz"
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}  # 8 TB
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", npy_bytes(header, b"\0" * 16))
    with pytest.raises(nc.InputError, match=r"declares shape \(1000000, 1000000\)"):
        read_npz(path)


def test_zip_bomb_is_refused_from_the_zip_directory(tmp_path, monkeypatch):
    """64 KB on disk, 64 MiB declared (a real deflate bomb, scaled down: the limit is set to
    16 MiB here, 1 GiB by default): refused before decompressing anything."""
    path = tmp_path / "bomb.npz"
    n = 64 * 2**20
    header = npy_bytes({"descr": "|u1", "fortran_order": False, "shape": (n,)}, b"")
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z,
        z.open("x.npy", "w") as member,
    ):
        member.write(header)
        for _ in range(64):
            member.write(bytes(2**20))
    assert path.stat().st_size < 100_000
    monkeypatch.setenv("NEUROCOMP_MAX_INPUT_BYTES", str(16 * 2**20))
    with pytest.raises(nc.InputError, match="more than the limit of 16777216"):
        read_npz(path)


def test_limit_is_configurable(tmp_path, monkeypatch):
    path = tmp_path / "x.npz"
    np.savez(path, x=np.zeros(1000, np.uint8))
    monkeypatch.setenv("NEUROCOMP_MAX_INPUT_BYTES", "500")
    with pytest.raises(nc.InputError, match="limit of 500"):
        read_npz(path)
    monkeypatch.setenv("NEUROCOMP_MAX_INPUT_BYTES", "lots")
    with pytest.raises(nc.InputError, match="NEUROCOMP_MAX_INPUT_BYTES"):
        read_npz(path)


def test_member_shorter_than_its_header(tmp_path):
    path = tmp_path / "x.npz"
    header = {"descr": "<f8", "fortran_order": False, "shape": (4,)}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", npy_bytes(header, b"\0" * 8))
    with pytest.raises(nc.InputError, match=r"\(32 bytes\) but the file holds 8 bytes"):
        read_npz(path)


def test_corrupt_member_fails_its_crc(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, x=np.arange(64, dtype=np.int64))
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"NUMPY") + 200] ^= 0xFF  # a data byte of the stored member
    path.write_bytes(bytes(raw))
    with pytest.raises(nc.InputError, match="not a readable .npz"):
        read_npz(path)


def test_other_members_and_duplicates(tmp_path):
    path = tmp_path / "x.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes.txt", b"hi")
    with pytest.raises(nc.InputError, match="'notes.txt' is not an .npy array"):
        read_npz(path)


@pytest.mark.parametrize(
    "shape, needle",
    [((4,), r"expected shape \(T, batch"), ((0, 2, 3), "T = 0"), ((3, 0, 3), "batch = 0")],
)
def test_time_and_batch(shape, needle):
    with pytest.raises(nc.InputError, match=needle):
        check_time_batch("x", np.zeros(shape))


@pytest.mark.parametrize(
    "value, needle",
    [(2, "value 2"), (-1, "value -1"), (0.5, "value 0.5"), (1e300, r"value 1e\+300")],
)
def test_chip_spikes_name_the_value_and_the_limit(value, needle):
    x = np.zeros((3, 2, 4))
    x[1, 1, 2] = value
    with pytest.raises(nc.InputError, match=needle) as err:
        check_spikes("x", x, CHIP_SPIKE_MAX, "target 'reference'")
    assert "at (1, 1, 2)" in str(err.value) and "from 0 to 1" in str(err.value)


def test_chip_spikes_limit_is_a_parameter():
    counts = np.full((2, 1, 3), 3, np.int16)
    check_spikes("x", counts, 3)  # a chip with a 2-bit payload takes 0..3
    with pytest.raises(nc.InputError, match="spike values 0..2"):
        check_spikes("x", counts, 2)
    with pytest.raises(nc.InputError, match="NaN or inf"):
        check_spikes("x", np.array([[np.nan]]), 3)
    check_spikes("x", np.ones((2, 1, 3), bool), 1)


def test_check_chip_inputs_uses_the_target():
    class Target:
        name = "reference"

    with pytest.raises(nc.InputError, match="target 'reference' takes binary spikes"):
        check_chip_inputs({"x": np.full((2, 1, 3), 2)}, Target())
    with pytest.raises(nc.InputError, match="T = 0"):
        check_chip_inputs({"x": np.zeros((0, 1, 3))}, Target())


@pytest.mark.parametrize(
    "labels, needle",
    [
        (np.zeros((2, 2)), "must be 1-D"),
        (np.zeros(3, int), "3 labels for a batch of 2"),
        (np.array([0.5, 1]), "whole class numbers"),
        (np.array([-1, 0]), ">= 0"),
        (np.array(["a", "b"]), "whole class numbers"),
    ],
)
def test_labels(labels, needle):
    with pytest.raises(nc.InputError, match=needle):
        check_labels(labels, 2)


def test_labels_ok():
    assert check_labels(np.array([1.0, 0.0]), 2).dtype == np.int64


def test_spike_max_reads_the_chip_payload() -> None:
    """Binary spikes on chips without a graded-spike payload; counts up to 2^b - 1 with one."""
    import dataclasses

    from neurocomp.inputs import spike_max
    from neurocomp.target import load_target

    spec = load_target("reference")
    assert spec.format.spike_payload_bits == 0 and spike_max(spec) == 1
    fmt = dataclasses.replace(spec.format, spike_payload_bits=3)
    graded = dataclasses.replace(spec, format=fmt)
    assert spike_max(graded) == 7
