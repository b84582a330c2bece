"""The backend contract: what every engine checks, how it runs a program, what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..errors import Violation
from ..ir.integer import IntNetwork
from ..mapping import Mapping
from ..target.spec import NumberFormat
from .events import EventCounts


@dataclass(kw_only=True)
class RunResult:
    """A bit-accurate run (`Program.outputs`), the same for every engine: outputs (T, batch,
    *shape), spikes, or voltages in float units for non-spiking outputs; with record=True every
    population's spikes and integer voltages (T, batch, n); `counts`: events per step and core
    when the run counted them."""

    outputs: dict[str, np.ndarray]
    counts: EventCounts | None = None
    spikes: dict[str, np.ndarray] = field(default_factory=dict)  # recorded (T, batch, n)
    v: dict[str, np.ndarray] = field(default_factory=dict)  # recorded integer voltages

    def plot(self, batch: int = 0, populations: list[str] | None = None) -> Any:
        """Spike raster (a matplotlib Figure) of sample `batch` (needs record=True)."""
        from ..present.plots import spike_raster

        return spike_raster(self.spikes, batch=batch, populations=populations)


class Backend(Protocol):
    """An engine that runs integer programs bit-accurately."""

    name: str

    def violations(self, net: IntNetwork, fmt: NumberFormat) -> list[Violation]:
        """What this engine cannot express exactly (beyond the chip's own limits)."""
        ...

    def run(
        self,
        net: IntNetwork,
        x: Any,
        fmt: NumberFormat,
        *,
        mapping: Mapping | None = None,
        record: bool = False,
    ) -> RunResult:
        """Run on input spikes x (T, batch, *input_shape); with a mapping, count events."""
        ...
