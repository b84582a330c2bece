"""Generated networks for benchmarks: banded sparse feed-forward layers and conv stacks.

Banded: each neuron of a layer draws `fan_in` distinct sources from a window of its previous
layer centred on its own relative position, the locality real layers (conv, topographic maps)
have and a chip's input-axon limit needs.
"""

from __future__ import annotations

import nir
import numpy as np
from scipy import sparse

from neurocomp.ir.network import Network, NeuronParams, Population, Projection
from neurocomp.ir.ops import Matrix


def _lif(n: int, rng: np.random.Generator, decay: float = 0.1) -> NeuronParams:
    return NeuronParams(
        dv=np.full(n, decay),
        v_gain=np.ones(n),
        v_bias=np.zeros(n),
        v_reset=np.zeros(n),
        v_threshold=np.full(n, 1.0),
    )


def banded(sizes: list[int], fan_in: int, seed: int = 0, weight: float = 0.25) -> Network:
    """A feed-forward network of LIF layers `sizes[1:]` fed by `sizes[0]` inputs."""
    rng = np.random.default_rng(seed)
    pops, projs = [], []
    pre = "input"
    for k, (n_pre, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        window = min(n_pre, 2 * fan_in)
        centre = (np.arange(n) * n_pre) // max(n, 1)
        start = np.clip(centre - window // 2, 0, n_pre - window)
        offs = np.argsort(rng.random((n, window)), axis=1)[:, :fan_in]
        cols = np.sort(start[:, None] + offs, axis=1).reshape(-1)
        rows = np.repeat(np.arange(n), fan_in)
        data = rng.normal(weight / 2, weight, rows.size)
        w = sparse.csr_matrix((data, (rows, cols)), shape=(n, n_pre))
        name = f"l{k}"
        pops.append(Population(name, (n,), "LIF", _lif(n, rng)))
        projs.append(Projection(f"w{k}", pre, name, (Matrix(w, (n_pre,), (n,), None),)))
        pre = name
    return Network({"input": (sizes[0],)}, tuple(pops), tuple(projs), {"output": pre}, dt=1e-3)


def conv_stack(channels: int, size: int, layers: int, seed: int = 0) -> nir.NIRGraph:
    """Input (2, size, size) -> `layers` x [Conv2d 3x3 'same' -> IF], as a NIR graph (the conv
    path of the frontend and of fold); the last IF layer is the output."""
    rng = np.random.default_rng(seed)
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array([2, size, size]))}
    edges, prev, c_in = [], "input", 2
    for k in range(layers):
        w = rng.normal(0.1, 0.3, (channels, c_in, 3, 3))
        nodes[f"conv{k}"] = nir.Conv2d(
            input_shape=(size, size),
            weight=w,
            stride=1,
            padding=1,
            dilation=1,
            groups=1,
            bias=np.zeros(channels),
        )
        shape = (channels, size, size)
        nodes[f"if{k}"] = nir.IF(
            r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape)
        )
        edges += [(prev, f"conv{k}"), (f"conv{k}", f"if{k}")]
        prev, c_in = f"if{k}", channels
    nodes["output"] = nir.Output(output_type=np.array([channels, size, size]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def poisson(
    shape: tuple[int, ...], steps: int, batch: int, rate: float, seed: int = 1
) -> np.ndarray:
    """Bernoulli input spikes (steps, batch, *shape) with probability `rate` per step."""
    rng = np.random.default_rng(seed)
    return (rng.random((steps, batch, *shape)) < rate).astype(np.uint8)
