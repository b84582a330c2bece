"""Read NIR tolerantly into plain dictionaries, then flatten nested graphs.

`nir.read` builds node objects whose constructors assert, and fails on files that older exporters
wrote. We read the HDF5 layout ourselves (`/node/type`, `/node/nodes/<name>/...`, `/node/edges`),
list every unknown node type at once, repair what is repairable with a warning, and leave all value
checks to `params.py` and `shapes.py`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GraphError, NeurocompWarning, NirFileError, UnsupportedNodeError

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
# An in-file array larger than this is refused before it is read (a corrupt or hostile header).
MAX_DATASET_BYTES = 2**28  # 256 MiB: a dataset declaring more is refused before it is read


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


def _hdf_to_dict(group: Any) -> dict[str, Any]:
    import h5py

    out: dict[str, Any] = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _hdf_to_dict(item)
        elif isinstance(item, h5py.Dataset):
            nbytes = int(item.size) * max(int(item.dtype.itemsize), 1)
            if nbytes > MAX_DATASET_BYTES:
                raise NirFileError(
                    f"dataset '{item.name}' declares {nbytes} bytes, more than "
                    f"the {MAX_DATASET_BYTES} neurocomp reads: refused"
                )
            out[key] = _to_str(item[()])
    return out


def _read_file(path: str) -> tuple[dict[str, Any], str | None]:
    import h5py

    if not os.path.exists(path):
        raise NirFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise NirFileError(f"{path}: is a directory, not a NIR file")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as exc:
        raise NirFileError(f"{path}: cannot be read ({exc})") from None
    if not is_hdf5:
        raise NirFileError(f"{path}: not an HDF5 file, so not a NIR file")
    try:
        with h5py.File(path, "r") as f:
            if "node" not in f or not isinstance(f["node"], h5py.Group):
                raise NirFileError(f"{path}: HDF5 file has no '/node' group: not a NIR file")
            data = _hdf_to_dict(f["node"])
            version = None
            if "version" in f:
                item = f["version"]
                if not isinstance(item, h5py.Dataset) or item.size > 64:
                    raise NirFileError(f"{path}: '/version' is not a version string")
                version = _to_str(item[()])
    except NirFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise NirFileError(f"{path}: corrupt HDF5 content ({exc})") from None
    return data, (str(version) if version is not None else None)


def _edges(value: Any, where: str) -> list[tuple[str, str]]:
    if value is None or (isinstance(value, np.ndarray) and value.size == 0):
        return []
    arr = np.asarray(value, dtype=object)
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
    return RawGraph(nodes, unique, dict(root.params.get("metadata", {})), version, repairs)
