"""Discrete-time intermediate representation: populations, projections, synaptic operators."""

from .network import (
    RESET_MODES,
    Network,
    NeuronParams,
    Population,
    Projection,
    ResetMode,
    evaluation_order,
)
from .ops import Conv, Delay, DelayLine, Dense, Flatten, Op, Pool2d, Scale, Shape

__all__ = [
    "RESET_MODES",
    "Conv",
    "Delay",
    "DelayLine",
    "Dense",
    "Flatten",
    "Network",
    "NeuronParams",
    "Op",
    "Pool2d",
    "Population",
    "Projection",
    "ResetMode",
    "Scale",
    "Shape",
    "evaluation_order",
]
