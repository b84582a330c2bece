"""arrays.npz: written byte-identically, read safely.

Reading checks every member from its zip entry and .npy header before anything is allocated:
a regular file, a zip of .npy members only, dtypes from a short list (no objects, no pickles,
no complex), declared sizes that agree with the zip entry and stay under `MAX_ARRAY_BYTES` in
total, and a compression ratio deflate can reach.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..inputs import npy_header
from .schema import ProgramError

MAX_ARRAY_BYTES = 4 << 30  # all members together, uncompressed
MAX_MEMBERS = 1 << 20
# Deflate cannot compress better than about 1032:1; a member claiming more lies about its size.
MAX_RATIO = 1100
ALLOWED_DTYPES = ("<i8", "<f8", "|u1", "<i4", "|b1")


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed with fixed timestamps and sorted names: byte-identical output."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def _header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> tuple[np.dtype, tuple]:
    with zf.open(info) as f:
        try:
            shape, fortran, dtype = npy_header(f)
        except ValueError as exc:
            raise ProgramError(
                f"{where}: member {info.filename}: not an .npy array ({exc})"
            ) from None
    if fortran or dtype.str not in ALLOWED_DTYPES:
        raise ProgramError(
            f"{where}: member {info.filename}: dtype {dtype.str}"
            f"{' (Fortran order)' if fortran else ''}; allowed: {', '.join(ALLOWED_DTYPES)}"
        )
    if any(d < 0 for d in shape) or len(shape) > 8:
        raise ProgramError(f"{where}: member {info.filename}: shape {shape} is not valid")
    return dtype, shape


def _declared_bytes(dtype: np.dtype, shape: tuple) -> int:
    n = dtype.itemsize
    for d in shape:
        n *= int(d)
    return n


def read_npz(path: Path, where: str) -> dict[str, np.ndarray]:
    """Every array of a program's arrays.npz, checked before it is read (see the module doc)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ProgramError(f"{where}: not a regular file")
        with zipfile.ZipFile(path) as zf:
            return _read_members(zf, where)
    except (OSError, zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, zlib.error) as exc:
        raise ProgramError(f"{where}: not a readable .npz archive ({exc})") from None


def _read_members(zf: zipfile.ZipFile, where: str) -> dict[str, np.ndarray]:
    infos = zf.infolist()
    if not infos:
        raise ProgramError(f"{where}: holds no arrays")
    if len(infos) > MAX_MEMBERS:
        raise ProgramError(f"{where}: {len(infos)} members; at most {MAX_MEMBERS}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names) or not all(n.endswith(".npy") for n in names):
        raise ProgramError(f"{where}: members must be distinct .npy arrays; got {names[:5]}")
    total = 0
    headers = []
    for info in infos:
        dtype, shape = _header(zf, info, where)
        size = _declared_bytes(dtype, shape)
        total += size
        if size > info.file_size or info.file_size > info.compress_size * MAX_RATIO + (1 << 16):
            raise ProgramError(
                f"{where}: member {info.filename} declares {size} bytes in "
                f"{info.compress_size} compressed bytes: corrupt or a zip bomb"
            )
        if total > MAX_ARRAY_BYTES:
            raise ProgramError(
                f"{where}: arrays declare {total} bytes; the limit is {MAX_ARRAY_BYTES}"
            )
        headers.append(info)
    out = {}
    for info in headers:
        with zf.open(info) as f:
            try:
                out[info.filename[:-4]] = np.lib.format.read_array(f, allow_pickle=False)
            except ValueError as exc:
                raise ProgramError(f"{where}: member {info.filename}: {exc}") from None
    return out
