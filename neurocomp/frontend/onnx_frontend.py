"""ONNX frontend: convert a trained feed-forward ReLU ANN into a rate-coded IF spiking network.

The method is the standard one for rate-coded conversion (Rueckauer et al. 2017, "Conversion of
continuous-valued deep networks to efficient event-driven networks"):

* every ReLU becomes a population of IF neurons (no leak, threshold 1, reset by subtraction, so
  the residual charge above threshold is kept) whose per-step bias is the ANN bias;
* the linear ops between two ReLUs (Gemm, MatMul + Add, Conv, AveragePool, Flatten and
  BatchNormalization, folded into the preceding Conv/Gemm where there is one) become one
  projection;
* data-based threshold balancing: on calibration input scaled to [0, 1], each ReLU layer's
  activation scale `lam` is the p-th percentile (default 99.9) of its positive activations,
  and a layer's weights are multiplied by lam_pre / lam and its bias divided by lam, so firing
  rates approximate activations / lam;
* the input is the ANN input in [0, 1] used as a Bernoulli spike probability per step
  (`rate_code`); the readout is either spiking IF neurons (argmax of spike counts) or, by
  default, non-spiking neurons that output their input each step, whose sum over time (what
  `neurocomp.present.metrics.predictions` takes) is the integrated membrane potential.

Graded mode (`max_spikes` = G > 1, for chips with a graded-spike payload such as Loihi 2): each
IF neuron is a multi-spike neuron with cap G, whose count k per step stands for k / G of its
full rate. Its state is kept in units of 1/G (threshold 1, the same weights); biases come from a
chain of bias neurons sending G every step from the step each depth's input first arrives (on
chips whose synapses deliver a step late, a layer does not integrate its bias alone meanwhile);
the readout is a non-spiking integrator whose weights are divided by G. The input is the ANN
input quantised to G levels, the same value every step (`graded_code`). One step then carries
what G steps of binary rate coding carry, up to the floor of each layer's count.

Sigma-delta mode (`neurons="sigma_delta"`, Loihi 2's sigma-delta neurons, `ir.sigma_delta`):
each ReLU becomes a sigma-delta population (the dendrite sums incoming deltas, activation
ReLU(sigma), send threshold one payload unit) that sends the signed change of its activation
in one message; the readout is a sigma-delta population with the identity activation, whose
payloads summed over time are the logits. The input is the ANN input quantised to `levels`
values, carried by the first step only (`sigma_delta_code`; later steps carry no change).
Biases come once, as the step-0 payload of one constant neuron (`sd_bias`) through synapses:
sigma keeps them, and they take the weights' precision instead of the neuron bias register's.
Each layer's payload unit is chosen so that its largest synapse is 128 of its state units
(Lava's state_exp = 7 on 8-bit weights), its activation is then in units of that.

Every node is converted or refused: unsupported op types are listed by node, all at once.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import sparse

from ..errors import (
    GraphError,
    InputError,
    NeurocompError,
    ParameterError,
    ShapeError,
    UnsupportedNodeError,
)
from ..ir.network import Network, NeuronParams, Population, Projection
from ..ir.ops import Conv, Delay, Dense, Flatten, Matrix, Op, Pool2d, Scale, Shape
from .onnx_checks import check_finite, check_node
from .shapes import MAX_ELEMENTS

Readout = Literal["membrane", "spikes"]
SUPPORTED_OPS = frozenset(
    {"Gemm", "MatMul", "Add", "Conv", "Relu", "AveragePool", "Flatten", "BatchNormalization"}
    | {"Identity", "Dropout", "Constant"}  # inference-time no-ops and constants
)
MAX_ONNX_BYTES = 2**30  # a model file larger than this is refused before it is read
MAX_TENSOR_ELEMENTS = 2**26  # per initializer or constant (256 MiB of float32)
# Tensor element types a converted ANN may hold (onnx.TensorProto numbers): FLOAT, UINT8, INT8,
# UINT16, INT16, INT32, INT64, FLOAT16, DOUBLE, UINT32, UINT64. Not STRING, BOOL, COMPLEX...
REAL_TENSOR_TYPES = frozenset((1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13))


class OnnxFileError(NeurocompError):
    """A file or object that cannot be read as an ONNX model."""


class UnsupportedOpError(UnsupportedNodeError):
    """ONNX nodes whose op type (or use) the converter does not support, all of them."""

    def __init__(self, nodes: dict[str, str]) -> None:
        self.nodes = dict(nodes)
        listed = ", ".join(f"'{name}' ({op})" for name, op in sorted(self.nodes.items()))
        NeurocompError.__init__(self, f"unsupported ONNX op(s): {listed}")


@dataclass(frozen=True)
class Layer:
    """z = ops(activation of src) + bias (of `shape`), then ReLU when `relu`.

    While parsing, every ONNX value computed from the input is such an affine chain (unnamed);
    each Relu turns its chain into a named layer, the source of the chains that follow.
    """

    src: str
    ops: tuple[Op, ...]
    bias: np.ndarray | None
    shape: Shape
    name: str = ""
    relu: bool = False


@dataclass(frozen=True)
class OnnxGraph:
    """A parsed ANN: its input (name, shape without batch), layers in order, and output name."""

    input_name: str
    input_shape: Shape
    layers: tuple[Layer, ...]
    output_name: str

    def forward(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The ANN in numpy on x (batch, *input_shape): every layer's activation, by name."""
        acts = {self.input_name: np.asarray(x, dtype=np.float64)}
        for layer in self.layers:
            z = acts[layer.src]
            for op in layer.ops:
                z = op.apply(z)
            if layer.bias is not None:
                z = z + layer.bias
            acts[layer.name] = np.maximum(z, 0.0) if layer.relu else z
        return acts

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[self.layers[-1].name]


def rate_code(x01: Any, steps: int, seed: int = 0) -> np.ndarray:
    """Bernoulli rate coding: x01 (batch, *shape) in [0, 1] -> spikes (steps, batch, *shape) uint8.

    Each value is the probability of a spike at every step; the same seed gives the same spikes.
    """
    x = np.asarray(x01, dtype=np.float64)
    if not np.isfinite(x).all() or x.min(initial=0.0) < 0.0 or x.max(initial=0.0) > 1.0:
        raise InputError("rate_code: values must be finite and lie in [0, 1] (probabilities)")
    if int(steps) < 1:
        raise InputError(f"rate_code: steps must be >= 1, got {steps}")
    rng = np.random.default_rng(seed)
    return (rng.random((int(steps), *x.shape)) < x).astype(np.uint8)


def _is_count(value: Any) -> bool:
    """An integer >= 1 (bools are not counts)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and bool(value >= 1)


def graded_code(x01: Any, steps: int, levels: int) -> np.ndarray:
    """Graded input: x01 (batch, *shape) in [0, 1] -> round(x01 * levels) every step,
    (steps, batch, *shape) int64, the spike payloads of `load_onnx(..., max_spikes=levels)`."""
    x = np.asarray(x01, dtype=np.float64)
    if not np.isfinite(x).all() or x.min(initial=0.0) < 0.0 or x.max(initial=0.0) > 1.0:
        raise InputError("graded_code: values must be finite and lie in [0, 1]")
    if int(steps) < 1:
        raise InputError(f"graded_code: steps must be >= 1, got {steps}")
    if not _is_count(levels):
        raise InputError(f"graded_code: levels must be an integer >= 1, got {levels!r}")
    q = np.rint(x * int(levels)).astype(np.int64)
    return np.broadcast_to(q, (int(steps), *q.shape)).copy()


def _read(source: Any) -> Any:
    import onnx

    if isinstance(source, onnx.ModelProto):
        return source
    if not isinstance(source, (bytes, str, PathLike)):
        raise OnnxFileError(f"expected a path, bytes or onnx.ModelProto, got {type(source)}")
    if not isinstance(source, bytes):
        _check_file(Path(source))
    try:
        if isinstance(source, bytes):
            return onnx.load_from_string(source)
        return onnx.load(source, load_external_data=False)  # external data is refused below
    except Exception as exc:  # protobuf raises several unrelated types on garbage
        where = "<bytes>" if isinstance(source, bytes) else source
        raise OnnxFileError(f"{where}: not a readable ONNX model ({exc})") from None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise OnnxFileError(f"{path}: no such file")
    if not path.is_file():  # a directory, FIFO or device
        raise OnnxFileError(f"{path}: not a regular file, so not an ONNX model")
    if not os.access(path, os.R_OK):
        raise OnnxFileError(f"{path}: cannot be read (permission denied)")
    size = path.stat().st_size
    if size > MAX_ONNX_BYTES:
        raise OnnxFileError(f"{path}: {size} bytes, more than the {MAX_ONNX_BYTES} neurocomp reads")


def _tensor(t: Any, owner: str, what: str = "initializer") -> np.ndarray:
    """A constant tensor as numpy, checked: real type, in-file data, dims that match the data.

    owner: the initializer's name, or the node whose attribute `what` holds the tensor."""
    from onnx import TensorProto, numpy_helper

    label = f"initializer '{owner}'" if what == "initializer" else f"node '{owner}': {what}"
    if t.data_type not in REAL_TENSOR_TYPES:
        kind = (
            TensorProto.DataType.Name(t.data_type)
            if t.data_type in TensorProto.DataType.values()
            else t.data_type
        )
        raise OnnxFileError(f"{label}: element type {kind}, not a real or integer tensor")
    if t.data_location == TensorProto.EXTERNAL or len(t.external_data):
        raise OnnxFileError(f"{label}: data stored in another file (ONNX external data): refused")
    dims = [int(d) for d in t.dims]
    if min(dims, default=0) < 0 or math.prod(dims) > MAX_TENSOR_ELEMENTS:
        raise OnnxFileError(
            f"{label}: dims {dims[:8]} must be >= 0 and hold at most {MAX_TENSOR_ELEMENTS} values"
        )
    try:
        arr = numpy_helper.to_array(t)
    except Exception:  # onnx raises ValueError, TypeError... on inconsistent tensors
        arr = None
    if arr is None or arr.shape != tuple(dims):
        raise OnnxFileError(f"{label}: dims {dims} disagree with the data it stores")
    check_finite(owner, f"{what} value", arr)
    return arr


def _pair(attrs: dict[str, Any], key: str, nd: int, default: int) -> tuple[int, ...]:
    return tuple(int(v) for v in attrs.get(key, [default] * nd))


def _pads(node: str, attrs: dict[str, Any], nd: int) -> tuple[int, ...]:
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
        raise ParameterError(node, "auto_pad", attrs["auto_pad"].decode(), "give explicit pads")
    pads = _pair(attrs, "pads", 2 * nd, 0)
    if pads[:nd] != pads[nd:]:
        raise ParameterError(node, "pads", list(pads), "only symmetric padding is supported")
    return pads[:nd]


def _extend(c: Layer, op: Op, bias: np.ndarray | None = None) -> Layer:
    """Append a linear op to a chain; its bias goes through the op, then `bias` is added."""
    shape = op.out_shape(c.shape)
    if min(shape, default=1) < 1 or math.prod(shape) > MAX_ELEMENTS:
        raise ShapeError(f"{type(op).__name__} of input {c.shape}: output {shape} is empty or "
                         f"larger than {MAX_ELEMENTS} elements")  # fmt: skip
    b = None if c.bias is None else op.apply(c.bias[None])[0]
    if bias is not None:
        b = bias if b is None else b + bias
    return Layer(c.src, (*c.ops, op), b, tuple(shape))


def _gemm(name: str, c: Layer, args: list[Any], attrs: dict[str, Any]) -> Layer:
    if attrs.get("transA", 0):
        raise ParameterError(name, "transA", 1, "only transA = 0 is supported")
    b = args[1]
    w = b if attrs.get("transB", 0) else b.T
    w = float(attrs.get("alpha", 1.0)) * w
    if len(c.shape) != 1 or w.ndim != 2 or w.shape[1] != c.shape[0]:
        raise ShapeError(f"node '{name}': weight {b.shape} does not fit input {c.shape}")
    bias = None
    if len(args) > 2 and args[2] is not None:
        bias = np.broadcast_to(float(attrs.get("beta", 1.0)) * args[2], (w.shape[0],)).copy()
    return _extend(c, Dense(w.astype(np.float64)), bias)


def _add(name: str, c: Layer, args: list[Any], attrs: dict[str, Any]) -> Layer:
    try:
        add = np.broadcast_to(args[1], (1, *c.shape))[0].astype(np.float64)
    except ValueError:
        raise ShapeError(f"node '{name}': addend {args[1].shape} vs {c.shape}") from None
    return dataclasses.replace(c, bias=add if c.bias is None else c.bias + add)


def _conv(name: str, c: Layer, args: list[Any], attrs: dict[str, Any]) -> Layer:
    w = args[1].astype(np.float64)
    nd = w.ndim - 2
    if nd not in (1, 2) or len(c.shape) != nd + 1:
        raise ShapeError(f"node '{name}': {nd}-d conv on input of shape {c.shape}")
    conv = Conv(
        w,
        _pair(attrs, "strides", nd, 1),
        _pads(name, attrs, nd),
        _pair(attrs, "dilations", nd, 1),
        int(attrs.get("group", 1)),
    )
    bias = None
    if len(args) > 2 and args[2] is not None:
        bias = np.broadcast_to(args[2].reshape(-1, *[1] * nd), conv.out_shape(c.shape)).copy()
    return _extend(c, conv, bias)


def _average_pool(name: str, c: Layer, args: list[Any], attrs: dict[str, Any]) -> Layer:
    kernel = _pair(attrs, "kernel_shape", 2, 1)
    if len(kernel) != 2 or len(c.shape) != 3:  # Pool2d is 2-d
        raise ShapeError(f"node '{name}': only 2-d average pooling is supported")
    pads = _pads(name, attrs, 2)
    if any(pads) and not attrs.get("count_include_pad", 0):
        raise ParameterError(name, "count_include_pad", 0, "padding must count (1)")
    if attrs.get("ceil_mode", 0):
        raise ParameterError(name, "ceil_mode", 1, "only ceil_mode = 0 is supported")
    (sy, sx), (k0, k1) = _pair(attrs, "strides", 2, 1), kernel
    return _extend(c, Pool2d((k0, k1), (sy, sx), (pads[0], pads[1]), 1.0 / (k0 * k1)))


def _flatten(name: str, c: Layer, args: list[Any], attrs: dict[str, Any]) -> Layer:
    if int(attrs.get("axis", 1)) != 1:
        raise ParameterError(name, "axis", attrs["axis"], "only axis = 1 is supported")
    return _extend(c, Flatten(0, -1)) if len(c.shape) > 1 else c


def _batch_norm(name: str, c: Layer, args: list[Any], attrs: dict[str, Any]) -> Layer:
    if attrs.get("training_mode", 0):
        raise ParameterError(name, "training_mode", 1, "export the model in eval mode")
    gamma, beta, mean, var = (a.astype(np.float64) for a in args[1:5])
    g = gamma / np.sqrt(var + float(attrs.get("epsilon", 1e-5)))
    bshape = (-1, *[1] * (len(c.shape) - 1))
    shift = np.broadcast_to((beta - mean * g).reshape(bshape), c.shape)
    bias = None if c.bias is None else c.bias * g.reshape(bshape)
    bias = shift.copy() if bias is None else bias + shift
    last = c.ops[-1] if c.ops else None
    if isinstance(last, (Dense, Conv)):  # fold into the weights, per output channel
        w = last.weight * g.reshape(-1, *[1] * (last.weight.ndim - 1))
        return Layer(c.src, (*c.ops[:-1], dataclasses.replace(last, weight=w)), bias, c.shape)
    return dataclasses.replace(_extend(c, Scale(g.reshape(bshape))), bias=bias)


_NODE_STEPS = {
    "Gemm": _gemm,
    "MatMul": _gemm,
    "Add": _add,
    "Conv": _conv,
    "AveragePool": _average_pool,
    "Flatten": _flatten,
    "BatchNormalization": _batch_norm,
}


def _node_step(node: Any, name: str, args: list[Any], attrs: dict[str, Any]) -> Layer:
    """Apply one linear ONNX node to its chain argument (other arguments are constants)."""
    return _NODE_STEPS[node.op_type](name, args[0], args, attrs)


def parse_onnx(source: Any) -> OnnxGraph:
    """Read an ONNX model (path, bytes or onnx.ModelProto) into layers; refuse what is unknown."""
    model = _read(source)
    graph = model.graph
    consts = {t.name: _tensor(t, t.name) for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise GraphError(
            f"expected one input and one output, got inputs {[i.name for i in inputs]} "
            f"and outputs {[o.name for o in graph.output]}"
        )
    dims = inputs[0].type.tensor_type.shape.dim
    shape = tuple(int(d.dim_value) for d in dims[1:])
    if not dims or any(n <= 0 for n in shape):
        raise ShapeError(f"input '{inputs[0].name}': needs a static shape after the batch axis")
    if math.prod(shape) > MAX_ELEMENTS:
        raise ShapeError(f"input '{inputs[0].name}': shape {shape} exceeds {MAX_ELEMENTS} elements")
    values: dict[str, Any] = {inputs[0].name: Layer(inputs[0].name, (), None, shape)}
    layers: list[Layer] = []
    bad: dict[str, str] = {}
    poisoned: set[str] = set()
    for index, node in enumerate(graph.node):
        name = node.name or f"{node.op_type}_{index}"
        if node.op_type not in SUPPORTED_OPS:
            bad[name] = node.op_type
        if node.op_type not in SUPPORTED_OPS or any(i in poisoned for i in node.input):
            poisoned.update(node.output)
            continue
        attrs = {a.name: _attr(name, a) for a in node.attribute}
        if node.op_type == "Constant":
            values[node.output[0]] = _constant(name, attrs)
            continue
        missing = [i for i in node.input if i and i not in values and i not in consts]
        if missing:
            raise GraphError(f"node '{name}': input(s) {missing} are produced by no node")
        args = [values.get(i, consts.get(i)) if i else None for i in node.input]
        if node.op_type == "Add" and isinstance(args[0], np.ndarray):
            args = args[::-1]
        chains = [a for a in args if isinstance(a, Layer)]
        if node.op_type in ("Identity", "Dropout"):
            values[node.output[0]] = args[0]
        elif len(chains) != 1 or not isinstance(args[0], Layer):
            bad[name] = f"{node.op_type} (needs one activation input, the rest constant)"
            poisoned.update(node.output)
        elif node.op_type == "Relu":
            c = args[0]
            if c.ops or c.bias is not None:  # relu of a population or input is itself
                pop = name.strip("/").replace("/", ".")  # torch's "/fc/Relu" -> "fc.Relu"
                layers.append(dataclasses.replace(c, name=pop, relu=True))
                c = Layer(pop, (), None, c.shape)
            values[node.output[0]] = c
        else:
            check_node(name, node.op_type, args[0].shape, args, attrs)
            values[node.output[0]] = _node_step(node, name, args, attrs)
    if bad:
        raise UnsupportedOpError(bad)
    out = values.get(graph.output[0].name)
    if not isinstance(out, Layer):
        raise GraphError(f"output '{graph.output[0].name}' is not computed from the input")
    if out.ops or out.bias is not None or not layers:
        layers.append(dataclasses.replace(out, name=graph.output[0].name.replace("/", ".")))
    elif out.src != layers[-1].name:
        raise GraphError(f"output '{graph.output[0].name}' is not the last layer")
    for layer in layers:
        _check_layer_finite(layer)
    return OnnxGraph(inputs[0].name, shape, tuple(layers), graph.output[0].name)


def _check_layer_finite(layer: Layer) -> None:
    """Finite inputs can still combine into inf (a huge alpha times a weight): refuse that."""
    for op in layer.ops:
        for key in ("weight", "bias", "scale"):
            value = getattr(op, key, None)
            if isinstance(value, np.ndarray):
                check_finite(layer.name, f"{type(op).__name__} {key}", value)
    if layer.bias is not None:
        check_finite(layer.name, "bias", layer.bias)


def _attr(node: str, a: Any) -> Any:
    """One attribute's value: a checked tensor, finite floats, ints or strings."""
    from onnx import AttributeProto, helper

    if a.type == AttributeProto.TENSOR:
        return _tensor(a.t, node, f"attribute '{a.name}'")
    value = helper.get_attribute_value(a)
    if a.type in (AttributeProto.FLOAT, AttributeProto.FLOATS):
        check_finite(node, a.name, np.atleast_1d(np.asarray(value, dtype=np.float64)))
    return value


def _constant(node: str, attrs: dict[str, Any]) -> np.ndarray:
    """The value of a Constant node (a tensor, or one of the scalar and list forms)."""
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            return np.asarray(attrs[key])
    raise ParameterError(node, "value", sorted(attrs), "a Constant needs a numeric value")


def sigma_delta_code(x01: Any, steps: int, levels: int = 255) -> np.ndarray:
    """Sigma-delta input: x01 (batch, *shape) in [0, 1] -> round(x01 * levels) at step 0 and
    no change after, (steps, batch, *shape) int64, the payloads of
    `load_onnx(..., neurons="sigma_delta", levels=levels)`."""
    first = graded_code(x01, 1, levels)
    if int(steps) < 1:
        raise InputError(f"sigma_delta_code: steps must be >= 1, got {steps}")
    out = np.zeros((int(steps), *first.shape[1:]), np.int64)
    out[0] = first[0]
    return out


def _calibration_input(
    graph: OnnxGraph, calibration: Any, input_scale: float, levels: int = 1, once: bool = False
) -> np.ndarray:
    """ANN input (batch, *shape) scaled to [0, 1] from ANN input or spike trains (T, batch, ...)
    (binary ones, or graded payloads 0..levels: the rate is their mean over levels; `once`:
    sigma-delta input, the value is their sum over levels)."""
    dims = ", ".join(map(str, graph.input_shape))
    if calibration is None:
        raise InputError(
            "ONNX conversion needs calibration data for threshold balancing: pass calibration="
            f"ANN inputs (batch, {dims}) or spike trains (T, batch, {dims}), e.g. training samples"
        )
    if isinstance(calibration, Mapping):
        if len(calibration) != 1:
            raise InputError(f"calibration: expected one array, got {sorted(calibration)}")
        calibration = next(iter(calibration.values()))
    x = np.asarray(calibration, dtype=np.float64)
    n = len(graph.input_shape)
    if x.ndim == n + 2 and tuple(x.shape[2:]) == graph.input_shape:
        if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > levels):
            raise InputError(
                f"calibration: spike trains must hold values 0..{levels} "
                f"({'levels' if once else 'max_spikes'} = {levels}), "
                f"range seen: {x.min():g} .. {x.max():g}"
            )
        if once:
            return np.clip(x.sum(axis=0) / levels, 0.0, 1.0)
        return x.mean(axis=0) / levels  # spike trains: the rate is the input in [0, 1]
    if x.ndim != n + 1 or tuple(x.shape[1:]) != graph.input_shape or len(x) == 0:
        raise InputError(f"calibration: expected shape (batch, {dims}) or (T, batch, {dims})")
    x = x / input_scale
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1 + 1e-6:
        raise InputError(
            f"calibration: ANN inputs must lie in [0, input_scale = {input_scale}] "
            f"(range seen: {x.min() * input_scale:g} .. {x.max() * input_scale:g})"
        )
    return x


def _times(ops: tuple[Op, ...], k: float) -> tuple[Op, ...]:
    """The chain scaled by k (on its first weighted op)."""
    for i, op in enumerate(ops):
        if isinstance(op, (Dense, Conv)):
            return (*ops[:i], dataclasses.replace(op, weight=op.weight * k), *ops[i + 1 :])
        if isinstance(op, Pool2d):
            return (*ops[:i], dataclasses.replace(op, scale=op.scale * k), *ops[i + 1 :])
    return ops if k == 1.0 else (*ops, Scale(np.array(k)))


def _activation_scales(
    graph: OnnxGraph, acts: dict[str, np.ndarray], percentile: float, readout: Readout
) -> dict[str, float]:
    """Each layer's full-rate activation `lam` (1 for a membrane readout)."""
    lam = {}
    for i, layer in enumerate(graph.layers):
        positive = acts[layer.name][acts[layer.name] > 0]
        scale = float(np.percentile(positive, percentile)) if positive.size else 1.0
        if not (math.isfinite(scale) and scale > 0):
            raise ParameterError(layer.name, "activation scale", scale, "must be finite and > 0")
        last = i == len(graph.layers) - 1
        lam[layer.name] = 1.0 if last and readout == "membrane" else scale
    return lam


def _if_params(shape: Shape, bias: np.ndarray, max_spikes: int = 1) -> NeuronParams:
    """IF neurons: no leak, threshold 1, reset by subtraction."""
    zeros, one = np.zeros(shape), np.ones(shape)
    return NeuronParams(
        zeros, one, bias, zeros.copy(), one.copy(), reset="subtract", max_spikes=max_spikes
    )


def _binary_layers(
    graph: OnnxGraph, lam: dict[str, float], readout: Readout, levels: int
) -> tuple[list[Population], list[Projection]]:
    """Rate-coded IF layers (binary spikes) and the projections between them."""
    pops, projs = [], []
    for i, layer in enumerate(graph.layers):
        last = i == len(graph.layers) - 1
        zeros = np.zeros(layer.shape)
        bias = zeros if layer.bias is None else layer.bias / lam[layer.name]
        if last and readout == "membrane":  # outputs its input every step; summed over time
            params = NeuronParams(np.ones(layer.shape), np.ones(layer.shape), bias, zeros.copy())
            kind = "Identity"
        else:
            params, kind = _if_params(layer.shape, bias), "IF"
        pops.append(Population(layer.name, layer.shape, kind, params))
        ops = _times(layer.ops, lam[layer.src] / lam[layer.name])
        projs.append(Projection(f"{layer.src}->{layer.name}", layer.src, layer.name, ops))
    return pops, projs


def _depths(graph: OnnxGraph) -> dict[str, int]:
    """Layers (and the input, 0) by the number of projections from the input to them."""
    depth = {graph.input_name: 0}
    for layer in graph.layers:
        depth[layer.name] = depth[layer.src] + 1
    return depth


def _graded_layers(
    graph: OnnxGraph, lam: dict[str, float], readout: Readout, levels: int
) -> tuple[list[Population], list[Projection]]:
    """Multi-spike IF layers (cap `levels`, the state in units of 1/levels of the full rate) and
    their projections. Biases travel with the spikes: a chain of bias neurons (`graded_bias.d`,
    one per depth d, sending `levels` every step from the step that depth's input first
    arrives) feeds each layer its bias, so that on a chip whose synapses deliver a step late a
    layer does not integrate its bias alone while its input is still on the way."""
    pops: list[Population] = []
    projs: list[Projection] = []
    depth = _depths(graph)
    chain = [f"graded_bias.{d}" for d in range(1, max(depth.values()) + 1)]
    for d, name in enumerate(chain):
        bias = np.full((1,), float(levels) if d == 0 else 0.0)
        pops.append(Population(name, (1,), "IF", _if_params((1,), bias, levels)))
        if d:
            one = sparse.csr_matrix(np.ones((1, 1)))
            link = Matrix(one, (1,), (1,))
            projs.append(Projection(f"{chain[d - 1]}->{name}", chain[d - 1], name, (link,)))
    for i, layer in enumerate(graph.layers):
        last = i == len(graph.layers) - 1
        zeros = np.zeros(layer.shape)
        gain = lam[layer.src] / lam[layer.name]
        if last and readout == "membrane":  # an integrator: its voltage sums the logits
            params = NeuronParams(zeros.copy(), np.ones(layer.shape), zeros, zeros.copy())
            pops.append(Population(layer.name, layer.shape, "I", params))
            per_count = 1.0 / levels  # a count unit is 1/levels of the full rate
        else:
            params = _if_params(layer.shape, zeros, levels)
            pops.append(Population(layer.name, layer.shape, "IF", params))
            per_count = 1.0
        ops = _times(layer.ops, gain * per_count)
        projs.append(Projection(f"{layer.src}->{layer.name}", layer.src, layer.name, ops))
        if layer.bias is not None and np.any(layer.bias != 0):
            # the bias neuron sends `levels` counts a step: bias per count, in state units
            w = (layer.bias / lam[layer.name]).reshape(-1, 1) * per_count
            src = chain[depth[layer.name] - 1]
            m = Matrix(sparse.csr_matrix(w), (1,), layer.shape)
            projs.append(Projection(f"{src}->{layer.name}", src, layer.name, (m,)))
    return pops, projs


def _peak_weight(ops: tuple[Op, ...], in_shape: Shape) -> float:
    """The largest |synapse| of a chain of linear operators (its explicit matrix's)."""
    shape, m = tuple(in_shape), sparse.identity(int(np.prod(in_shape)), format="csr")
    for op in ops:
        assert not isinstance(op, Delay)  # ONNX layers have none
        m = sparse.csr_matrix(op.matrix(shape) @ m)
        shape = op.out_shape(shape)
    return float(np.abs(m.data).max()) if m.nnz else 0.0


# A layer's payload unit per its largest synapse: on 8-bit weights its state unit is then
# peak / 127 and the payload unit about 2**6 of those (Lava's state_exp = 6: finer payloads
# lose less to its >> e than 2**7, and cost no weight bit)
SD_UNIT_PER_PEAK = 64 / 127
SD_BIAS_COUNT_BITS = 11


def _sd_params(shape: Shape, unit: float, activation: str, bias: float = 0.0) -> NeuronParams:
    """Sigma-delta neurons sending every change of at least one payload unit (or, with a
    bias, its value once: vth = the bias, so that its scale, hence its register, stays small)."""
    zeros = np.zeros(shape)
    return NeuronParams(
        zeros, np.ones(shape), np.full(shape, bias), zeros.copy(), np.full(shape, max(unit, bias)),
        sigma_delta=activation, payload_unit=unit,
    )  # fmt: skip


def _sigma_delta_layers(
    graph: OnnxGraph, lam: dict[str, float], readout: Readout, levels: int
) -> tuple[list[Population], list[Projection]]:
    """Sigma-delta layers (ReLU; the readout's identity), their bias neurons and projections.
    A layer's state is its activation / lam; a payload from `src` counts unit[src] of it."""
    pops: list[Population] = []
    projs: list[Projection] = []
    unit = {graph.input_name: 1.0 / levels}
    in_shapes = {graph.input_name: graph.input_shape}
    for i, layer in enumerate(graph.layers):
        last = i == len(graph.layers) - 1
        ops = _times(layer.ops, lam[layer.src] / lam[layer.name] * unit[layer.src])
        peak = _peak_weight(ops, in_shapes[layer.src]) or 1.0
        projs.append(Projection(f"{layer.src}->{layer.name}", layer.src, layer.name, ops))
        if layer.bias is not None and np.any(layer.bias != 0):
            projs.append(_sd_bias(layer.name, layer.bias / lam[layer.name], peak, pops))
        unit[layer.name] = peak * SD_UNIT_PER_PEAK
        in_shapes[layer.name] = layer.shape
        params = _sd_params(layer.shape, unit[layer.name], "unit" if last else "relu")
        pops.append(Population(layer.name, layer.shape, "SigmaDelta", params))
    return pops, projs


def _sd_bias(name: str, bias: np.ndarray, peak: float, pops: list[Population]) -> Projection:
    """A layer's bias: a constant neuron (appended to `pops`) sending one payload N = 2**k at
    step 0 through synapses bias / N, k the least (>= 0) that keeps them within the layer's
    largest other synapse `peak` (so they share its 8-bit weight scale), at most
    2**SD_BIAS_COUNT_BITS (N is the neuron's bias register: 13 signed bits on Loihi 2)."""
    top = float(np.abs(bias).max())
    count = 2.0 ** min(max(0, math.ceil(math.log2(top / peak))), SD_BIAS_COUNT_BITS)
    source = f"{name}.bias"
    pops.append(Population(source, (1,), "SigmaDelta", _sd_params((1,), 1.0, "unit", count)))
    m = Matrix(sparse.csr_matrix(bias.reshape(-1, 1) / count), (1,), tuple(bias.shape))
    return Projection(f"{source}->{name}", source, name, (m,))


def load_onnx(
    source: Any,
    calibration: Any = None,
    *,
    percentile: float = 99.9,
    readout: Readout = "membrane",
    input_scale: float = 1.0,
    max_spikes: int = 1,
    neurons: Literal["if", "sigma_delta"] = "if",
    levels: int = 255,
) -> Network:
    """Convert a trained ONNX ANN into an IF network for rate-coded input (see module docs).

    calibration: ANN inputs (batch, *input_shape) in [0, input_scale], or spike trains
    (T, batch, *input_shape). The SNN input is spikes with probability x / input_scale per step.
    percentile: of each ReLU layer's positive activations, taken as its full-rate value.
    readout: "membrane" (non-spiking, integrate the output over time) or "spikes" (IF, count).
    max_spikes: 1 for binary rate coding; G > 1 for graded spikes: multi-spike IF neurons with
        cap G, each count unit 1/G of the full rate, input `graded_code(x / input_scale, T, G)`
        (calibration spike trains in that coding too). Needs a chip with a spike payload of
        at least G.bit_length() bits.
    neurons: "if" (the above) or "sigma_delta": sigma-delta neurons carrying each layer's
        activation change as a signed payload (module docs), input
        `sigma_delta_code(x / input_scale, T, levels)`; needs a chip with a spike payload
        (Loihi 2), membrane readout (its logits) and max_spikes = 1.
    levels: the sigma-delta input's quantisation (payload 0..levels at step 0).
    """
    if neurons not in ("if", "sigma_delta"):
        raise ParameterError("<network>", "neurons", neurons, "must be 'if' or 'sigma_delta'")
    if neurons == "sigma_delta":
        if max_spikes != 1:
            raise ParameterError(
                "<network>", "max_spikes", max_spikes, "sigma-delta neurons take max_spikes = 1"
            )
        if readout != "membrane":
            raise ParameterError(
                "<network>", "readout", readout, "sigma-delta reads out its logits: 'membrane'"
            )
        if not _is_count(levels):
            raise ParameterError("<network>", "levels", levels, "must be an integer >= 1")
    if not 0 < percentile <= 100:
        raise ParameterError("<network>", "percentile", percentile, "must be in (0, 100]")
    if readout not in ("membrane", "spikes"):
        raise ParameterError("<network>", "readout", readout, "must be 'membrane' or 'spikes'")
    if not input_scale > 0:
        raise ParameterError("<network>", "input_scale", input_scale, "must be > 0")
    if not _is_count(max_spikes):
        raise ParameterError("<network>", "max_spikes", max_spikes, "must be an integer >= 1")
    input_levels, levels = int(levels), int(max_spikes)
    graph = parse_onnx(source)
    sd = neurons == "sigma_delta"
    x01 = _calibration_input(
        graph, calibration, float(input_scale), input_levels if sd else levels, once=sd
    )
    lam = _activation_scales(graph, graph.forward(x01 * input_scale), percentile, readout)
    lam[graph.input_name] = float(input_scale)
    if neurons == "sigma_delta":
        pops, projs = _sigma_delta_layers(graph, lam, readout, input_levels)
    else:
        build = _binary_layers if levels == 1 else _graded_layers
        pops, projs = build(graph, lam, readout, levels)
    return Network(
        inputs={graph.input_name: graph.input_shape},
        populations=tuple(pops),
        projections=tuple(projs),
        outputs={graph.output_name: graph.layers[-1].name},
        dt=None,
        metadata={
            "reset": "subtract",
            "source": "onnx",
            "readout": readout,
            "percentile": float(percentile),
            "input_scale": float(input_scale),
            **({"spikes": "graded", "max_spikes": levels} if levels > 1 else {}),
            **(
                {"neurons": "sigma_delta", "input_levels": int(input_levels)}
                if neurons == "sigma_delta"
                else {}
            ),
            "activation_scales": {k: v for k, v in lam.items() if k != graph.input_name},
        },
    )
