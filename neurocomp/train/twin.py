"""The differentiable twin of a folded network: the IR as a torch module, trainable by BPTT.

Two arithmetics, each spike for spike equal to one of the project's simulators:

- `float`: the float reference simulator (`neurocomp.sim.float_sim`), the same operations in
  the same order in float64.
- `chip`: the bit-accurate simulator of the integer program (`neurocomp.backends.reference_sim`)
  for a target's `NumberFormat`: state in integer units of each population's scale, weights and
  biases rounded to that grid and clipped to `weight_bits`, decays truncated (or floored) as the
  chip shifts, input wrapped to `activation_bits`, state saturated or wrapped at `state_bits`,
  the shifts and the synapse delay of the target.

Rounding, truncation, saturation and wrapping are straight-through estimators (the forward value
is the chip's, the gradient that of the identity); the spike is a Heaviside step whose gradient
is a fast sigmoid of the distance to threshold in units of the threshold (snnTorch's
`fast_sigmoid(slope=25)` at threshold 1). The reset is not differentiated through (snnTorch's
default). Trained are the weights and biases in float units; thresholds, resets and decays keep
their (grid) values. Pruned synapses (absent from the CSR structure) stay absent: the structure
is the mask. `to_network` writes the trained values back on the same quantization grid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from scipy import sparse

from ..ir.network import Network
from ..ir.ops import Matrix
from ..passes.fold import ensure_folded, matrix_of
from ..target.spec import NumberFormat
from . import TrainingError, require_torch

Arithmetic = Literal["float", "chip"]
DENSE_LIMIT = 1 << 22  # weight matrices with more entries are trained as sparse values
SURROGATE_SLOPE = 25.0


def _reference_format() -> NumberFormat:
    from ..target.spec import load_target

    return load_target("reference").format


def _ops() -> Any:
    """Autograd pieces built on first use (torch is imported lazily)."""
    torch = require_torch()

    class Spike(torch.autograd.Function):  # type: ignore[name-defined]
        @staticmethod
        def forward(ctx: Any, v: Any, thr: Any) -> Any:
            ctx.save_for_backward(v, thr)
            return (v > thr).to(v.dtype)

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            v, thr = ctx.saved_tensors
            ref = thr.detach().abs().clamp_min(1e-12)
            x = (v - thr) / ref
            g = grad / (ref * (1 + SURROGATE_SLOPE * x.abs()) ** 2)
            # A trained threshold moves the spike the other way (d/dthr = -d/dv).
            g_thr = -g.reshape(-1, thr.shape[-1]).sum(0) if ctx.needs_input_grad[1] else None
            return g, g_thr

    def straight(x: Any, y: Any) -> Any:
        """Forward exactly y, backward the identity on x."""
        return y.detach() + (x - x.detach())

    return torch, Spike.apply, straight


class _Layer:
    """One projection: trainable weights (dense with the structure as mask, or sparse values)."""

    def __init__(self, torch: Any, m: Matrix, dtype: Any) -> None:
        w = sparse.csr_matrix(m.weight)
        self.shape = w.shape
        self.dense = w.shape[0] * w.shape[1] <= DENSE_LIMIT
        if self.dense:
            full = w.toarray()
            self.mask = torch.from_numpy(full != 0)
            self.weight = torch.nn.Parameter(torch.from_numpy(full).to(dtype))
        else:
            coo = w.tocoo()
            self.index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
            self.weight = torch.nn.Parameter(torch.from_numpy(coo.data.copy()).to(dtype))
        self.rows = torch.from_numpy(np.repeat(np.arange(w.shape[0]), np.diff(w.indptr)))
        self.bias = (
            None
            if m.bias is None
            else torch.nn.Parameter(torch.from_numpy(np.array(m.bias, copy=True)).to(dtype))
        )
        self.in_shape, self.out_shape = m.in_shape, m.out_shape_


class Twin:
    """A folded network as torch parameters and a differentiable forward pass.

    net: the network (folded first if needed). arithmetic: "float" (equals the float simulator)
    or "chip" (equals the bit-accurate program; needs every population quantized). fmt: the
    target's number format for "chip" (default: the reference chip's arithmetic).
    """

    def __init__(
        self,
        net: Network,
        arithmetic: Arithmetic = "float",
        fmt: NumberFormat | None = None,
        thresholds: bool = False,
    ) -> None:
        torch, self._spike, self._straight = _ops()
        self.torch = torch
        self.dtype = torch.float64
        self.net, _ = ensure_folded(net)
        self.arithmetic = arithmetic
        self.fmt = fmt if fmt is not None else _reference_format()
        if arithmetic == "chip":
            missing = [p.name for p in self.net.populations if p.quant is None]
            if missing:
                raise TrainingError(
                    f"populations {missing} are not quantized: the chip twin needs quantize first"
                )
        elif arithmetic != "float":
            raise TrainingError(f"arithmetic = {arithmetic} (must be float or chip)")
        self.layers = {
            pr.name: _Layer(torch, matrix_of(pr), self.dtype) for pr in self.net.projections
        }
        self.v_bias = {
            p.name: torch.nn.Parameter(self._t(p.params.v_bias.reshape(-1)))
            for p in self.net.populations
        }
        self._neurons = {p.name: self._constants(p) for p in self.net.populations}
        self._thr_now: dict[str, Any] = {}  # this run's thresholds, where trained
        # Trained thresholds (float units, on the grid in the forward pass), by population.
        self.thresholds = {
            p.name: torch.nn.Parameter(self._t(p.params.v_threshold.reshape(-1)))
            for p in self.net.populations
            if thresholds and p.params.spiking and p.params.v_threshold is not None
        }

    # -- parameters ---------------------------------------------------------------------------
    def _t(self, a: np.ndarray) -> Any:
        # A copy: a tensor sharing the network's arrays would let training mutate the input.
        return self.torch.from_numpy(np.array(a, dtype=np.float64, copy=True))

    def parameters(self) -> list[Any]:
        """Every trainable tensor: weights, projection biases, neuron biases."""
        out = [layer.weight for layer in self.layers.values()]
        out += [layer.bias for layer in self.layers.values() if layer.bias is not None]
        return out + list(self.v_bias.values()) + list(self.thresholds.values())

    def state(self) -> list[Any]:
        """A copy of every trainable tensor (for rewinding and best-epoch selection)."""
        return [p.detach().clone() for p in self.parameters()]

    def load(self, state: list[Any]) -> None:
        with self.torch.no_grad():
            for p, s in zip(self.parameters(), state, strict=True):
                p.copy_(s)

    def _constants(self, pop: Any) -> dict[str, Any]:
        """Fixed per-neuron values in the twin's arithmetic (flat)."""
        p = pop.params
        a = {k: v.reshape(-1).astype(np.float64) for k, v in p.arrays().items()}
        c: dict[str, Any] = {"reset": p.reset, "spiking": p.spiking}
        if self.arithmetic == "float":
            c["keep_v"] = self._t(1.0 - a["dv"])
            c["keep_u"] = self._t(1.0 - a["du"]) if "du" in a else None
            c["v_gain"] = self._t(a["v_gain"])
            c["u_gain"] = self._t(a["u_gain"]) if "u_gain" in a else None
            c["v_reset"] = self._t(a["v_reset"])
            c["thr"] = self._t(a["v_threshold"]) if p.spiking else None
            return c
        q = pop.quant
        s = q.scale.reshape(-1).astype(np.float64)
        unit = 2.0**q.decay_bits
        sem = self.fmt
        c["scale"] = self._t(s)
        c["qmax"] = 2.0 ** (q.weight_bits - 1) - 1
        c["dv"] = self._t(np.round(a["dv"] * unit))
        c["du"] = self._t(np.round(a["du"] * unit)) if "du" in a else None
        c["unit"] = unit
        c["v_reset"] = self._t(np.round(a["v_reset"] / s) * 2.0**sem.weight_shift)
        c["thr"] = (
            self._t(np.round(a["v_threshold"] / s) * 2.0**sem.threshold_shift)
            if p.spiking
            else None
        )
        return c

    # -- the chip's rounding --------------------------------------------------------------------
    def _grid(self, value: Any, post: str) -> Any:
        """Integer units of `post`'s scale (chip) or the value on that grid (float, quantized)."""
        c = self._neurons[post]
        if self.arithmetic == "float":
            quant = self.net.population(post).quant
            if quant is None:
                return value
            s = self._t(quant.scale.reshape(-1))
            return self._straight(value / s, self.torch.round(value / s)) * s
        ratio = value / c["scale"]
        return self._straight(ratio, self.torch.round(ratio))

    def weight(self, name: str) -> Any:
        """Effective weight of projection `name` (post x pre, or values of its structure)."""
        layer = self.layers[name]
        pr = next(p for p in self.net.projections if p.name == name)
        quant = self.net.population(pr.post).quant
        w = layer.weight
        if quant is not None:
            s = self._t(quant.scale.reshape(-1))
            s = s[:, None] if layer.dense else s[layer.rows]
            q = self._straight(w / s, self.torch.round(w / s))
            qmax = 2.0 ** (quant.weight_bits - 1) - 1
            q = self._straight(q, q.clamp(-qmax, qmax))
            w = q if self.arithmetic == "chip" else q * s
        return w * layer.mask if layer.dense else w

    def constrain(self) -> None:
        """Clip latent weights to half a step beyond the largest integer weight: beyond that
        the straight-through clip lets them drift where the forward pass no longer follows."""
        with self.torch.no_grad():
            for pr in self.net.projections:
                quant = self.net.population(pr.post).quant
                if quant is None:
                    continue
                layer = self.layers[pr.name]
                s = self._t(quant.scale.reshape(-1))
                s = s[:, None] if layer.dense else s[layer.rows]
                lim = (2.0 ** (quant.weight_bits - 1) - 0.5) * s
                layer.weight.copy_(self.torch.maximum(self.torch.minimum(layer.weight, lim), -lim))
            for name, t in self.thresholds.items():  # at least one step of the grid
                quant = self.net.population(name).quant
                low = self._t(quant.scale.reshape(-1)) if quant is not None else 1e-6
                t.copy_(self.torch.maximum(t, low * self.torch.ones_like(t)))

    def _threshold(self, name: str) -> Any:
        """The threshold of `name` in the twin's arithmetic: fixed, or the trained one rounded
        (straight through) to its grid."""
        c = self._neurons[name]
        if name not in self.thresholds:
            return c["thr"]
        t = self.thresholds[name]
        if self.arithmetic == "float":
            return self._grid(t, name)
        return self._grid(t, name) * 2.0**self.fmt.threshold_shift

    def _overflow(self, x: Any, mode: str) -> Any:
        bits = self.fmt.state_bits
        m = 2.0 ** (bits - 1)
        if mode == "wrap":
            return self._straight(x, ((x + m - 1) % (2 * m)) - (m - 1))
        return self._straight(x, x.clamp(-(m - 1), m - 1))

    def _decay(self, x: Any, d: Any, unit: float) -> Any:
        y = x * (unit - d) / unit
        if self.fmt.decay_rounding == "floor":
            return self._straight(y, self.torch.floor(y))
        return self._straight(y, self.torch.trunc(y))

    # -- simulation -----------------------------------------------------------------------------
    def _inputs(self, x: Any) -> dict[str, Any]:
        xs = x if isinstance(x, Mapping) else {next(iter(self.net.inputs)): x}
        out = {}
        for name in self.net.inputs:
            arr = xs[name]
            t = arr if self.torch.is_tensor(arr) else self.torch.from_numpy(np.asarray(arr))
            out[name] = t.to(self.dtype).reshape(t.shape[0], t.shape[1], -1)
        return out

    def _project(self, name: str, sig: Any, weights: dict[str, Any]) -> Any:
        layer, w = self.layers[name], weights[name]
        if layer.dense:
            y = sig @ w.T
        else:
            mat = self.torch.sparse_coo_tensor(layer.index, w, layer.shape, check_invariants=False)
            y = self.torch.sparse.mm(mat, sig.T).T
        return y

    def run(self, x: Any) -> dict[str, Any]:
        """Outputs by name, (T, batch, n) tensors: spikes, or voltages in float units."""
        xs = self._inputs(x)
        steps, batch = next(iter(xs.values())).shape[:2]
        weights = {name: self.weight(name) for name in self.layers}
        biases = self._biases()
        self._thr_now = {name: self._threshold(name) for name in self.thresholds}
        v = {
            p.name: self.torch.zeros(batch, p.size, dtype=self.dtype) for p in self.net.populations
        }
        u = dict(v)
        prev = {
            n: self.torch.zeros(batch, _size(self.net, n), dtype=self.dtype)
            for n in [*self.net.inputs, *v]
        }
        incoming = {p.name: self.net.projections_into(p.name) for p in self.net.populations}
        outputs: dict[str, list[Any]] = {o: [] for o in self.net.outputs}
        delay = self.arithmetic == "chip" and self.fmt.synapse_delay > 0
        for t in range(steps):
            now = {n: a[t] for n, a in xs.items()}
            for pop in self.net.populations:
                total = self.torch.zeros(batch, pop.size, dtype=self.dtype)
                for pr in incoming[pop.name]:
                    delayed = pr.recurrent or delay
                    if delayed and t == 0:
                        continue
                    sig = self._project(pr.name, prev[pr.pre] if delayed else now[pr.pre], weights)
                    b = biases["proj"].get(pr.name)
                    total = total + (sig + b if b is not None else sig)
                step = self._float_step if self.arithmetic == "float" else self._chip_step
                now[pop.name], u[pop.name], v[pop.name] = step(
                    pop.name, total, u[pop.name], v[pop.name], biases["pop"][pop.name]
                )
            for o, src in self.net.outputs.items():
                outputs[o].append(self._readout(src, now[src]))
            prev = now
        return {
            o: self.torch.stack(seq).reshape(steps, batch, *self.net.shape_of(src))
            for (o, seq), src in zip(outputs.items(), self.net.outputs.values(), strict=True)
        }

    def _biases(self) -> dict[str, dict[str, Any]]:
        """Projection and neuron biases in the twin's arithmetic; where lowering stores a
        projection's bias as the neurons' own (`_bias_on_neurons`), it joins the neuron bias."""
        proj: dict[str, Any] = {}
        pop = {name: self._grid(b, name) for name, b in self.v_bias.items()}
        for pr in self.net.projections:
            layer = self.layers[pr.name]
            if layer.bias is None:
                continue
            b = self._grid(layer.bias, pr.post)
            if self.arithmetic == "chip" and self._bias_on_neurons(pr.post):
                pop[pr.post] = pop[pr.post] + b
            else:
                proj[pr.name] = b
        return {"proj": proj, "pop": pop}

    def _bias_on_neurons(self, post: str) -> bool:
        """Where lowering stores a projection's bias as the neurons' own: on chips without a
        bias into the current, and with `bias_to_neuron` onto neurons without a current."""
        if not self.fmt.current_bias:
            return True
        return bool(self.fmt.bias_to_neuron) and self._neurons[post]["du"] is None

    def _float_step(self, name: str, x: Any, u: Any, v: Any, bias: Any) -> tuple[Any, Any, Any]:
        c = self._neurons[name]
        if c["keep_u"] is not None:
            u = c["keep_u"] * u + c["u_gain"] * x
            drive = u
        else:
            drive = x
        v = c["keep_v"] * v + c["v_gain"] * drive + bias
        if c["thr"] is None:
            return v, u, v
        thr = self._thr_now.get(name, c["thr"])
        s = self._spike(v, thr)
        return s, u, self._reset(c, s, v, thr)

    def _chip_step(self, name: str, x: Any, u: Any, v: Any, bias: Any) -> tuple[Any, Any, Any]:
        c, sem = self._neurons[name], self.fmt
        if sem.activation_bits:
            m = 2.0 ** (sem.activation_bits - 1)
            x = self._straight(x, ((x + m) % (2 * m)) - m)
        drive = x * 2.0**sem.weight_shift
        if c["du"] is not None:
            u = self._overflow(
                self._decay(u, c["du"], c["unit"]) + drive, sem.current_overflow or sem.overflow
            )
            drive = u
        v = self._decay(v, c["dv"], c["unit"]) + drive + bias * 2.0**sem.weight_shift
        v = self._overflow(v, sem.overflow)
        if c["thr"] is None:
            return v, u, v
        thr = self._thr_now.get(name, c["thr"])
        s = self._spike(v, thr)
        return s, u, self._reset(c, s, v, thr)

    def _reset(self, c: dict[str, Any], s: Any, v: Any, thr: Any) -> Any:
        fired = s.detach()
        if c["reset"] == "zero":
            return v * (1 - fired) + fired * c["v_reset"]
        return v - fired * thr

    def _readout(self, src: str, value: Any) -> Any:
        if src in self.net.inputs or self.arithmetic == "float":
            return value
        pop = self.net.population(src)
        if pop.params.spiking:
            return value
        return value * self._neurons[src]["scale"] / 2.0**self.fmt.weight_shift

    def scores(self, x: Any, output: str | None = None) -> Any:
        """Per sample and class: the output summed over time, (batch, classes) (the logits)."""
        outs = self.run(x)
        y = outs[output] if output is not None else next(iter(outs.values()))
        return y.sum(0).reshape(y.shape[1], -1)

    # -- back to the IR -------------------------------------------------------------------------
    def to_network(self) -> Network:
        """The network with the trained weights and biases, on the quantization grid it had."""
        torch = self.torch
        with torch.no_grad():
            projections = []
            for pr in self.net.projections:
                layer = self.layers[pr.name]
                w = self._float_units(self.weight(pr.name), pr.post, layer)
                m = matrix_of(pr)
                if layer.dense:
                    weight = sparse.csr_matrix(w.numpy())
                else:
                    idx = layer.index.numpy()
                    weight = sparse.csr_matrix((w.numpy(), (idx[0], idx[1])), shape=layer.shape)
                weight.eliminate_zeros()
                weight.sort_indices()
                bias = None
                if layer.bias is not None:
                    bias = self._float_units(self._grid(layer.bias, pr.post), pr.post).numpy()
                op = Matrix(weight, m.in_shape, m.out_shape_, bias)
                projections.append(dataclasses.replace(pr, ops=(op,)))
            pops = []
            for pop in self.net.populations:
                vb = self._float_units(self._grid(self.v_bias[pop.name], pop.name), pop.name)
                params = dataclasses.replace(pop.params, v_bias=vb.numpy().reshape(pop.shape))
                if pop.name in self.thresholds:
                    thr = self._grid(self.thresholds[pop.name], pop.name)
                    thr = self._float_units(thr, pop.name).numpy().reshape(pop.shape)
                    params = dataclasses.replace(params, v_threshold=thr)
                pops.append(dataclasses.replace(pop, params=params))
        return dataclasses.replace(
            self.net, populations=tuple(pops), projections=tuple(projections)
        )

    def _float_units(self, value: Any, post: str, layer: _Layer | None = None) -> Any:
        """A chip-twin value (integer units) back in float units: integer * scale, as the
        quantize pass stores it."""
        value = value.detach().clone()
        if self.arithmetic == "float":
            return value
        s = self._t(self.net.population(post).quant.scale.reshape(-1))  # type: ignore[union-attr]
        if layer is not None:
            s = s[:, None] if layer.dense else s[layer.rows]
        return value * s


def _size(net: Network, name: str) -> int:
    return int(np.prod(net.shape_of(name), dtype=np.int64))
