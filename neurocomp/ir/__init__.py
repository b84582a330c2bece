"""Discrete-time intermediate representation: populations, projections, synaptic operators."""

from .network import (
    RESET_MODES,
    Network,
    NeuronParams,
    Population,
    Projection,
    QuantInfo,
    ResetMode,
    evaluation_order,
)
from .ops import Conv, Delay, DelayLine, Dense, Flatten, Matrix, Op, Pool2d, Scale, Shape

__all__ = [
    "RESET_MODES",
    "Conv",
    "Delay",
    "DelayLine",
    "Dense",
    "Flatten",
    "Matrix",
    "Network",
    "NeuronParams",
    "Op",
    "Pool2d",
    "Population",
    "Projection",
    "QuantInfo",
    "ResetMode",
    "Scale",
    "Shape",
    "evaluation_order",
]
