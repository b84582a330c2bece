"""Sigma-delta populations in neurocomp's bit-accurate engine (the dynamics: `ir.sigma_delta`).

As Lava's SigmaDelta fixed-point model: the summed synaptic input enters sigma as it is (no
`weight_shift`, no wrap to an activation width), the bias and vth are not shifted, and the
payload is `sent >> state_exp`. The engine runs networks with such populations step by step on
its exact int64 path; this module is its per-step hook.
"""

from __future__ import annotations

import numpy as np

from ..ir import sigma_delta
from ..ir.integer import IntPopulation


def step(
    pop: IntPopulation, drive: np.ndarray, states: dict[str, sigma_delta.SigmaDeltaState]
) -> tuple[np.ndarray, np.ndarray]:
    """One step of `pop` on its summed integer drive (batch, n): (payloads, activations)."""
    st = states.get(pop.name)
    if st is None:
        st = states[pop.name] = sigma_delta.SigmaDeltaState.zeros(drive.shape, np.int64)
    assert pop.threshold is not None and pop.sigma_delta is not None
    payload = sigma_delta.step(
        st, drive, pop.bias, pop.threshold, 1 << pop.state_exp, pop.sigma_delta
    )
    return payload, st.act
