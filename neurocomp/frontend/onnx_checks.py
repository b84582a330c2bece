"""Checks of ONNX node attributes and constant inputs, before the converter uses them.

Each check refuses, with the node, the quantity, the value and the legal range, what would
otherwise divide by zero, allocate without bound or turn into a misleading error much later
(strides 0, pads of 10^6, groups that do not divide the channels, NaN scale factors...).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ParameterError, ShapeError
from .shapes import MAX_ELEMENTS

# Inputs (activation first) each supported op needs at least.
MIN_INPUTS = {"Gemm": 2, "MatMul": 2, "Add": 2, "Conv": 2, "BatchNormalization": 5}


def _ints(name: str, attrs: dict[str, Any], key: str, n: int, default: int, lo: int) -> list[int]:
    """An INTS attribute of n values, each in [lo, MAX_ELEMENTS]."""
    raw = attrs.get(key, [default] * n)
    values = [raw] if isinstance(raw, int) else list(raw)
    ok = len(values) == n and all(isinstance(v, int) and lo <= v <= MAX_ELEMENTS for v in values)
    if not ok:
        raise ParameterError(
            name, key, values[:8], f"must be {n} integers in [{lo}, {MAX_ELEMENTS}]"
        )
    return values


def _array_arg(name: str, args: list[Any], i: int, what: str, ndim: int | None = None) -> Any:
    arg = args[i] if i < len(args) else None
    if not isinstance(arg, np.ndarray) or arg.dtype.kind not in "iuf":
        raise ParameterError(name, what, type(arg).__name__, "must be a numeric constant tensor")
    if ndim is not None and arg.ndim != ndim:
        raise ShapeError(f"node '{name}': {what} has shape {arg.shape}, must be {ndim}-D")
    return arg


def _flag(name: str, attrs: dict[str, Any], key: str) -> None:
    if attrs.get(key, 0) not in (0, 1):
        raise ParameterError(name, key, attrs[key], "must be 0 or 1")


def _check_gemm(name: str, in_shape: tuple[int, ...], args: list[Any], attrs: dict) -> None:
    _flag(name, attrs, "transA")
    _flag(name, attrs, "transB")
    w = _array_arg(name, args, 1, "weight", 2)
    n_out = w.shape[0] if attrs.get("transB", 0) else w.shape[-1]
    if len(args) > 2 and args[2] is not None:
        bias = _array_arg(name, args, 2, "bias")
        if bias.shape not in ((), (1,), (n_out,)):
            raise ShapeError(f"node '{name}': bias of shape {bias.shape} for {n_out} outputs")


def _out_size(name: str, in_shape: tuple[int, ...], kernel: list[int], spans: dict) -> None:
    """Refuse an output that is empty or larger than MAX_ELEMENTS (before any allocation)."""
    out = [
        (n + 2 * p - (d * (k - 1) + 1)) // s + 1
        for n, k, p, d, s in zip(
            in_shape[1:], kernel, spans["pads"], spans["dilations"], spans["strides"], strict=True
        )
    ]
    if min(out) < 1:
        raise ShapeError(f"node '{name}': input {in_shape} gives an empty output {out}")
    if math.prod(out) * spans["channels"] > MAX_ELEMENTS:
        raise ShapeError(f"node '{name}': output {out} exceeds {MAX_ELEMENTS} elements")


def _conv_pads(name: str, attrs: dict, nd: int, kernel: list[int], dil: list[int]) -> list[int]:
    pads = _ints(name, attrs, "pads", 2 * nd, 0, 0)
    for p, k, d in zip(pads, kernel * 2, dil * 2, strict=True):
        if p > d * (k - 1):  # beyond this, outputs see only padding
            raise ParameterError(
                name, "pads", pads, f"each at most dilation x (kernel - 1) = {d * (k - 1)}"
            )
    return pads


def _check_conv(name: str, in_shape: tuple[int, ...], args: list[Any], attrs: dict) -> None:
    w = _array_arg(name, args, 1, "weight")
    nd = w.ndim - 2
    if nd not in (1, 2) or len(in_shape) != nd + 1:
        raise ShapeError(f"node '{name}': weight {w.shape} is not a 1-d or 2-d conv of {in_shape}")
    kernel = [int(k) for k in w.shape[2:]]
    if min(kernel) < 1 or attrs.get("kernel_shape", kernel) != kernel:
        raise ParameterError(name, "kernel_shape", attrs.get("kernel_shape"), f"weight {w.shape}")
    strides = _ints(name, attrs, "strides", nd, 1, 1)
    dilations = _ints(name, attrs, "dilations", nd, 1, 1)
    pads = _conv_pads(name, attrs, nd, kernel, dilations)
    group = attrs.get("group", 1)
    c_in, c_out = in_shape[0], w.shape[0]
    if not isinstance(group, int) or group < 1 or c_in % group or c_out % group:
        raise ParameterError(
            name, "group", group, f"must divide input channels {c_in} and output channels {c_out}"
        )
    if w.shape[1] * group != c_in:
        raise ShapeError(
            f"node '{name}': weight {w.shape} with group {group} expects "
            f"{w.shape[1] * group} input channels, receives {c_in}"
        )
    if len(args) > 2 and args[2] is not None:
        bias = _array_arg(name, args, 2, "bias")
        if bias.shape != (c_out,):
            raise ShapeError(f"node '{name}': bias of shape {bias.shape} for {c_out} channels")
    spans = dict(pads=pads[:nd], dilations=dilations, strides=strides, channels=c_out)
    _out_size(name, in_shape, kernel, spans)


def _check_pool(name: str, in_shape: tuple[int, ...], args: list[Any], attrs: dict) -> None:
    if len(in_shape) != 3:
        raise ShapeError(f"node '{name}': only 2-d average pooling is supported, got {in_shape}")
    if "kernel_shape" not in attrs:
        raise ParameterError(name, "kernel_shape", "missing", "AveragePool requires it")
    kernel = _ints(name, attrs, "kernel_shape", 2, 1, 1)
    strides = _ints(name, attrs, "strides", 2, 1, 1)
    if _ints(name, attrs, "dilations", 2, 1, 1) != [1, 1]:
        raise ParameterError(name, "dilations", attrs["dilations"], "only 1 is supported")
    pads = _ints(name, attrs, "pads", 4, 0, 0)
    if any(p >= k for p, k in zip(pads, kernel * 2, strict=True)):
        raise ParameterError(name, "pads", pads, f"each smaller than the kernel {kernel}")
    spans = dict(pads=pads[:2], dilations=[1, 1], strides=strides, channels=in_shape[0])
    _out_size(name, in_shape, kernel, spans)


def _check_bn(name: str, in_shape: tuple[int, ...], args: list[Any], attrs: dict) -> None:
    channels = in_shape[0] if in_shape else 0
    parts = [_array_arg(name, args, i, what) for i, what in enumerate("xgbmv") if i]
    for what, arr in zip(("scale", "B", "mean", "var"), parts, strict=True):
        if arr.shape != (channels,):
            raise ShapeError(f"node '{name}': {what} of shape {arr.shape} for {channels} channels")
    eps = float(attrs.get("epsilon", 1e-5))
    if not eps >= 0:
        raise ParameterError(name, "epsilon", eps, "must be >= 0")
    if (parts[3] + eps <= 0).any():
        bad = float(parts[3][parts[3] + eps <= 0][0])
        raise ParameterError(name, "var", bad, f"var + epsilon must be > 0 (epsilon = {eps})")


def _check_add(name: str, in_shape: tuple[int, ...], args: list[Any], attrs: dict) -> None:
    _array_arg(name, args, 1, "addend")


def _check_flatten(name: str, in_shape: tuple[int, ...], args: list[Any], attrs: dict) -> None:
    if not isinstance(attrs.get("axis", 1), int):
        raise ParameterError(name, "axis", attrs["axis"], "must be an integer")


CHECKS: dict[str, Callable[[str, tuple[int, ...], list[Any], dict], None]] = {
    "Gemm": _check_gemm,
    "MatMul": _check_gemm,
    "Conv": _check_conv,
    "AveragePool": _check_pool,
    "BatchNormalization": _check_bn,
    "Add": _check_add,
    "Flatten": _check_flatten,
}


# The type each attribute the converter reads must have (ONNX operator specs).
ATTR_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    **{k: ("integers", lambda v: isinstance(v, list) and all(isinstance(x, int) for x in v))
       for k in ("strides", "pads", "dilations", "kernel_shape")},
    **{k: ("an integer", lambda v: isinstance(v, int))
       for k in ("group", "transA", "transB", "axis", "count_include_pad", "ceil_mode",
                 "training_mode")},
    **{k: ("a number", lambda v: isinstance(v, (int, float)))
       for k in ("alpha", "beta", "epsilon", "momentum")},
    "auto_pad": ("a string", lambda v: isinstance(v, bytes)),
}  # fmt: skip


def _check_attr_types(name: str, attrs: dict) -> None:
    for key, value in attrs.items():
        if key in ATTR_TYPES and not ATTR_TYPES[key][1](value):
            shown = value[:8] if isinstance(value, list) else value
            raise ParameterError(name, key, repr(shown)[:60], f"must be {ATTR_TYPES[key][0]}")


def check_node(name: str, op: str, in_shape: tuple[int, ...], args: list[Any], attrs: dict) -> None:
    """Refuse attribute values and constant inputs of one linear node that are not legal."""
    _check_attr_types(name, attrs)
    if len(args) < MIN_INPUTS.get(op, 1):
        raise ParameterError(
            name, "inputs", len(args), f"{op} needs at least {MIN_INPUTS[op]} inputs"
        )
    check = CHECKS.get(op)
    if check is not None:
        check(name, in_shape, args, attrs)


def check_finite(name: str, quantity: str, arr: np.ndarray) -> None:
    """Refuse NaN or infinite values (weights, biases, scale factors)."""
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = arr[~np.isfinite(arr)].flat[0]
        raise ParameterError(name, quantity, float(bad), "must be finite")
