"""Analyses of networks and runs: accuracy, agreement (energy and resources come later)."""

from ..present.metrics import accuracy, predictions, spike_count_agreement

__all__ = ["accuracy", "predictions", "spike_count_agreement"]
