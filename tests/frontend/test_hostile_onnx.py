"""Hostile ONNX models: bad attributes and initializers are refused when the model is read.

Each case edits one field of the shipped digits ANN (examples/onnx_digits/digits_ann.onnx) and
checks the error names the node and the quantity in one line, before any conversion.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.frontend.onnx_frontend import OnnxFileError, parse_onnx

from conftest import EXAMPLES

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SHIPPED = onnx.load(str(EXAMPLES / "onnx_digits" / "digits_ann.onnx"))


def _node(model, name: str):
    return next(n for n in model.graph.node if n.name == name)


def _set_attr(model, node: str, key: str, value) -> None:
    n = _node(model, node)
    kept = [a for a in n.attribute if a.name != key]
    del n.attribute[:]
    n.attribute.extend([*kept, helper.make_attribute(key, value)])


def _set_init(model, name: str, tensor) -> None:
    tensor.name = name
    inits = model.graph.initializer
    index = next(i for i, t in enumerate(inits) if t.name == name)
    inits[index].CopyFrom(tensor)


def _refused(model, cls: type, *needles: str) -> None:
    with pytest.raises(cls) as info:
        parse_onnx(model)
    text = str(info.value)
    assert "\n" not in text and len(text) < 400, text
    for needle in needles:
        assert needle in text, text


def test_the_shipped_model_parses():
    assert [len(layer.ops) for layer in parse_onnx(SHIPPED).layers] == [1, 2, 3, 1]


@pytest.mark.parametrize(
    "node,key,value,cls,needles",
    [
        ("/0/Conv", "strides", [0, 0], nc.ParameterError, ("'/0/Conv'", "strides = [0, 0]")),
        ("/0/Conv", "strides", [1], nc.ParameterError, ("strides = [1]", "must be 2 integers")),
        ("/0/Conv", "pads", [10**6] * 4, nc.ParameterError, ("pads", "at most dilation")),
        ("/0/Conv", "pads", [-1] * 4, nc.ParameterError, ("pads = [-1, -1, -1, -1]",)),
        ("/0/Conv", "dilations", [0, 1], nc.ParameterError, ("dilations = [0, 1]",)),
        ("/0/Conv", "group", 3, nc.ParameterError, ("group = 3", "must divide")),
        ("/4/Conv", "group", 2, nc.ShapeError, ("'/4/Conv'", "group 2 expects 16")),
        ("/0/Conv", "kernel_shape", [5, 5], nc.ParameterError, ("kernel_shape = [5, 5]",)),
        ("/3/AveragePool", "kernel_shape", [0, 2], nc.ParameterError, ("kernel_shape",)),
        ("/3/AveragePool", "kernel_shape", [100, 100], nc.ShapeError, ("empty output",)),
        ("/3/AveragePool", "strides", [0, 2], nc.ParameterError, ("strides = [0, 2]",)),
        ("/3/AveragePool", "pads", [5, 5, 5, 5], nc.ParameterError, ("smaller than the kernel",)),
        ("/9/Gemm", "alpha", float("nan"), nc.ParameterError, ("'/9/Gemm'", "alpha = nan")),
        ("/9/Gemm", "beta", float("inf"), nc.ParameterError, ("beta = inf",)),
        ("/9/Gemm", "transB", 7, nc.ParameterError, ("transB = 7", "0 or 1")),
        ("/9/Gemm", "alpha", 1e308, nc.ParameterError, ("must be finite",)),
        ("/10/BatchNormalization", "epsilon", -1.0, nc.ParameterError, ("epsilon = -1.0",)),
        ("/9/Gemm", "alpha", [0, 0], nc.ParameterError, ("alpha = [0, 0]", "a number")),
        ("/4/Conv", "pads", -1.0, nc.ParameterError, ("pads = -1.0", "integers")),
        ("/4/Conv", "auto_pad", [1, 1], nc.ParameterError, ("auto_pad", "a string")),
        ("/10/BatchNormalization", "epsilon", b"x", nc.ParameterError, ("epsilon = b'x'",)),
    ],
)
def test_bad_attributes_are_refused_at_load(node, key, value, cls, needles):
    model = copy.deepcopy(SHIPPED)
    _set_attr(model, node, key, value)
    _refused(model, cls, *needles)


def _tensor(data_type: int, dims: list[int], vals) -> onnx.TensorProto:
    """A tensor written field by field (helper.make_tensor would refuse the broken ones)."""
    t = TensorProto(name="t", data_type=data_type, dims=dims)
    if data_type == TensorProto.STRING:
        t.string_data.extend(vals)
    elif data_type in (TensorProto.BOOL,):
        t.int32_data.extend(int(v) for v in vals)
    else:
        t.float_data.extend(vals)
    return t


@pytest.mark.parametrize(
    "name,tensor,cls,needles",
    [
        ("9.bias", _tensor(TensorProto.STRING, [64], [b"x"] * 64), OnnxFileError, ("STRING",)),
        ("9.bias", _tensor(TensorProto.BOOL, [64], [True] * 64), OnnxFileError, ("BOOL",)),
        ("9.bias", _tensor(TensorProto.COMPLEX64, [2], [1, 2, 3, 4]), OnnxFileError, ("COMPLEX",)),
        ("9.bias", _tensor(TensorProto.FLOAT, [10**6, 10**6], [1.0]), OnnxFileError, ("dims",)),
        ("9.bias", _tensor(TensorProto.FLOAT, [64, 2], [1.0] * 64), OnnxFileError, ("disagree",)),
        ("9.bias", _tensor(TensorProto.FLOAT, [-64], []), OnnxFileError, ("dims [-64]",)),
        ("9.weight", numpy_helper.from_array(np.full((64, 64), np.nan, np.float32)),
         nc.ParameterError, ("node '9.weight'", "initializer value = nan")),
        ("12.bias", numpy_helper.from_array(np.full(10, np.inf, np.float32)),
         nc.ParameterError, ("initializer value = inf",)),
        ("9.bias", numpy_helper.from_array(np.zeros(7, np.float32)), nc.ShapeError, ("bias",)),
        ("10.running_var", numpy_helper.from_array(np.full(64, -1.0, np.float32)),
         nc.ParameterError, ("var = -1.0",)),
        ("10.weight", numpy_helper.from_array(np.ones(3, np.float32)), nc.ShapeError, ("scale",)),
        ("onnx::Conv_39", numpy_helper.from_array(np.ones(3, np.float32)), nc.ShapeError,
         ("'/0/Conv'", "bias of shape (3,)")),
    ],
)  # fmt: skip
def test_bad_initializers_are_refused_at_load(name, tensor, cls, needles):
    model = copy.deepcopy(SHIPPED)
    _set_init(model, name, tensor)
    _refused(model, cls, *needles)


def test_external_data_is_refused_without_reading_it(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(64, dtype=np.float32).tobytes())
    model = copy.deepcopy(SHIPPED)
    t = next(t for t in model.graph.initializer if t.name == "9.bias")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", str(secret)), ("offset", "0"), ("length", "256")):
        t.external_data.add(key=key, value=value)
    _refused(model, OnnxFileError, "'9.bias'", "another file")
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    _refused(str(path), OnnxFileError, "another file")


def test_missing_inputs_and_huge_input_shape():
    model = copy.deepcopy(SHIPPED)
    n = _node(model, "/9/Gemm")
    del n.input[1:]
    _refused(model, nc.ParameterError, "'/9/Gemm'", "needs at least 2 inputs")
    model = copy.deepcopy(SHIPPED)
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 2**40
    _refused(model, nc.ShapeError, "exceeds")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    _refused(str(fifo), OnnxFileError, "not a regular file")
