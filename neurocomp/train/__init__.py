"""Training-aware compression: a differentiable twin of the IR and passes that train.

torch is an optional dependency (the `frameworks` extra); nothing here imports it until a twin
is built or a training pass runs, and `require_torch` names the missing package otherwise.
"""

from __future__ import annotations

from typing import Any

from ..errors import NeurocompError


class TrainingError(NeurocompError):
    """A training pass that cannot run: torch missing, no labels, a network it cannot train."""


def require_torch() -> Any:
    """The torch module, or a TrainingError saying how to install it."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed in the project's environment
        raise TrainingError(
            "training passes need PyTorch: pip install 'neurocomp[frameworks]' "
            "(CPU build: torch==2.13.0)"
        ) from None
    return torch
