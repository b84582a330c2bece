"""Sigma-delta neurons (Loihi 2's, as Lava's `lava.proc.sdn.SigmaDelta` fixed-point model).

A sigma-delta population (`NeuronParams.sigma_delta` = "relu" or "unit") carries values, not
spikes. Per step, on its summed synaptic input x (no decay, no reset)::

    sigma    = sigma + x                          (the dendrite sums incoming deltas)
    act      = max(sigma + bias, 0)               ("relu"; "unit": sigma + bias)
    delta    = act - act_prev + residue
    sent     = delta where |delta| >= vth, else 0 (vth = v_threshold, in state units)
    residue  = delta - sent;  act_prev = act
    payload  = floor(sent / unit)                 (unit = payload_unit, state units per payload)

The payload is signed and carried in one message; every synapse multiplies its weight by it.
In the integer program the state is in units of the population's scale s and unit = s * 2**e
(Lava's `state_exp` = e), so the payload is `sent >> e` exactly; a chip carries it only when
its `spike_payload_bits` hold the sign and the largest |payload| (needed vs available).
The same function runs the float model (float arrays) and the integer one (int64 arrays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import Violation

ACTIVATIONS: tuple[str, ...] = ("relu", "unit")
MAX_STATE_EXP = 7  # Lava's state_exp Var: 3 bits


@dataclass
class SigmaDeltaState:
    """The state of a batch of sigma-delta neurons (each array (batch, n))."""

    sigma: np.ndarray
    act: np.ndarray
    residue: np.ndarray

    @classmethod
    def zeros(cls, shape: tuple[int, ...], dtype: type | np.dtype) -> SigmaDeltaState:
        return cls(np.zeros(shape, dtype), np.zeros(shape, dtype), np.zeros(shape, dtype))


def step(
    state: SigmaDeltaState,
    x: np.ndarray,
    bias: np.ndarray,
    vth: np.ndarray,
    unit: float | int,
    activation: str,
) -> np.ndarray:
    """One step on input x: updates `state` in place and returns the payloads (x's dtype)."""
    state.sigma = state.sigma + x
    act = state.sigma + bias
    if activation == "relu":
        act = np.maximum(act, 0)
    delta = act - state.act + state.residue
    sent = np.where(np.abs(delta) >= vth, delta, 0)
    state.residue = delta - sent
    state.act = act
    if isinstance(unit, (int, np.integer)) and np.issubdtype(sent.dtype, np.integer):
        return np.right_shift(sent, int(unit).bit_length() - 1)  # unit = 2**e: Lava's >> e
    return np.floor_divide(sent, unit)


def payload_bits_needed(state_bits: int, state_exp: int) -> int:
    """Signed bits of the largest payload: a state of `state_bits` signed bits shifted by e."""
    largest = ((1 << (state_bits - 1)) - 1) >> state_exp
    return largest.bit_length() + 1


def payload_violations(
    name: str, state_bits: int, state_exp: int, payload_bits: int
) -> list[Violation]:
    """Whether a sigma-delta population's signed payloads fit the chip's spike payload."""
    need = payload_bits_needed(state_bits, state_exp)
    if payload_bits == 0:
        return [
            Violation(
                name,
                "sigma-delta payload",
                f"{need} bits (signed)",
                "0 bits (the target declares no graded-spike payload: spike_payload_bits = 0)",
            )
        ]
    if need > payload_bits:
        return [
            Violation(
                name,
                "sigma-delta payload",
                f"{need} bits (signed, state_exp = {state_exp})",
                f"{payload_bits} bits",
            )
        ]
    return []


def state_exp(unit: float, scale: np.ndarray) -> int | None:
    """e with unit == scale * 2**e for every neuron (0 <= e <= 7); None when there is none."""
    s = np.asarray(scale, np.float64).reshape(-1)
    if not s.size or np.any(s <= 0):
        return None
    ratio = unit / s
    e = np.rint(np.log2(ratio))
    if np.any(e != e[0]) or not 0 <= e[0] <= MAX_STATE_EXP:
        return None
    if not np.allclose(s * 2.0 ** e[0], unit, rtol=1e-12, atol=0):
        return None
    return int(e[0])


def snap_scale(unit: float, scale: np.ndarray) -> np.ndarray:
    """The population's scale made one value, unit / 2**e, at least every entry of `scale`
    (so what fitted still fits), with 0 <= e <= 7 (e = 0 where scale is above unit)."""
    top = float(np.max(scale)) if np.size(scale) else unit
    e = int(np.clip(np.floor(np.log2(unit / top)), 0, MAX_STATE_EXP)) if top > 0 else 0
    return np.full(np.shape(scale), unit / 2.0**e)
