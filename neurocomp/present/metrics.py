"""Classification read-outs of simulated outputs."""

from __future__ import annotations

import numpy as np


def predictions(y: np.ndarray) -> np.ndarray:
    """Class per sample: argmax over output neurons of the sum over time (ties: lowest index).

    y: (T, batch, *output_shape) spikes or voltages.
    """
    scores = np.asarray(y).sum(axis=0)
    return scores.reshape(scores.shape[0], -1).argmax(axis=1)


def accuracy(y: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose predicted class equals the label."""
    return float(np.mean(predictions(y) == np.asarray(labels)))


def spike_count_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of (sample, neuron) output spike counts that are equal in two runs."""
    ca = np.asarray(a).sum(axis=0)
    cb = np.asarray(b).sum(axis=0)
    return float(np.mean(ca == cb))
