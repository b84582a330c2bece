"""Every error a user can cause, as one small hierarchy.

Messages name the object (node, layer, edge), the quantity, the value and the limit, so the CLI can
print them as one line. Lossy but legal outcomes are warnings (`NeurocompWarning`), not errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class NeurocompError(Exception):
    """Base class of all errors neurocomp raises on bad input."""


class NirFileError(NeurocompError):
    """A file that cannot be read as NIR: missing, not HDF5, or structurally broken."""


class UnsupportedNodeError(NeurocompError):
    """One or more NIR nodes whose type neurocomp does not lower."""

    def __init__(self, nodes: dict[str, str]) -> None:
        self.nodes = dict(nodes)
        listed = ", ".join(f"'{name}' ({kind})" for name, kind in sorted(self.nodes.items()))
        super().__init__(f"unsupported NIR node type(s): {listed}")


class UnsupportedModuleError(NeurocompError):
    """One or more PyTorch modules that `from_torch` cannot export to NIR."""

    def __init__(self, framework: str, modules: dict[str, str]) -> None:
        self.framework, self.modules = framework, dict(modules)
        listed = ", ".join(f"'{name}' ({kind})" for name, kind in sorted(self.modules.items()))
        super().__init__(f"no NIR export for {framework} module(s): {listed}")


class GraphError(NeurocompError):
    """A readable graph that is not a valid network (dangling edge, stateless cycle...)."""


class ShapeError(NeurocompError):
    """Shapes that do not agree along an edge, or a node whose shape cannot be determined."""


class ParameterError(NeurocompError):
    """A parameter value outside its legal range (NaN, inf, non-positive time constant...)."""

    def __init__(self, node: str, quantity: str, value: object, limit: str) -> None:
        self.node, self.quantity, self.value, self.limit = node, quantity, value, limit
        super().__init__(f"node '{node}': {quantity} = {value} ({limit})")


class DtError(NeurocompError):
    """The network needs a time step `dt` that is neither given nor certain from the file."""


class ArgumentError(NeurocompError):
    """A public-API argument of the wrong type, or an option outside its legal range."""

    def __init__(self, function: str, argument: str, value: object, wanted: str) -> None:
        self.function, self.argument, self.value, self.wanted = function, argument, value, wanted
        where = function if " " in function else f"{function}()"  # "neurocomp check": the CLI
        super().__init__(
            f"{where}: {argument} = {_show(value)} ({type(value).__name__}); expected {wanted}"
        )


def _show(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class InputError(NeurocompError):
    """Simulation input of the wrong shape, dtype or file format."""


class NeurocompWarning(UserWarning):
    """A legal but noteworthy outcome: an inferred dt, a repaired file, a lossy conversion."""


@dataclass(frozen=True)
class Violation:
    """One resource or format limit a layer exceeds: needed vs available."""

    layer: str
    resource: str
    needed: object
    available: object
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return (
            f"layer '{self.layer}': {self.resource} needed {self.needed}, "
            f"available {self.available}{extra}"
        )


class ResourceLimitError(NeurocompError):
    """A network that does not fit the target; lists every violation found."""

    def __init__(self, target: str, violations: list[Violation]) -> None:
        self.target, self.violations = target, list(violations)
        listed = "; ".join(str(v) for v in self.violations)
        super().__init__(f"does not fit target '{target}': {listed}")
