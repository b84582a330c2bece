"""Passes: small named transformations Network -> Network that report what they changed.

Pipelines are data: a list of pass objects or a string such as
"quantize{weight_bits=8},prune{sparsity=0.5}".
"""

from .base import (
    REGISTRY,
    Calibration,
    Pass,
    PassContext,
    PassError,
    PassResult,
    PipelineResult,
    describe,
    make_pass,
    parse_pipeline,
    run_pipeline,
)
from .fold import Fold, compose, ensure_folded, is_folded
from .prune import Prune
from .quantize import Quantize
from .structured import Merge, PruneNeurons, silent_neurons

__all__ = [
    "REGISTRY",
    "Calibration",
    "Fold",
    "Merge",
    "Pass",
    "PassContext",
    "PassError",
    "PassResult",
    "PipelineResult",
    "Prune",
    "PruneNeurons",
    "Quantize",
    "compose",
    "describe",
    "ensure_folded",
    "is_folded",
    "make_pass",
    "parse_pipeline",
    "run_pipeline",
    "silent_neurons",
]
