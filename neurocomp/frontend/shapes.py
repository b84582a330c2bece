"""Parameter normalisation and shape inference over a flat raw graph.

Each node gets an input and an output shape (batch excluded). Neuron nodes take their shape from
their parameters; linear nodes derive theirs from what feeds them; every edge is then checked.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import GraphError, NeurocompWarning, ParameterError, ShapeError
from ..ir.ops import Conv, Delay, Dense, Flatten, Op, Pool2d, Scale, Shape
from .reader import NEURON_TYPES, RawGraph, RawNode, brief

# Required fields per neuron type, and the ones that are time constants (seconds, > 0).
NEURON_FIELDS: dict[str, tuple[str, ...]] = {
    "LIF": ("tau", "r", "v_leak", "v_threshold"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold"),
    "IF": ("r", "v_threshold"),
    "LI": ("tau", "r", "v_leak"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak"),
    "I": ("r",),
    "Threshold": ("threshold",),
}
OPTIONAL_FIELDS: dict[str, dict[str, float]] = {
    "LIF": {"v_reset": 0.0},
    "CubaLIF": {"v_reset": 0.0, "w_in": 1.0},
    "IF": {"v_reset": 0.0},
    "CubaLI": {"w_in": 1.0},
}
TIME_CONSTANTS = ("tau", "tau_syn", "tau_mem")
# A layer (or input) larger than this is refused before anything is allocated: 16.7 M neurons,
# far beyond any chip board here, and a bound on what a hostile file can make us allocate.
MAX_ELEMENTS = 2**24


def _array(name: str, node: RawNode, key: str) -> np.ndarray:
    if key not in node.params:
        raise ParameterError(name, key, "missing", f"{node.type} requires it")
    value = node.params[key]
    try:
        kind = np.asarray(value).dtype.kind
    except (TypeError, ValueError):  # ragged nested lists
        kind = "O"
    if kind not in "iuf":  # bool, complex, strings, objects: never silently converted
        kinds = {"b": "booleans", "c": "complex numbers", "S": "bytes", "U": "strings"}
        got = kinds.get(kind, "strings or other objects")
        raise ParameterError(name, key, brief(value), f"must be real numbers, got {got}")
    arr = np.asarray(value, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ParameterError(name, key, arr[bad].flat[0], "must be finite")
    if key in TIME_CONSTANTS and (arr <= 0).any():
        raise ParameterError(name, key, arr[arr <= 0].flat[0], "time constants must be > 0 s")
    return arr


def neuron_params(name: str, node: RawNode) -> dict[str, np.ndarray]:
    """Checked float64 parameters of a neuron node, broadcast to one common shape."""
    fields = {k: _array(name, node, k) for k in NEURON_FIELDS[node.type]}
    for key, default in OPTIONAL_FIELDS.get(node.type, {}).items():
        present = key in node.params and node.params[key] is not None
        fields[key] = _array(name, node, key) if present else np.asarray(default)
    shapes = {k: v.shape for k, v in fields.items() if v.ndim > 0}
    try:
        common = np.broadcast_shapes(*shapes.values()) if shapes else ()
    except ValueError:
        raise ShapeError(
            f"node '{name}' ({node.type}): parameter shapes differ: {shapes}"
        ) from None
    return {k: np.broadcast_to(v, common).copy() for k, v in fields.items()}


def _int_value(name: str, key: str, value: object) -> int:
    """One integer field (a Python or numpy scalar holding a whole number)."""
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "iuf" or not np.isfinite(arr) or arr != np.round(arr):
        raise ParameterError(name, key, brief(value), "expected an integer")
    return int(arr)


def _int_tuple(name: str, node: RawNode, key: str, n: int, default: int) -> tuple[int, ...]:
    value = node.params.get(key, default)
    arr = np.atleast_1d(np.asarray(value))
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise ParameterError(name, key, brief(value), f"expected {n} non-negative integers")
    if arr.size == 1:
        arr = np.repeat(arr, n)
    ok = arr.size == n and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
    if not ok or (arr < 0).any() or (arr > MAX_ELEMENTS).any():
        raise ParameterError(name, key, arr.tolist(), f"expected {n} non-negative integers")
    return tuple(int(a) for a in arr)


def _conv_padding(
    name: str,
    node: RawNode,
    kernel: tuple[int, ...],
    dilation: tuple[int, ...],
    stride: tuple[int, ...],
) -> tuple[int, ...]:
    pad = node.params.get("padding", 0)
    if isinstance(pad, str):
        if pad == "valid":
            return (0,) * len(kernel)
        if pad == "same":
            total = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
            if any(t % 2 for t in total) or any(s != 1 for s in stride):
                raise ParameterError(name, "padding", "'same'", "needs stride 1 and an odd span")
            return tuple(t // 2 for t in total)
        raise ParameterError(name, "padding", pad, "must be 'same', 'valid' or integers")
    return _int_tuple(name, node, "padding", len(kernel), 0)


def build_op(name: str, node: RawNode) -> Op:
    """The synaptic operator of a linear node, with checked parameters."""
    t = node.type
    if t in ("Affine", "Linear"):
        w = _array(name, node, "weight")
        if w.ndim != 2:
            raise ParameterError(name, "weight", f"shape {w.shape}", "must be 2-D (out, in)")
        b = _array(name, node, "bias") if t == "Affine" else None
        if b is not None and b.shape not in ((w.shape[0],), ()):
            raise ShapeError(f"node '{name}' ({t}): bias shape {b.shape}, weight {w.shape}")
        if b is not None:
            b = np.broadcast_to(b, (w.shape[0],)).copy()
        return Dense(w, b)
    if t in ("Conv1d", "Conv2d"):
        nd = 1 if t == "Conv1d" else 2
        w = _array(name, node, "weight")
        if w.ndim != nd + 2:
            raise ParameterError(name, "weight", f"shape {w.shape}", f"must be {nd + 2}-D")
        kernel = tuple(int(k) for k in w.shape[2:])
        stride = _int_tuple(name, node, "stride", nd, 1)
        dilation = _int_tuple(name, node, "dilation", nd, 1)
        if min(stride) < 1 or min(dilation) < 1:
            raise ParameterError(name, "stride/dilation", (stride, dilation), "must be >= 1")
        padding = _conv_padding(name, node, kernel, dilation, stride)
        groups = _int_value(name, "groups", node.params.get("groups", 1))
        if groups < 1 or w.shape[0] % groups:
            raise ParameterError(name, "groups", groups, f"must divide C_out = {w.shape[0]}")
        bias = node.params.get("bias")
        b = _array(name, node, "bias") if bias is not None else None
        if b is not None and b.shape not in ((w.shape[0],), ()):
            raise ShapeError(f"node '{name}' ({t}): bias shape {b.shape}, weight {w.shape}")
        if b is not None:
            b = np.broadcast_to(b, (w.shape[0],)).copy()
        return Conv(w, stride, padding, dilation, groups, b)
    if t in ("SumPool2d", "AvgPool2d"):
        kernel = _int_tuple(name, node, "kernel_size", 2, 1)
        stride = _int_tuple(name, node, "stride", 2, 1)
        padding = _int_tuple(name, node, "padding", 2, 0)
        if min(kernel) < 1 or min(stride) < 1:
            raise ParameterError(name, "kernel_size/stride", (kernel, stride), "must be >= 1")
        scale = 1.0 / (kernel[0] * kernel[1]) if t == "AvgPool2d" else 1.0
        return Pool2d(kernel, stride, padding, scale)  # type: ignore[arg-type]
    if t == "Flatten":
        return Flatten(
            _int_value(name, "start_dim", node.params.get("start_dim", 1)),
            _int_value(name, "end_dim", node.params.get("end_dim", -1)),
        )
    if t == "Scale":
        return Scale(_array(name, node, "scale"))
    if t == "Delay":
        d = _array(name, node, "delay")
        if (d < 0).any():
            raise ParameterError(name, "delay", d[d < 0].flat[0], "must be >= 0 s")
        return Delay(d)  # seconds here; lowered to steps once dt is known
    raise GraphError(f"node '{name}': {t} is not a linear node")


def _declared(name: str, node: RawNode, key: str) -> Shape | None:
    value = node.params.get(key)
    if value is None:
        return None
    arr = np.atleast_1d(np.asarray(value))
    if (
        arr.ndim != 1
        or arr.dtype.kind not in "iuf"
        or not np.all(np.isfinite(arr))
        or (arr < 0).any()
        or not np.all(arr == np.round(arr))
    ):
        raise ParameterError(name, key, brief(value), "a shape must be non-negative integers")
    if (arr > MAX_ELEMENTS).any():
        raise ShapeError(
            f"node '{name}' ({node.type}): shape {arr.tolist()} exceeds {MAX_ELEMENTS} elements"
        )
    shape = tuple(int(a) for a in arr)
    if 0 in shape:
        raise ShapeError(f"node '{name}' ({node.type}): zero-size shape {shape}")
    if np.prod(shape, dtype=np.float64) >= MAX_ELEMENTS:
        raise ShapeError(
            f"node '{name}' ({node.type}): shape {shape} exceeds {MAX_ELEMENTS} elements"
        )
    return shape


def _fixed_in_shape(name: str, node: RawNode, op: Op | None) -> Shape | None:
    """Input shape a node defines by itself, if any (spatial sizes of conv come from the graph)."""
    if node.type == "Flatten":
        return _declared(name, node, "input_type")
    if node.type == "Input":
        return _declared(name, node, "shape")
    return None


def infer_shapes(
    graph: RawGraph, ops: dict[str, Op], neurons: dict[str, dict[str, np.ndarray]]
) -> dict[str, tuple[Shape, Shape]]:
    """(input shape, output shape) of every node; raises ShapeError naming the edge on mismatch."""
    shapes: dict[str, tuple[Shape, Shape]] = {}
    preds: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        preds[b].append(a)
    for name, node in graph.nodes.items():
        if node.type in NEURON_TYPES:
            own = next(iter(neurons[name].values())).shape
            if own != ():
                shapes[name] = (own, own)
        elif node.type == "Input":
            declared = _declared(name, node, "shape")
            if declared is None:
                raise ShapeError(f"input '{name}' declares no shape")
            shapes[name] = (declared, declared)
    changed = True
    while changed:  # propagate along edges until nothing new is learned (cycles included)
        changed = False
        for name, node in graph.nodes.items():
            if name in shapes:
                continue
            known = [shapes[p][1] for p in preds[name] if p in shapes]
            in_shape = known[0] if known else _fixed_in_shape(name, node, ops.get(name))
            if in_shape is None:
                continue
            if node.type in NEURON_TYPES or node.type == "Output":
                shapes[name] = (in_shape, in_shape)  # scalar parameters take the input's shape
            else:
                shapes[name] = (in_shape, _op_out(name, node, ops[name], in_shape))
            changed = True
    for name, node in graph.nodes.items():
        if name not in shapes:
            raise ShapeError(
                f"node '{name}' ({node.type}): shape cannot be determined "
                f"(no path from an input gives it one)"
            )
    _check_edges(graph, shapes)
    for name, node in graph.nodes.items():
        declared = _declared(name, node, "shape") if node.type == "Output" else None
        if declared is not None and declared != shapes[name][0]:
            warnings.warn(
                f"repaired: output '{name}' declares shape {declared} but receives "
                f"{shapes[name][0]}; using {shapes[name][0]}",
                NeurocompWarning,
                stacklevel=3,
            )
    return shapes


def _op_out(name: str, node: RawNode, op: Op, in_shape: Shape) -> Shape:
    if isinstance(op, Dense) and (not in_shape or in_shape[-1] != op.in_features()):
        raise ShapeError(
            f"node '{name}' ({node.type}): weight expects {op.in_features()} inputs, "
            f"receives shape {in_shape}"
        )
    if isinstance(op, (Conv, Pool2d)):
        nd = op.ndim if isinstance(op, Conv) else 2
        if len(in_shape) != nd + 1:
            raise ShapeError(
                f"node '{name}' ({node.type}): expects (C, {'H, W' if nd == 2 else 'L'})"
                f" input, receives shape {in_shape}"
            )
        if isinstance(op, Conv) and in_shape[0] != op.weight.shape[1] * op.groups:
            raise ShapeError(
                f"node '{name}' ({node.type}): expects {op.weight.shape[1] * op.groups}"
                f" input channels, receives shape {in_shape}"
            )
    if isinstance(op, Scale):
        try:
            np.broadcast_shapes(in_shape, op.scale.shape)
        except ValueError:
            raise ShapeError(
                f"node '{name}' (Scale): scale shape {op.scale.shape} does not fit "
                f"input shape {in_shape}"
            ) from None
    if isinstance(op, Delay) and op.steps.shape not in ((), in_shape):
        raise ShapeError(f"node '{name}' (Delay): delay shape {op.steps.shape}, input {in_shape}")
    out = op.out_shape(in_shape)
    if any(n < 1 for n in out):
        raise ShapeError(f"node '{name}' ({node.type}): input {in_shape} gives empty output {out}")
    return out


def _check_edges(graph: RawGraph, shapes: dict[str, tuple[Shape, Shape]]) -> None:
    for a, b in graph.edges:
        got, want = shapes[a][1], shapes[b][0]
        if got == want:
            continue
        raise ShapeError(
            f"shape mismatch on edge '{a}' -> '{b}': '{a}' gives {got}, '{b}' expects {want}"
        )
