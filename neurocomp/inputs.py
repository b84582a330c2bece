"""Input arrays from `.npz` files, read without trusting the file, and the checks every input
array passes before a simulation or a chip run.

A `.npz` is a zip of `.npy` members. Nothing is allocated from a size the file merely declares:
the zip directory's sizes and every member's `.npy` header (shape, dtype) are read first and
checked against `max_input_bytes()` (`NEUROCOMP_MAX_INPUT_BYTES`, default 1 GiB of decoded
arrays per file), and a header must agree with the bytes its member holds. Only regular files
are opened (a FIFO or a device would block or never end); object arrays (pickles) are refused,
as are dtypes other than bool, integers and floats.
"""

from __future__ import annotations

import math
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import ArgumentError, InputError

DEFAULT_MAX_INPUT_BYTES = 2**30
MAX_MEMBERS = 1024  # arrays in one .npz: a network has a few inputs, plus labels
# Spike values a chip without a graded-spike payload takes (reference): binary spikes. A chip
# whose TOML declares `spike_payload_bits` (loihi2: 24) takes graded values up to its
# payload (see `spike_max`).
CHIP_SPIKE_MAX = 1
_READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    RuntimeError,  # an encrypted member
    NotImplementedError,  # an unknown compression method
    OverflowError,
    struct.error,
    zlib.error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
)


def max_input_bytes() -> int:
    """Most bytes of decoded arrays one input file may hold (`NEUROCOMP_MAX_INPUT_BYTES`)."""
    text = os.environ.get("NEUROCOMP_MAX_INPUT_BYTES", "")
    try:
        return int(text) if text else DEFAULT_MAX_INPUT_BYTES
    except ValueError:
        raise InputError(
            f"NEUROCOMP_MAX_INPUT_BYTES = {text!r}: expected a whole number of bytes"
        ) from None


def read_npz(path: str | os.PathLike[str], limit: int | None = None) -> dict[str, np.ndarray]:
    """Every array of an `.npz` file, by name; `InputError` for anything that is not a small
    enough `.npz` of numeric arrays (limit: bytes of decoded arrays, by default
    `max_input_bytes()`)."""
    limit = max_input_bytes() if limit is None else limit
    with _open_regular(Path(path)) as f:
        head = f.read(6)
        f.seek(0)
        if head.startswith(b"\x93NUMPY"):
            raise InputError(
                f"{path}: an .npy file, not an .npz; save it with np.savez(path, x=array)"
            )
        if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise InputError(f"{path}: not an .npz file (not a zip archive)")
        try:
            with zipfile.ZipFile(f) as zf:
                return _read_members(path, zf, limit)
        except _READ_ERRORS as exc:
            raise InputError(f"{path}: not a readable .npz file ({exc})") from None


def _open_regular(path: Path) -> IO[bytes]:
    """Open for reading without blocking, and only if it is a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{path}: a folder, not an .npz file")
        if not stat.S_ISREG(mode):
            raise InputError(f"{path}: not a regular file (a FIFO, socket or device); give an .npz")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_members(path: Any, zf: zipfile.ZipFile, limit: int) -> dict[str, np.ndarray]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise InputError(f"{path}: {len(infos)} arrays, more than {MAX_MEMBERS}")
    declared = sum(i.file_size for i in infos)
    if declared > limit:
        raise InputError(
            f"{path}: declares {declared} bytes of arrays, more than the limit of {limit} "
            "(NEUROCOMP_MAX_INPUT_BYTES)"
        )
    out: dict[str, np.ndarray] = {}
    for info in infos:
        if info.is_dir():
            continue
        if not info.filename.endswith(".npy"):
            raise InputError(f"{path}: member '{info.filename}' is not an .npy array")
        name = info.filename[: -len(".npy")]
        if name in out:
            raise InputError(f"{path}: two arrays named '{name}'")
        with zf.open(info) as member:
            out[name] = _read_member(f"{path}: array '{name}'", member, info.file_size)
    return out


def npy_header(member: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) from an .npy header, nothing allocated; ValueError if it
    is not one (formats 1.0 and 2.0 are read). Program folders' arrays are read with it too."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(member)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(member)
    raise ValueError(f".npy format {version} (1.0 and 2.0 are read)")


def _read_member(where: str, member: IO[bytes], size: int) -> np.ndarray:
    """One .npy member, its header checked against the bytes it holds before allocating."""
    try:
        shape, fortran, dtype = npy_header(member)
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None
    if dtype.hasobject:
        raise InputError(f"{where}: holds Python objects (pickles are never read)")
    if dtype.kind not in "biuf" or dtype.names is not None:
        raise InputError(f"{where}: dtype {dtype} (bool, integer or float arrays are read)")
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    held = size - member.tell()
    if nbytes != held:
        raise InputError(
            f"{where}: header declares shape {shape} ({nbytes} bytes) but the file holds "
            f"{max(held, 0)} bytes"
        )
    flat = np.empty(count, dtype=dtype)
    view = memoryview(flat.view(np.uint8))  # type: ignore[arg-type]
    got = 0
    while got < nbytes:
        n = member.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            raise InputError(f"{where}: truncated ({got} of {nbytes} bytes)")
        got += n
    if member.read(1):  # reading to the end also checks the member's CRC
        raise InputError(f"{where}: more bytes than its header declares")
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


# -- checks on arrays, wherever they come from ---------------------------------------------------


def check_time_batch(name: str, arr: np.ndarray) -> None:
    """An input must be (T, batch, ...) with at least one step and one sample."""
    if arr.ndim < 2:
        raise InputError(f"input '{name}': expected shape (T, batch, ...), got {arr.shape}")
    if arr.shape[0] == 0:
        raise InputError(f"input '{name}': T = 0 time steps (at least 1 needed)")
    if arr.shape[1] == 0:
        raise InputError(f"input '{name}': batch = 0 samples (at least 1 needed)")


def check_finite(name: str, arr: np.ndarray) -> None:
    """Float simulation takes any real values, but not NaN or inf."""
    if arr.dtype.kind not in "biuf":
        raise InputError(f"input '{name}': dtype {arr.dtype} is not a real number type")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError(f"input '{name}': contains NaN or inf")


def check_spikes(name: str, arr: np.ndarray, max_value: int, target: str = "the chip") -> None:
    """Spikes a chip takes: whole numbers from 0 to `max_value` (1: binary spikes)."""
    check_finite(name, arr)
    if arr.size == 0:
        return
    if arr.dtype.kind in "biu" and arr.min() >= 0 and arr.max() <= max_value:
        return  # two reductions, no temporaries: a tenth of a small batched run otherwise
    flat = arr.reshape(-1)
    bad = (flat < 0) | (flat > max_value)
    if arr.dtype.kind == "f":
        bad |= flat != np.round(flat)
    if bad.any():
        i = int(np.argmax(bad))
        index = tuple(int(k) for k in np.unravel_index(i, arr.shape))
        kind = "binary spikes 0 or 1" if max_value == 1 else f"spike values 0..{max_value}"
        raise InputError(
            f"input '{name}': value {flat[i]!r} at {index}: {target} takes {kind} "
            f"(whole numbers from 0 to {max_value})"
        )


def spike_max(target: Any) -> int:
    """The largest spike value `target` (a TargetSpec) takes: binary spikes (CHIP_SPIKE_MAX),
    or counts up to 2^b - 1 where its TOML declares a graded-spike payload of b bits."""
    fmt = getattr(target, "format", None)
    bits = int(getattr(fmt, "spike_payload_bits", 0) or 0)
    return (1 << bits) - 1 if bits > 0 else CHIP_SPIKE_MAX


def check_input_names(inputs: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """Every array given names an input of the network (a misspelt name is not ignored)."""
    extra = sorted(str(k) for k in set(given) - set(inputs))
    if extra:
        raise InputError(
            f"input array(s) {extra}: the network has no such input; its inputs are "
            f"{sorted(inputs)}"
        )


def check_flag(function: str, name: str, value: object) -> bool:
    """A yes/no argument of `function`: True or False (a numpy bool too), never a truthy
    string or number (`record="no"` would record): ArgumentError."""
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(function, name, value, "True or False")
    return bool(value)


def check_chip_inputs(xs: Mapping[str, np.ndarray], target: Any) -> None:
    """Every input array is (T >= 1, batch >= 1, ...) of values the target chip takes."""
    name = getattr(target, "name", "the chip")
    for key, arr in xs.items():
        a = np.asarray(arr)
        check_time_batch(key, a)
        check_spikes(key, a, spike_max(target), f"target '{name}'")


def check_labels(labels: Any, batch: int, source: str = "labels") -> np.ndarray:
    """Class labels: a 1-D array of whole numbers >= 0, one per sample of the batch."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise InputError(
            f"{source}: labels must be 1-D (one class per sample), got shape {arr.shape}"
        )
    if arr.dtype.kind not in "iuf" or (
        arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr)))
    ):
        raise InputError(f"{source}: labels must be whole class numbers, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise InputError(f"{source}: labels must be >= 0, got {arr.min()}")
    if len(arr) != batch:
        raise InputError(f"{source}: {len(arr)} labels for a batch of {batch} samples")
    return arr.astype(np.int64)
