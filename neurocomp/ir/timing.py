"""How many steps a chip's outputs lag the float network, and comparisons aligned by it.

A chip whose synapses deliver a spike `synapse_delay` steps after it was sent (Loihi 2 through
Lava: 1) runs every feed-forward projection one step late; recurrent projections already read
the previous step in the float network. A population reached from the inputs through d
feed-forward projections therefore outputs on the chip, at step t + d * synapse_delay, what the
float network outputs at step t - exactly so when every route into it has the same d and no bias
acts before its input arrives (biases are present from step 0 on both), approximately otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class _Net(Protocol):
    @property
    def inputs(self) -> Mapping[str, Any]: ...
    @property
    def outputs(self) -> Mapping[str, str]: ...
    @property
    def projections(self) -> Iterable[Any]: ...


def feedforward_depth(net: _Net) -> dict[str, int | None]:
    """Per population and input: feed-forward projections from the inputs (None where routes of
    different lengths meet, e.g. a skip connection, or downstream of such a meeting)."""
    forward = [p for p in net.projections if not p.recurrent]
    into: dict[str, list[str]] = {}
    for p in forward:
        into.setdefault(p.post, []).append(p.pre)
    depth: dict[str, int | None] = {name: 0 for name in net.inputs}
    remaining = [n for n in into if n not in depth]
    while remaining:
        ready = [n for n in remaining if all(pre in depth for pre in into[n])]
        if not ready:  # unreachable from the inputs
            break
        for n in ready:
            found = {None if depth[pre] is None else depth[pre] + 1 for pre in into[n]}  # type: ignore[operator]
            depth[n] = found.pop() if len(found) == 1 else None
            remaining.remove(n)
    return depth


def output_lags(net: _Net, synapse_delay: int) -> dict[str, int | None]:
    """Steps each output lags the float network on a chip with this synapse delay (None: the
    output's routes differ in length, so no single shift aligns it)."""
    depth = feedforward_depth(net)
    return {
        out: (None if depth.get(src) is None else synapse_delay * int(depth[src] or 0))
        for out, src in net.outputs.items()
    }


@dataclass(frozen=True)
class Alignment:
    """A chip output compared with the float output after shifting by `lag` steps."""

    lag: int
    compared_steps: int
    mismatches: int  # sum of |chip - float| over the compared steps
    float_spikes: int  # float spikes in the compared steps

    @property
    def fraction(self) -> float:
        """Mismatches per float spike in the compared steps (0 when exact)."""
        return self.mismatches / max(self.float_spikes, 1)


def align(float_out: np.ndarray, chip_out: np.ndarray, lag: int) -> Alignment:
    """Compare chip_out[lag:] with float_out[:T - lag] (arrays (T, batch, ...))."""
    if lag < 0:
        raise ValueError(f"lag = {lag}: must be >= 0")
    steps = float_out.shape[0] - lag
    f = np.asarray(float_out[:steps], np.float64)
    c = np.asarray(chip_out[lag : lag + steps], np.float64).reshape(f.shape)
    return Alignment(lag, max(steps, 0), int(np.abs(c - f).sum()), int(f.sum()))
