"""Content hashes of sweep inputs (networks, targets, pipelines, data) for the point cache.

The hash walks the value itself, not its pickle: dataclasses by class name and fields, dicts by
sorted key, arrays by dtype, shape and bytes, sparse matrices by their sorted CSR arrays. Equal
contents give equal hashes in any process and on any machine.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import sparse

from ..errors import InputError


def digest(*values: Any) -> str:
    """SHA-256 (hex) of the contents of `values`."""
    h = hashlib.sha256()
    for v in values:
        _feed(h, v)
    return h.hexdigest()


def _tag(h: Any, tag: str, payload: bytes = b"") -> None:
    h.update(tag.encode() + b":" + struct.pack("<Q", len(payload)) + payload)


def _feed(h: Any, v: Any) -> None:
    if v is None or isinstance(v, (bool, int, float, str, bytes)):
        _scalar(h, v)
    elif isinstance(v, np.generic):
        _scalar(h, v.item())
    elif isinstance(v, np.ndarray):
        _array(h, v)
    elif sparse.issparse(v):
        m = sparse.csr_matrix(v)
        m.sort_indices()
        _tag(h, "sparse", repr(m.shape).encode())
        for part in (m.data, m.indices.astype(np.int64), m.indptr.astype(np.int64)):
            _array(h, part)
    else:
        _structured(h, v)


def _structured(h: Any, v: Any) -> None:
    """Containers, enums and dataclasses, by their contents."""
    if isinstance(v, Mapping):
        _tag(h, "map", str(len(v)).encode())
        for key in sorted(v, key=str):
            _feed(h, str(key))
            _feed(h, v[key])
    elif isinstance(v, (list, tuple)):
        _tag(h, "seq", str(len(v)).encode())
        for item in v:
            _feed(h, item)
    elif isinstance(v, enum.Enum):
        _tag(h, "enum", f"{type(v).__qualname__}.{v.name}".encode())
    elif dataclasses.is_dataclass(v) and not isinstance(v, type):
        _tag(h, "dc", f"{type(v).__module__}.{type(v).__qualname__}".encode())
        for f in dataclasses.fields(v):
            _feed(h, f.name)
            _feed(h, getattr(v, f.name))
    elif isinstance(v, (set, frozenset)):
        _tag(h, "set", str(len(v)).encode())
        for item in sorted(v, key=repr):
            _feed(h, item)
    else:
        raise InputError(f"sweep: cannot hash a {type(v).__qualname__} for the point cache")


def _scalar(h: Any, v: Any) -> None:
    if isinstance(v, float):
        _tag(h, "float", struct.pack("<d", v))
    elif isinstance(v, bytes):
        _tag(h, "bytes", v)
    else:
        _tag(h, type(v).__name__, repr(v).encode())


def _array(h: Any, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a)
    if a.dtype == object:
        _tag(h, "objarray", repr(a.shape).encode())
        for item in a.ravel():
            _feed(h, item)
        return
    _tag(h, "array", f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
