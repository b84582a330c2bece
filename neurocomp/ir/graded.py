"""Integer spikes beyond one bit: multi-spike neurons as graded spikes, and the >= threshold test.

A multi-spike neuron (`NeuronParams.max_spikes` != 1) sends, in one message, its spike count
k = min(cap, v // threshold) (at least 1 once it crosses) as the spike's payload; each synapse
adds weight * k, and reset "subtract" removes k thresholds. A chip carries that only when its
format declares `spike_payload_bits` wide enough for the largest count (needed vs available
otherwise).
"""

from __future__ import annotations

import numpy as np

from ..errors import Violation


def spike_counts(
    v: np.ndarray, threshold: np.ndarray, max_spikes: int | None, inclusive: bool
) -> np.ndarray:
    """Integer spikes (int64) of integer membranes v against integer thresholds."""
    crossed = v >= threshold if inclusive else v > threshold
    if max_spikes == 1:
        return crossed.astype(np.int64)
    safe = np.where(threshold > 0, threshold, 1)
    k = np.maximum(v // safe, 1)
    if max_spikes is not None:
        k = np.minimum(k, max_spikes)
    return np.where(crossed, k, 0).astype(np.int64)


def largest_count(max_spikes: int | None, threshold: np.ndarray, v_max: int) -> int:
    """The most spikes one neuron can send in a step: its cap, or what the largest membrane
    `v_max` holds of its smallest threshold."""
    positive = threshold[threshold > 0]
    bound = v_max // int(positive.min()) if positive.size else v_max
    return bound if max_spikes is None else min(max_spikes, max(bound, 1))


def payload_violations(
    name: str, max_spikes: int | None, threshold: np.ndarray, v_max: int, payload_bits: int
) -> list[Violation]:
    """Whether a multi-spike population's counts fit the chip's graded-spike payload."""
    if max_spikes == 1:
        return []
    need = largest_count(max_spikes, threshold, v_max).bit_length()
    cap = "no cap" if max_spikes is None else f"up to {max_spikes}"
    if payload_bits == 0:
        return [
            Violation(
                name,
                "spikes per step",
                cap,
                "1 (the target declares no graded-spike payload: spike_payload_bits = 0)",
            )
        ]
    if need > payload_bits:
        return [
            Violation(
                name,
                "spike payload",
                f"{need} bits ({cap} spikes per step)",
                f"{payload_bits} bits",
            )
        ]
    return []
