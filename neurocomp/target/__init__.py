"""Target chips described as data (TOML): loading, validation, listing."""

from .spec import (
    NEURON_MODELS,
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
    "NEURON_MODELS",
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
