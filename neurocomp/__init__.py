"""neurocomp: a deployment compiler for spiking neural networks.

import neurocomp as nc
net = nc.load("model.nir", dt=1e-4)   # NIR -> discrete-time Network
y = nc.simulate(net, x)               # x: (T, batch, *input_shape) -> (T, batch, *output_shape)

The names below are imported on first use (PEP 562), so that `import neurocomp` and the
`neurocomp` command start at once and ^C during start-up can be handled (see __main__.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = {
    "compile": ".api",
    "from_torch": ".api",
    "load": ".api",
    "load_program": ".api",
    "simulate": ".api",
    "transform": ".api",
    "ArgumentError": ".errors",
    "Program": ".program.artifact",
    "DtError": ".errors",
    "GraphError": ".errors",
    "InputError": ".errors",
    "NeurocompError": ".errors",
    "NeurocompWarning": ".errors",
    "NirFileError": ".errors",
    "ParameterError": ".errors",
    "ResourceLimitError": ".errors",
    "ShapeError": ".errors",
    "UnsupportedModuleError": ".errors",
    "UnsupportedNodeError": ".errors",
    "Violation": ".errors",
    "OutputError": ".files",
    "rate_code": ".frontend.onnx_frontend",
    "graded_code": ".frontend.onnx_frontend",
    "sigma_delta_code": ".frontend.onnx_frontend",
    "Network": ".ir",
    "Population": ".ir",
    "Projection": ".ir",
    "PassError": ".passes",
    "Trace": ".sim",
    "TargetError": ".target",
    "sweep": ".explore",
    "SweepResult": ".explore",
}

__all__ = [
    "ArgumentError",
    "DtError",
    "GraphError",
    "InputError",
    "Network",
    "NeurocompError",
    "NeurocompWarning",
    "NirFileError",
    "OutputError",
    "ParameterError",
    "PassError",
    "Population",
    "Program",
    "Projection",
    "ResourceLimitError",
    "ShapeError",
    "TargetError",
    "Trace",
    "UnsupportedModuleError",
    "UnsupportedNodeError",
    "Violation",
    "compile",
    "from_torch",
    "graded_code",
    "sigma_delta_code",
    "load",
    "load_program",
    "rate_code",
    "simulate",
    "sweep",
    "SweepResult",
    "transform",
]

if TYPE_CHECKING:
    from .api import (
        compile,
        from_torch,
        load,
        load_program,
        simulate,
        transform,
    )
    from .errors import (
        ArgumentError,
        DtError,
        GraphError,
        InputError,
        NeurocompError,
        NeurocompWarning,
        NirFileError,
        ParameterError,
        ResourceLimitError,
        ShapeError,
        UnsupportedModuleError,
        UnsupportedNodeError,
        Violation,
    )
    from .explore import SweepResult, sweep
    from .files import OutputError
    from .frontend.onnx_frontend import graded_code, rate_code, sigma_delta_code
    from .ir import Network, Population, Projection
    from .passes import PassError
    from .program.artifact import Program
    from .sim import Trace
    from .target import TargetError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'neurocomp' has no attribute '{name}'")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
