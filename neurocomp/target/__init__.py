"""Target chips described as data (TOML): loading, validation, listing."""

from .figures import KINDS, Figure
from .spec import (
    NEURON_MODELS,
    BoardModel,
    CoreLimits,
    EnergyModel,
    Mesh,
    NumberFormat,
    SynapseFormat,
    TargetError,
    TargetSpec,
    TimingModel,
    load_target,
    shipped_targets,
    spec_from_dict,
)

__all__ = [
    "KINDS",
    "NEURON_MODELS",
    "BoardModel",
    "Figure",
    "CoreLimits",
    "EnergyModel",
    "Mesh",
    "NumberFormat",
    "SynapseFormat",
    "TargetError",
    "TargetSpec",
    "TimingModel",
    "load_target",
    "shipped_targets",
    "spec_from_dict",
]
