"""Read NIR tolerantly into plain dictionaries, then flatten nested graphs.

`nir.read` builds node objects whose constructors assert, and fails on files that older exporters
wrote. We read the HDF5 layout ourselves (`/node/type`, `/node/nodes/<name>/...`, `/node/edges`),
list every unknown node type at once, repair what is repairable with a warning, and leave all value
checks to `params.py` and `shapes.py`.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DtError, GraphError, NeurocompWarning, NirFileError, UnsupportedNodeError

# NIR 1.0 primitives: every one is lowered by neurocomp.
NEURON_TYPES = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I", "Threshold")
LINEAR_TYPES = (
    "Affine",
    "Linear",
    "Scale",
    "Conv1d",
    "Conv2d",
    "SumPool2d",
    "AvgPool2d",
    "Flatten",
    "Delay",
)
PORT_TYPES = ("Input", "Output")
KNOWN_TYPES = frozenset((*NEURON_TYPES, *LINEAR_TYPES, *PORT_TYPES, "NIRGraph"))
# A hostile header can declare far more than the file holds (fill values, compression): every
# dataset's declared size is counted before it is read, one by one and for the whole file.
MAX_DATASET_BYTES = 2**28  # 256 MiB: a dataset declaring more is refused before it is read
MAX_FILE_BYTES = 2**28  # 256 MiB: all datasets of one file together
MAX_OBJECTS = 100_000  # groups and datasets in one file
MAX_DEPTH = 64  # nesting of groups (nested graphs, metadata)
# The time step a file's metadata may state (seconds): 1 ns .. 10 s.
DT_RANGE_S = (1e-9, 10.0)


@dataclass
class RawNode:
    """A node as stored: its NIR type name and its fields (arrays, scalars, strings)."""

    type: str
    params: dict[str, Any]


@dataclass
class RawGraph:
    """A flat graph of raw nodes; `repairs` lists what the reader had to fix."""

    nodes: dict[str, RawNode]
    edges: list[tuple[str, str]]
    metadata: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    repairs: list[str] = field(default_factory=list)


def _to_str(x: Any) -> Any:
    if isinstance(x, bytes):
        return x.decode("utf-8", errors="replace")
    if isinstance(x, np.ndarray) and x.dtype.kind in "SO" and x.ndim == 0:
        return _to_str(x.item())
    return x


@dataclass
class _Walk:
    """What reading one file has used so far: bytes declared, objects seen (hard links)."""

    path: str
    nbytes: int = 0
    seen: set[Any] = field(default_factory=set)


def _check_link(group: Any, key: str, walk: _Walk) -> None:
    import h5py

    link = group.get(key, getlink=True)
    if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
        kind = "an external" if isinstance(link, h5py.ExternalLink) else "a soft"
        raise NirFileError(
            f"{walk.path}: '{group.name.rstrip('/')}/{key}' is {kind} link: a NIR file must "
            "hold its data itself, links are refused"
        )


def _dtype_problem(item: Any, in_metadata: bool) -> str | None:
    """Why a dataset's element type is not one NIR stores (reals, integers, strings), if so."""
    import h5py

    dt = item.dtype
    if h5py.check_string_dtype(dt) is not None or dt.kind in "SU":
        return None
    if dt.kind in "iuf" or (dt.kind == "b" and in_metadata):
        return None
    names = {"c": "complex", "b": "boolean", "V": "compound or opaque", "O": "object"}
    return f"{names.get(dt.kind, dt.kind)} ({dt})"


def _dataset_value(item: Any, walk: _Walk, in_metadata: bool) -> Any:
    where = f"{walk.path}: dataset '{item.name}'"
    if item.external or item.is_virtual:
        raise NirFileError(
            f"{where} stores its data in another file (HDF5 external or virtual storage): refused"
        )
    problem = _dtype_problem(item, in_metadata)
    if problem is not None:
        raise NirFileError(f"{where} has element type {problem}: NIR stores reals and strings")
    if item.shape is None:
        raise NirFileError(f"{where} has no value (an empty dataspace)")
    nbytes = int(item.size) * max(int(item.dtype.itemsize), 1)
    if nbytes > MAX_DATASET_BYTES:
        raise NirFileError(
            f"{where} declares {nbytes} bytes, more than the {MAX_DATASET_BYTES} neurocomp "
            "reads: refused"
        )
    walk.nbytes += nbytes
    if walk.nbytes > MAX_FILE_BYTES:
        raise NirFileError(
            f"{walk.path}: datasets declare {walk.nbytes} bytes or more in all, more than "
            f"the {MAX_FILE_BYTES} neurocomp reads from one file: refused"
        )
    return _to_str(item[()])


def _hdf_to_dict(group: Any, walk: _Walk, depth: int = 0, in_metadata: bool = False) -> dict:
    """The group as nested dictionaries, each object read once and every size bounded first."""
    import h5py

    if depth > MAX_DEPTH:
        raise NirFileError(f"{walk.path}: '{group.name}' is nested deeper than {MAX_DEPTH} groups")
    out: dict[str, Any] = {}
    for key in group:
        _check_link(group, key, walk)
        item = group[key]
        if item.id in walk.seen:
            raise NirFileError(
                f"{walk.path}: '{item.name}' is reached twice (an HDF5 hard link): refused"
            )
        walk.seen.add(item.id)
        if len(walk.seen) > MAX_OBJECTS:
            raise NirFileError(f"{walk.path}: more than {MAX_OBJECTS} groups and datasets")
        meta = in_metadata or key == "metadata"
        if isinstance(item, h5py.Group):
            out[key] = _hdf_to_dict(item, walk, depth + 1, meta)
        elif isinstance(item, h5py.Dataset):
            out[key] = _dataset_value(item, walk, meta)
    return out


def _version(f: Any, walk: _Walk) -> Any:
    import h5py

    if f.get("version", getlink=True) is None:
        return None
    _check_link(f, "version", walk)
    item = f["version"]
    if not isinstance(item, h5py.Dataset) or item.shape is None or item.size > 64:
        raise NirFileError(f"{walk.path}: '/version' is not a version string")
    return _dataset_value(item, walk, in_metadata=True)


def _read_file(path: str) -> tuple[dict[str, Any], str | None]:
    import h5py

    if not os.path.exists(path):
        raise NirFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise NirFileError(f"{path}: is a directory, not a NIR file")
    if not os.path.isfile(path):  # a FIFO or device would block or never end
        raise NirFileError(f"{path}: not a regular file, so not a NIR file")
    if not os.access(path, os.R_OK):
        raise NirFileError(f"{path}: cannot be read (permission denied)")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as exc:
        raise NirFileError(f"{path}: cannot be read ({exc})") from None
    if not is_hdf5:
        raise NirFileError(f"{path}: not an HDF5 file, so not a NIR file")
    walk = _Walk(path)
    try:
        with h5py.File(path, "r") as f:
            if f.get("node", getlink=True) is None:
                raise NirFileError(f"{path}: HDF5 file has no '/node' group: not a NIR file")
            _check_link(f, "node", walk)
            node = f["node"]
            if not isinstance(node, h5py.Group):
                raise NirFileError(f"{path}: HDF5 file has no '/node' group: not a NIR file")
            walk.seen.add(node.id)
            data = _hdf_to_dict(node, walk)
            version = _version(f, walk)
    except NirFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise NirFileError(f"{path}: corrupt HDF5 content ({exc})") from None
    return data, (str(version) if version is not None else None)


def _edges(value: Any, where: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    arr = np.asarray(value, dtype=object)
    if arr.size == 0:
        return []
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise GraphError(f"graph '{where}': edges must be (source, target) pairs, got {arr.shape}")
    return [(str(_to_str(a)), str(_to_str(b))) for a, b in arr]


def _raw_tree(d: dict[str, Any], where: str, unknown: dict[str, str]) -> RawNode:
    if not isinstance(d, dict) or "type" not in d:
        raise NirFileError(f"node '{where}' has no 'type' field")
    kind = str(_to_str(d["type"]))
    if kind not in KNOWN_TYPES:
        unknown[where] = kind
        return RawNode(kind, {})
    params = {k: v for k, v in d.items() if k not in ("type", "metadata")}
    if kind == "NIRGraph":
        nodes_d = params.get("nodes", {})
        if not isinstance(nodes_d, dict):
            raise NirFileError(f"graph '{where}': 'nodes' is not a group")
        params["nodes"] = {
            name: _raw_tree(sub, f"{where}.{name}" if where else name, unknown)
            for name, sub in nodes_d.items()
        }
        params["edges"] = _edges(params.get("edges"), where or "<top>")
        params["metadata"] = d.get("metadata", {}) if isinstance(d.get("metadata"), dict) else {}
    return RawNode(kind, params)


def _repair_dangling(
    nodes: dict[str, RawNode], edges: list[tuple[str, str]], where: str, repairs: list[str]
) -> list[tuple[str, str]]:
    """Map a single dangling edge name onto the single node no edge mentions (old exporters)."""
    mentioned = {n for e in edges for n in e}
    missing = sorted(mentioned - set(nodes))
    if not missing:
        return edges
    orphans = sorted(set(nodes) - mentioned)
    if len(missing) == 1 and len(orphans) == 1:
        old, new = missing[0], orphans[0]
        repairs.append(
            f"graph '{where or '<top>'}': edges name '{old}', which does not exist; the only node "
            f"no edge mentions is '{new}', so the edges were taken to mean it"
        )
        return [(new if a == old else a, new if b == old else b) for a, b in edges]
    a, b = next(e for e in edges if e[0] in missing or e[1] in missing)
    bad = a if a in missing else b
    raise GraphError(
        f"edge ('{a}', '{b}') in graph '{where or '<top>'}' references missing node '{bad}' "
        f"(nodes: {sorted(nodes)})"
    )


def _flatten(
    node: RawNode, prefix: str, repairs: list[str]
) -> tuple[dict[str, RawNode], list[tuple[str, str]], dict[str, tuple[list[str], list[str]]]]:
    """Inline nested graphs. Returns nodes, edges, and for each subgraph its input/output ports."""
    nodes_in: dict[str, RawNode] = node.params["nodes"]
    edges = _repair_dangling(nodes_in, node.params["edges"], prefix, repairs)
    flat: dict[str, RawNode] = {}
    flat_edges: list[tuple[str, str]] = []
    ports: dict[str, tuple[list[str], list[str]]] = {}

    def q(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    for name, sub in nodes_in.items():
        if sub.type == "NIRGraph":
            s_nodes, s_edges, s_ports = _flatten(sub, q(name), repairs)
            flat.update(s_nodes)
            flat_edges.extend(s_edges)
            ports.update(s_ports)
            ins = [q(name) + "." + n for n, v in sub.params["nodes"].items() if v.type == "Input"]
            outs = [q(name) + "." + n for n, v in sub.params["nodes"].items() if v.type == "Output"]
            if not ins or not outs:
                raise GraphError(f"nested graph '{q(name)}' needs Input and Output nodes")
            for port in ins + outs:  # inner ports become pass-throughs
                flat[port] = RawNode("_Port", {})
            ports[q(name)] = (ins, outs)
        else:
            if q(name) in flat:
                raise GraphError(f"flattening makes two nodes named '{q(name)}'")
            flat[q(name)] = sub
    for a, b in edges:
        srcs = ports[q(a)][1] if q(a) in ports else [q(a)]
        if q(b) in ports:
            ins = ports[q(b)][0]
            if len(ins) != 1:
                raise GraphError(
                    f"edge ('{a}', '{b}'): nested graph '{q(b)}' has {len(ins)} inputs"
                )
            dsts = ins
        else:
            dsts = [q(b)]
        flat_edges.extend((s, d) for s in srcs for d in dsts)
    return flat, flat_edges, ports


def _remove_ports(nodes: dict[str, RawNode], edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Bypass the pass-through port nodes left where nested graphs were inlined."""
    for port in [n for n, v in nodes.items() if v.type == "_Port"]:
        preds = [a for a, b in edges if b == port]
        succs = [b for a, b in edges if a == port]
        kept = [e for e in edges if port not in e]
        edges = kept + [(a, b) for a in preds for b in succs]
        del nodes[port]
    return edges


def read_raw(source: Any) -> RawGraph:
    """Read a path to a .nir file or an in-memory `nir.NIRGraph` into a flat `RawGraph`.

    Raises NirFileError, UnsupportedNodeError (listing every unknown node) or GraphError; emits a
    NeurocompWarning for each repair.
    """
    version: str | None = None
    if isinstance(source, (str, os.PathLike)):
        data, version = _read_file(os.fspath(source))
    elif hasattr(source, "to_dict") and hasattr(source, "nodes"):
        data = source.to_dict()
    else:
        raise NirFileError(
            f"cannot read NIR from a {type(source).__name__}: give a path or NIRGraph"
        )
    unknown: dict[str, str] = {}
    root = _raw_tree(data, "", unknown)
    if unknown:
        raise UnsupportedNodeError(unknown)
    if root.type != "NIRGraph":
        raise NirFileError(f"top-level node is a {root.type}, not a NIRGraph")
    repairs: list[str] = []
    nodes, edges, _ = _flatten(root, "", repairs)
    edges = _remove_ports(nodes, edges)
    _check_ports(nodes)
    metadata = dict(root.params.get("metadata", {}))
    if "dt" in metadata:
        metadata["dt"] = check_dt(metadata["dt"], "metadata dt")
    seen: set[tuple[str, str]] = set()
    unique = []
    for e in edges:
        if e in seen:
            repairs.append(f"duplicate edge {e} kept once")
            continue
        seen.add(e)
        unique.append(e)
    for msg in repairs:
        warnings.warn(f"repaired: {msg}", NeurocompWarning, stacklevel=3)
    return RawGraph(nodes, unique, metadata, version, repairs)


def _check_ports(nodes: dict[str, RawNode]) -> None:
    """A network has at least one Input and one Output (after nested graphs are inlined)."""
    if not nodes:
        raise GraphError("the graph has no nodes: nothing to compile")
    for port in PORT_TYPES:
        if not any(v.type == port for v in nodes.values()):
            raise GraphError(
                f"the graph has no {port} node (nodes: {', '.join(sorted(nodes)[:8])}"
                f"{', ...' if len(nodes) > 8 else ''}): a network needs an Input and an Output"
            )


def check_dt(value: Any, what: str = "dt") -> float:
    """A time step checked: a real number of seconds in DT_RANGE_S (DtError names `what`)."""
    lo, hi = DT_RANGE_S
    arr = np.asarray(value) if not isinstance(value, str) else np.asarray(None)
    ok = arr.ndim == 0 and arr.dtype.kind in "iuf" and not isinstance(value, bool)
    dt = float(arr) if ok else math.nan
    if not (math.isfinite(dt) and lo <= dt <= hi):
        raise DtError(f"{what} = {brief(value)}: must be a number of seconds in [{lo}, {hi}]")
    return dt


def brief(value: Any) -> str:
    """A value as a short single line for a message (never a multi-line array repr)."""
    arr = np.asarray(value) if not isinstance(value, str) else None
    if arr is None or arr.ndim == 0:
        text = repr(value.item() if isinstance(value, np.generic) else value)
    elif arr.size <= 8 and arr.dtype.kind in "iufb":
        text = str(arr.tolist())
    else:
        text = f"<{arr.dtype} array of shape {arr.shape}>"
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
