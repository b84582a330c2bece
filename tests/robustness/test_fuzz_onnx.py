"""Fuzz the ONNX frontend (and the compiler behind it) with corrupted real models.

Base model: the shipped digits ANN (examples/onnx_digits/digits_ann.onnx). Each case damages it
once: truncation or random byte overwrites of the serialized file, or a protobuf edit (an
attribute set to a hostile value or deleted, an initializer with other dims, element type, data
or NaNs, a node's op type or inputs changed, a node deleted, the input shape changed). Every case
must convert and compile, or end in a NeurocompError, within the per-case time and memory bounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_util import DERANDOMIZE, ROOT, examples, run_case

import neurocomp as nc

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from neurocomp.frontend.onnx_frontend import load_onnx  # noqa: E402

SHIPPED = (ROOT / "examples" / "onnx_digits" / "digits_ann.onnx").read_bytes()
CALIBRATION = np.random.default_rng(0).random((8, 1, 8, 8))
SUITE = "fuzz onnx (corrupted .onnx)"

# Attribute values a hostile or broken exporter could write.
HOSTILE_ATTRS: tuple[Any, ...] = (
    0, -1, 1, 2, 3, 7, 10**6, 2**40, -(2**40), float("nan"), float("inf"), -1.0, 1e308, 1e-320,
    [0, 0], [1], [1, 1, 1], [-1, -1], [10**6] * 4, [2**40, 1], [0, 0, 0, 0], [5, 5, 5, 5],
    [100, 100], b"SAME_UPPER", b"VALID", b"garbage", "x",
)  # fmt: skip
ATTR_NAMES = (
    "strides", "pads", "dilations", "group", "kernel_shape", "alpha", "beta", "transA", "transB",
    "axis", "epsilon", "count_include_pad", "ceil_mode", "auto_pad", "training_mode",
)  # fmt: skip
DTYPES = (
    TensorProto.STRING, TensorProto.BOOL, TensorProto.COMPLEX64, TensorProto.DOUBLE,
    TensorProto.INT64, TensorProto.FLOAT16, TensorProto.UINT8, 0, 9999,
)  # fmt: skip
OP_TYPES = ("Relu", "Gemm", "Conv", "Softmax", "", "AveragePool", "Add", "Flatten", "Constant")


def _edit_attribute(model: Any, node: Any, pick: int, choice: int) -> str:
    key = ATTR_NAMES[pick % len(ATTR_NAMES)]
    kept = [a for a in node.attribute if a.name != key]
    del node.attribute[:]
    node.attribute.extend(kept)
    if choice % 9 == 0:
        return f"{node.name}: attribute {key} deleted"
    value = HOSTILE_ATTRS[choice % len(HOSTILE_ATTRS)]
    node.attribute.append(helper.make_attribute(key, value))
    return f"{node.name}: {key} := {value!r}"


def _edit_initializer(model: Any, pick: int, choice: int) -> str:
    t = model.graph.initializer[pick % len(model.graph.initializer)]
    how = choice % 7
    if how == 0:
        dims = [d * 2 for d in t.dims] or [2]
        del t.dims[:]
        t.dims.extend(dims)
        return f"{t.name}: dims doubled to {dims}"
    if how == 1:
        del t.dims[:]
        t.dims.extend([10**6, 10**6])
        return f"{t.name}: dims := [10^6, 10^6]"
    if how == 2:
        t.data_type = DTYPES[choice % len(DTYPES)]
        return f"{t.name}: data_type := {t.data_type}"
    if how == 3:
        t.raw_data = t.raw_data[: len(t.raw_data) // 2]
        return f"{t.name}: raw_data halved"
    if how == 4:
        arr = np.frombuffer(t.raw_data, dtype=np.float32).copy()
        arr[choice % max(arr.size, 1) :] = (np.nan, np.inf, -np.inf, 1e38)[choice % 4]
        t.raw_data = arr.tobytes()
        return f"{t.name}: values from {choice % max(arr.size, 1)} := nan/inf/1e38"
    if how == 5:
        del t.dims[-1:]
        return f"{t.name}: last dim dropped"
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="/etc/hostname")
    return f"{t.name}: data moved to external /etc/hostname"


def _edit_node(model: Any, node: Any, pick: int, choice: int) -> str:
    how = choice % 5
    if how == 0:
        node.op_type = OP_TYPES[pick % len(OP_TYPES)]
        return f"{node.name}: op_type := {node.op_type!r}"
    if how == 1:
        del node.input[1 + pick % 2 :]
        return f"{node.name}: inputs cut to {list(node.input)}"
    if how == 2:
        node.input.append(model.graph.initializer[pick % len(model.graph.initializer)].name)
        return f"{node.name}: extra input {node.input[-1]}"
    if how == 3:
        other = model.graph.node[pick % len(model.graph.node)]
        node.input[0] = other.output[0]
        return f"{node.name}: input 0 := output of {other.name}"
    model.graph.node.remove(node)
    return f"{node.name}: deleted"


def _edit_input(model: Any, pick: int, choice: int) -> str:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    values = (0, -1, 2, 7, 2**31, 2**62)
    d = dims[1 + pick % (len(dims) - 1)]
    d.dim_value = values[choice % len(values)]
    return f"input dim := {d.dim_value}"


def _mutate(pick: int, choice: int, kind: str) -> tuple[bytes, str]:
    model = onnx.load_from_string(SHIPPED)
    node = model.graph.node[pick % len(model.graph.node)]
    if kind == "attribute":
        what = _edit_attribute(model, node, pick // 7, choice)
    elif kind == "initializer":
        what = _edit_initializer(model, pick, choice)
    elif kind == "node":
        what = _edit_node(model, node, pick // 7, choice)
    else:
        what = _edit_input(model, pick, choice)
    return model.SerializeToString(), what


RECIPE = st.tuples(
    st.one_of(
        st.tuples(st.just("truncate"), st.floats(0.0, 1.0), st.integers(0, 0)),
        st.tuples(
            st.just("overwrite bytes"),
            st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), min_size=1, max_size=8),
            st.integers(0, 0),
        ),
        st.tuples(
            st.sampled_from(("attribute", "attribute", "initializer", "node", "input")),
            st.integers(0, 2**16),
            st.integers(0, 2**16),
        ),
    ),
    st.sampled_from(("reference", "loihi2")),
)


@settings(
    max_examples=examples(200),
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
)
@given(RECIPE)
def test_corrupted_onnx_models_convert_or_fail_cleanly(recipe):
    (op, a, b), target = recipe
    if op == "truncate":
        data = SHIPPED[: int(a * len(SHIPPED))]
        what = f"truncated to {len(data)} of {len(SHIPPED)} bytes"
    elif op == "overwrite bytes":
        buf = bytearray(SHIPPED)
        done = []
        for frac, value in a:
            pos = min(int(frac * len(buf)), len(buf) - 1)
            buf[pos] = value
            done.append((pos, value))
        data, what = bytes(buf), f"bytes overwritten (offset, value): {done}"
    else:
        data, what = _mutate(a, b, op)

    def work() -> None:
        net = load_onnx(data, calibration=CALIBRATION)
        nc.compile(net, target=target)

    run_case(SUITE, f"digits_ann.onnx: {what}; target={target}", work)
