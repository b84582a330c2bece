"""The pass contract, the pipeline runner, and the pipeline string syntax.

A pass is a small frozen dataclass with a `name`, options as fields, and
`run(net, ctx) -> PassResult`: a new Network (the input is never mutated) and a report of what
changed. A pipeline is data: a list of passes, or the string
`"quantize{weight_bits=8},prune{sparsity=0.5}"` that the CLI and the API share.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from ..errors import NeurocompError
from ..ir.network import Network
from ..progress import advance


class PassError(NeurocompError):
    """A pass that cannot run: bad options, missing calibration data, unsupported network."""


@dataclass
class Calibration:
    """Sample input for passes that look at activity: x is (T, batch, *input_shape)."""

    x: np.ndarray | dict[str, np.ndarray]
    labels: np.ndarray | None = None

    @classmethod
    def of(cls, x: Any, labels: np.ndarray | None = None) -> Calibration | None:
        """Calibration from an array or a dict of arrays by input name (None: no calibration)."""
        if x is None:
            return None
        return cls(dict(x) if isinstance(x, Mapping) else np.asarray(x), labels)


@dataclass
class PassContext:
    """What every pass may read besides the network (calibration data, a number format)."""

    calibration: Calibration | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def require_calibration(self, pass_name: str, labels: bool = False) -> Calibration:
        if self.calibration is None:
            raise PassError(f"pass '{pass_name}' needs calibration input (calibration=...)")
        if labels and self.calibration.labels is None:
            raise PassError(f"pass '{pass_name}' needs labelled calibration data (labels=...)")
        return self.calibration


@dataclass
class PassResult:
    """The transformed network and a JSON-ready report (`changed` says whether anything did)."""

    network: Network
    report: dict[str, Any]
    changed: bool = True


class Pass(Protocol):
    name: ClassVar[str]

    def run(self, net: Network, ctx: PassContext) -> PassResult: ...


REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make a pass available by its `name` in pipeline strings."""
    REGISTRY[cls.name] = cls  # type: ignore[attr-defined]
    return cls


_ITEM = re.compile(r"\s*([A-Za-z_][\w]*)\s*(?:\{([^{}]*)\})?\s*(?:,|$)")


def _value(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t.strip("'\"")


def parse_pipeline(text: str) -> list[Pass]:
    """Parse `"name{key=value;key=value},name"` (options split by ',' or ';' inside braces)."""
    passes: list[Pass] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        m = _ITEM.match(text, pos)
        if not m or m.end() == pos:
            raise PassError(f"cannot parse pipeline at '{text[pos:]}': expected name{{k=v,...}}")
        name, body = m.group(1), m.group(2)
        options: dict[str, Any] = {}
        for part in re.split(r"[;,]", body or ""):
            if not part.strip():
                continue
            if "=" not in part:
                raise PassError(f"pass '{name}': option '{part.strip()}' is not key=value")
            key, val = (t.strip() for t in part.split("=", 1))
            if key in options:  # which one was meant cannot be guessed
                raise PassError(f"pass '{name}': option '{key}' given twice")
            options[key] = _value(val)
        passes.append(make_pass(name, **options))
        pos = m.end()
    return passes


def make_pass(name: str, **options: Any) -> Pass:
    """Instantiate a registered pass, naming the unknown pass or option on error."""
    if name not in REGISTRY:
        raise PassError(f"unknown pass '{name}'; known passes: {', '.join(sorted(REGISTRY))}")
    cls = REGISTRY[name]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise PassError(f"pass '{name}': unknown option(s) {unknown}; options: {sorted(known)}")
    hints = typing.get_type_hints(cls)
    for key, value in options.items():  # before the pass's own range checks see the value
        check_option(name, key, hints.get(key), value)
    try:
        instance: Pass = cls(**options)
        return instance
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise PassError(f"pass '{name}': {exc}") from None


def check_options(p: Any) -> None:
    """Each option of a pass dataclass holds the type its annotation names (PassError if not)."""
    hints = typing.get_type_hints(type(p))
    for f in dataclasses.fields(p):
        check_option(p.name, f.name, hints.get(f.name), getattr(p, f.name))


def check_option(pass_name: str, key: str, hint: Any, value: object) -> None:
    wanted = _wanted(hint, value)
    if wanted is not None:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise PassError(
            f"pass '{pass_name}': {key} = {shown} ({type(value).__name__}); expected {wanted}"
        )


def _is_int(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def _wanted(hint: Any, value: object) -> str | None:
    """None if `value` fits the annotation `hint`, else what it should be (only plain types,
    optionals and Literals are checked)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is Literal:
        return None if value in args else "one of " + ", ".join(map(repr, args))
    if args and type(None) in args:
        if value is None:
            return None
        rest = [a for a in args if a is not type(None)]
        return _wanted(rest[0], value) if len(rest) == 1 else None
    if hint is bool:
        return None if isinstance(value, (bool, np.bool_)) else "True or False"
    if hint is int:
        return None if _is_int(value) else "a whole number (int)"
    if hint is float:
        if not (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))):
            return "a number (float)"
        return None if math.isfinite(float(value)) else "a finite number"
    if hint is str:
        return None if isinstance(value, str) else "a string"
    return None


def as_passes(passes: str | Sequence[Pass] | None) -> list[Pass]:
    if passes is None:
        return []
    if isinstance(passes, str):
        return parse_pipeline(passes)
    return list(passes)


def describe(p: Pass, full: bool = False) -> str:
    """The pipeline-string form of one pass: name{opt=value,...} with the non-default options
    (every option with `full`)."""
    opts = []
    for f in dataclasses.fields(p):  # type: ignore[arg-type]
        value = getattr(p, f.name)
        if not full and f.default is not dataclasses.MISSING and value == f.default:
            continue
        opts.append(f"{f.name}={value}")
    return p.name + ("{" + ",".join(opts) + "}" if opts else "")


@dataclass
class PipelineResult:
    network: Network
    reports: list[dict[str, Any]]

    @property
    def pipeline(self) -> str:
        return ",".join(str(r["pass"]) for r in self.reports)


def run_pipeline(
    net: Network,
    passes: str | Sequence[Pass] | None,
    ctx: PassContext | None = None,
    verify: bool = True,
    on_pass: Callable[[Pass, PassResult], None] | None = None,
) -> PipelineResult:
    """Run passes in order; with `verify`, re-validate the network after each one."""
    ctx = ctx or PassContext()
    # The network as given: passes that train may distil its outputs into the compressed one.
    ctx.options.setdefault("teacher", net)
    reports = []
    pipeline = as_passes(passes)
    for i, p in enumerate(pipeline):
        advance("passes", i, len(pipeline))
        result = p.run(net, ctx)
        if verify:
            result.network.validate()
        reports.append({"pass": describe(p), "changed": result.changed, **result.report})
        if on_pass is not None:
            on_pass(p, result)
        net = result.network
    advance("passes", len(pipeline), len(pipeline))
    return PipelineResult(net, reports)
