"""Integer form of a network: what a chip stores (written by `neurocomp.lowering`).

Every value is an integer (int64) except `scale`, the float state units of one integer step, which
turns integer voltages back into the float network's units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True, eq=False)
class IntPopulation:
    """Integer neuron parameters, flat per neuron. Decays are in units of 2**-decay_bits."""

    name: str
    kind: str
    shape: tuple[int, ...]
    dv: np.ndarray
    bias: np.ndarray
    v_reset: np.ndarray
    scale: np.ndarray  # float: state units per integer step
    threshold: np.ndarray | None = None
    du: np.ndarray | None = None
    reset: str = "zero"
    max_spikes: int | None = 1  # > 1 or None: graded spikes carrying the spike count
    inclusive: bool = False  # spike at v >= threshold
    # sigma-delta neurons (`ir.sigma_delta`): "relu"/"unit"; threshold = vth, bias = activation
    # bias, payload = sent >> state_exp (Lava SigmaDelta's state_exp)
    sigma_delta: str | None = None
    state_exp: int = 0

    @property
    def size(self) -> int:
        return int(self.dv.size)

    @property
    def spiking(self) -> bool:
        return self.threshold is not None

    @property
    def graded(self) -> bool:
        """Whether each message carries a value (a multi-spike count or a signed sigma-delta
        payload) rather than one bit."""
        return self.spiking and (self.max_spikes != 1 or self.sigma_delta is not None)


@dataclass(frozen=True, eq=False)
class IntConv:
    """A projection's synapses as one shared 2-d kernel: `weight` is exactly its expansion.

    `kernel` is (C_out, C_in / groups, kh, kw) int64, applied as PyTorch's and NIR's
    cross-correlation to (C, H, W) signals."""

    kernel: np.ndarray
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int


@dataclass(frozen=True, eq=False)
class IntProjection:
    """Integer synapses (post x pre CSR, int64) and a per-step integer bias onto `post`.

    `delay`: each synapse's delay in steps beyond the chip's `synapse_delay`, a CSR matrix with
    `weight`'s indptr and indices (explicit zeros kept); None: no delays."""

    name: str
    pre: str
    post: str
    weight: sparse.csr_matrix
    bias: np.ndarray | None = None
    recurrent: bool = False
    delay: sparse.csr_matrix | None = None
    conv: IntConv | None = None  # set on chips that store convolution weights once

    @property
    def max_delay(self) -> int:
        return int(self.delay.data.max()) if self.delay is not None and self.delay.nnz else 0


@dataclass(frozen=True, eq=False)
class IntNetwork:
    inputs: dict[str, tuple[int, ...]]
    populations: tuple[IntPopulation, ...]
    projections: tuple[IntProjection, ...]
    outputs: dict[str, str]
    decay_bits: int

    def population(self, name: str) -> IntPopulation:
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(name)

    def size_of(self, name: str) -> int:
        if name in self.inputs:
            return int(np.prod(self.inputs[name]))
        return self.population(name).size

    def shape_of(self, name: str) -> tuple[int, ...]:
        return tuple(self.inputs[name]) if name in self.inputs else self.population(name).shape

    def projections_into(self, post: str) -> list[IntProjection]:
        return [p for p in self.projections if p.post == post]

    @property
    def synapses(self) -> int:
        return sum(int(p.weight.nnz) for p in self.projections)

    @property
    def neurons(self) -> int:
        return sum(p.size for p in self.populations)
