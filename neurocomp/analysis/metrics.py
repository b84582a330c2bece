"""Old import path of the read-out metrics (now neurocomp.present.metrics): kept as an alias."""

from ..present.metrics import accuracy, predictions, spike_count_agreement

__all__ = ["accuracy", "predictions", "spike_count_agreement"]
