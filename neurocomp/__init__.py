"""neurocomp: a deployment compiler for spiking neural networks.

import neurocomp as nc
net = nc.load("model.nir", dt=1e-4)   # NIR -> discrete-time Network
y = nc.simulate(net, x)               # x: (T, batch, *input_shape) -> (T, batch, *output_shape)
"""

from .api import compile, from_torch, load, load_program, simulate, transform
from .errors import (
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
from .frontend.onnx_frontend import rate_code
from .ir import Network, Population, Projection
from .passes import PassError
from .program.artifact import Program
from .sim import Trace
from .target import TargetError

__version__ = "0.1.0"

__all__ = [
    "DtError",
    "GraphError",
    "InputError",
    "Network",
    "NeurocompError",
    "NeurocompWarning",
    "NirFileError",
    "ParameterError",
    "PassError",
    "ResourceLimitError",
    "TargetError",
    "Violation",
    "Population",
    "Projection",
    "ShapeError",
    "Trace",
    "UnsupportedModuleError",
    "UnsupportedNodeError",
    "compile",
    "from_torch",
    "load",
    "load_program",
    "rate_code",
    "Program",
    "simulate",
    "transform",
]
