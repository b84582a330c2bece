"""The same network run once per inference as an ANN on an INT8 accelerator, with its memory.

Arithmetic: one 8-bit multiply-accumulate per synapse. Memory: every weight read once per
inference from an on-chip SRAM holding all weights, and every layer's input activations read
and output activations written once, from an SRAM holding the largest layer's; each 64-bit
access costs what Horowitz's ISSCC 2014 figures give for an SRAM of that size (interpolated on
log-log axes). Static power is not modelled: compare dynamic with dynamic. For totals, the
measured devices of Blouw et al. 2019 (same keyword-spotting task as the Loihi measurement),
scaled from their network to this one by the number of MACs (a linear assumption).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014, 45 nm 0.9 V"
MAC_INT8_J = 0.2e-12 + 0.03e-12  # 8-bit multiply + 8-bit add
MAC_FP32_J = 3.7e-12 + 0.9e-12  # 32-bit float multiply + add
# 64-bit SRAM read energy by array size (bytes -> joules)
SRAM_64BIT_J = ((8 * 1024, 10e-12), (32 * 1024, 20e-12), (1024 * 1024, 100e-12))

# Blouw et al. 2019, Table 1 (keyword spotting, 390-256-256-29): idle W, running W, inferences/s
BLOUW = "Blouw, Choo, Hunsberger, Eliasmith, NICE 2019 (arXiv 1812.01739), Table 1"
BLOUW_MACS = 390 * 256 + 256 * 256 + 256 * 29
MEASURED_DEVICES = {
    "movidius_ncs": (0.210, 0.647, 300.0),
    "jetson_tx1": (2.64, 4.98, 419.0),
}


def sram_access_j(size_bytes: float) -> float:
    """Energy of one 64-bit read from an SRAM of `size_bytes` (clamped to 8 KB - 1 MB)."""
    (s0, e0), *_, (s1, e1) = SRAM_64BIT_J
    size = min(max(size_bytes, s0), s1)
    for (a, ea), (b, eb) in zip(SRAM_64BIT_J, SRAM_64BIT_J[1:], strict=False):
        if a <= size <= b:
            f = (math.log(size) - math.log(a)) / (math.log(b) - math.log(a))
            return float(math.exp(math.log(ea) + f * (math.log(eb) - math.log(ea))))
    return e1 if size >= s1 else e0


@dataclass(frozen=True)
class MeasuredDevice:
    """A device measured on Blouw's keyword spotter, scaled to `macs` MACs."""

    name: str
    dynamic_j: float
    total_j: float
    measured_dynamic_j: float
    measured_total_j: float
    source: str = BLOUW


@dataclass(frozen=True)
class AnnBaseline:
    """Per-inference joules of the network as an INT8 ANN: arithmetic and memory."""

    macs: int
    arithmetic_j: float
    weight_memory_j: float
    activation_memory_j: float
    fp32_arithmetic_j: float
    devices: tuple[MeasuredDevice, ...]

    @property
    def memory_j(self) -> float:
        return self.weight_memory_j + self.activation_memory_j

    @property
    def dynamic_j(self) -> float:
        return self.arithmetic_j + self.memory_j

    def to_dict(self) -> dict[str, Any]:
        return {
            "macs": self.macs,
            "energy_per_inference_j": self.dynamic_j,
            "arithmetic_j": self.arithmetic_j,
            "memory_j": self.memory_j,
            "weight_memory_j": self.weight_memory_j,
            "activation_memory_j": self.activation_memory_j,
            "fp32_arithmetic_j": self.fp32_arithmetic_j,
            "devices": {d.name: asdict(d) for d in self.devices},
            "source": f"{HOROWITZ}: INT8 MAC 0.23 pJ; 64-bit SRAM read 10, 20, 100 pJ "
            "at 8 KB, 32 KB, 1 MB",
        }


def ann_baseline(synapses: int, layer_sizes: list[tuple[int, int]]) -> AnnBaseline:
    """`synapses`: non-zero weights (one MAC each); `layer_sizes`: (inputs, outputs) of each
    layer, in activations (one byte each)."""
    weight_bytes = synapses
    weight_j = math.ceil(weight_bytes / 8) * sram_access_j(weight_bytes)
    biggest = max((i + o for i, o in layer_sizes), default=0)
    act_words = sum(math.ceil(i / 8) + math.ceil(o / 8) for i, o in layer_sizes)
    act_j = act_words * sram_access_j(biggest)
    devices = tuple(
        MeasuredDevice(
            name,
            (run - idle) / rate * synapses / BLOUW_MACS,
            run / rate * synapses / BLOUW_MACS,
            (run - idle) / rate,
            run / rate,
        )
        for name, (idle, run, rate) in MEASURED_DEVICES.items()
    )
    return AnnBaseline(
        int(synapses),
        synapses * MAC_INT8_J,
        float(weight_j),
        float(act_j),
        synapses * MAC_FP32_J,
        devices,
    )


def layer_sizes_of(net: Any) -> list[tuple[int, int]]:
    """(inputs, outputs) per population with incoming synapses of an IntNetwork."""
    out = []
    for pop in net.populations:
        pres = {p.pre for p in net.projections_into(pop.name)}
        if pres:
            out.append((int(np.sum([net.size_of(p) for p in pres])), pop.size))
    return out
