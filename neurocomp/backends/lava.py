"""Emit a compiled program as Lava processes and run them in Lava's bit-accurate simulation.

Each population becomes LIF processes (one per group of neurons sharing du, dv and vth: Lava's
LIF takes those as scalars); each projection becomes Sparse processes between the groups it
connects. A batch runs as one Lava network: every process is replicated per sample, and the
synapses are block-diagonal (kron(I_batch, W)), so one Lava run serves the whole batch.

Encoding of neurocomp's integers (weights w, threshold th, bias b, decays du, dv in units of
2**-decay_bits; every width from the target's NumberFormat, see `LavaWidths`):
  Sparse weights 2*w with weight_exp = -1 (Lava stores mixed-sign weights as even values),
  LIF vth = th, bias_mant = b with bias_exp = weight_shift (the synaptic input is shifted, the
  bias is not), du register = du - 1 (Lava adds 1), dv register = dv, the largest decay for no
  current stage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from ..errors import InputError, Violation
from ..ir.integer import IntNetwork, IntPopulation
from ..mapping import Mapping
from ..target.spec import NumberFormat
from .base import RunResult
from .bit_accurate import integer_inputs
from .lava_compat import import_lava


@dataclass(frozen=True, kw_only=True)
class LavaWidths:
    """Register values of Lava's LIF and Sparse processes, derived from the target's formats."""

    bias_exp: int  # bias_mant << bias_exp: the bias in the state's scale, like the synaptic input
    vth_max: int  # the largest threshold register (no threshold: never spikes)
    decay_max: int  # the largest du/dv register (2**decay_bits - 1)
    weight_bits: int  # Sparse num_weight_bits

    @classmethod
    def of(cls, fmt: NumberFormat) -> LavaWidths:
        return cls(
            bias_exp=fmt.weight_shift,
            vth_max=2**fmt.threshold_bits - 1,
            decay_max=2**fmt.decay_bits - 1,
            weight_bits=fmt.weight_bits,
        )


def violations(net: IntNetwork, fmt: NumberFormat) -> list[Violation]:
    """What Lava's LIF and Sparse processes cannot express exactly."""
    decay_max = LavaWidths.of(fmt).decay_max
    out = []
    for p in net.populations:
        if np.any(p.dv > decay_max):
            out.append(
                Violation(
                    p.name,
                    "voltage decay (dv)",
                    int(p.dv.max()),
                    decay_max,
                    "Lava LIF keeps some voltage every step",
                )
            )
        if p.du is not None and np.any(p.du < 1):
            out.append(
                Violation(
                    p.name,
                    "current decay (du)",
                    int(p.du.min()),
                    ">= 1",
                    f"Lava LIF decays the current by at least 1/{decay_max + 1}",
                )
            )
    return out


@dataclass
class _Group:
    population: str
    index: np.ndarray  # neuron indices of the population in this group
    du: int
    dv: int
    vth: int


def _groups(p: IntPopulation, widths: LavaWidths) -> list[_Group]:
    du = p.du - 1 if p.du is not None else np.full(p.size, widths.decay_max)
    vth = p.threshold if p.threshold is not None else np.full(p.size, widths.vth_max)
    keys = np.stack([du, p.dv, vth], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    return [
        _Group(p.name, np.flatnonzero(inverse.reshape(-1) == k), int(u[0]), int(u[1]), int(u[2]))
        for k, u in enumerate(uniq)
    ]


def binary_inputs(net: IntNetwork, x: Any) -> dict[str, np.ndarray]:
    """Input spikes checked as the Lava engine takes them: 0/1, (T, batch, n) per input."""
    xs = integer_inputs(net, x)
    for name, arr in xs.items():
        if arr.min() < 0 or arr.max() > 1:
            raise InputError(
                f"input '{name}': the Lava engine takes binary spikes (0/1); "
                f"got values in [{arr.min()}, {arr.max()}]"
            )
    return xs


class LavaNetwork:
    """The Lava processes of one program for one batch, ready to run for T steps."""

    def __init__(
        self, net: IntNetwork, fmt: NumberFormat, batch: int, record: bool = False
    ) -> None:
        import_lava()
        from lava.proc.lif.process import LIF
        from lava.proc.sparse.process import Sparse

        self.net, self.batch = net, batch
        widths = LavaWidths.of(fmt)
        self.groups = {p.name: _groups(p, widths) for p in net.populations}
        self.lif: dict[tuple[str, int], Any] = {}
        for p in net.populations:
            for k, g in enumerate(self.groups[p.name]):
                n = g.index.size * batch
                bias = np.tile(p.bias[g.index], batch)
                self.lif[(p.name, k)] = LIF(
                    shape=(n,),
                    du=g.du,
                    dv=g.dv,
                    vth=g.vth,
                    bias_mant=bias,
                    bias_exp=np.full(n, widths.bias_exp),
                    name=f"{p.name}#{k}",
                )
        self.sources: dict[str, Any] = {}
        self.sparse = []
        for pr in net.projections:
            pre_parts = self._parts(pr.pre)
            for k, g in enumerate(self.groups[pr.post]):
                rows = pr.weight[g.index]
                for port, cols in pre_parts:
                    w = sparse.csr_matrix(rows[:, cols])
                    if w.nnz == 0:
                        continue
                    big = sparse.kron(
                        sparse.identity(batch, dtype=np.int64, format="csr"), 2 * w, format="csr"
                    )
                    syn = Sparse(
                        weights=big,
                        weight_exp=-1,
                        num_weight_bits=widths.weight_bits,
                        name=f"{pr.name}->{pr.post}#{k}",
                    )
                    port.connect(syn.s_in)
                    syn.a_out.connect(self.lif[(pr.post, k)].a_in)
                    self.sparse.append(syn)
        self.record = record
        self.run_cfg: Any = None  # default: Loihi2SimCfg(select_tag="fixed_pt")

    def _parts(self, pre: str) -> list[tuple[Any, np.ndarray]]:
        """(out port, pre neuron indices) for every process carrying `pre`'s spikes."""
        if pre in self.net.inputs:
            if pre not in self.sources:
                self.sources[pre] = None  # created in run() when the data is known
            return [(_Deferred(self, pre), np.arange(self.net.size_of(pre)))]
        return [(self.lif[(pre, k)].s_out, g.index) for k, g in enumerate(self.groups[pre])]

    def run(self, xs: dict[str, np.ndarray], warmup: int = 0) -> dict[str, Any]:
        """Run all steps; returns per population (T, batch, n) spikes and voltages.

        With `warmup` > 0 the run is two Lava runs, the first `warmup` steps (which include
        Lava's compile and process start-up) and then the rest; their wall times (seconds) are
        left in `self.timings` as ``start_s`` and ``steady_s``."""
        import_lava()
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.io.sink import RingBuffer as Sink
        from lava.proc.io.source import RingBuffer as Source
        from lava.proc.monitor.process import Monitor

        steps = next(iter(xs.values())).shape[0]
        for name, pending in list(self.sources.items()):
            data = xs[name].reshape(steps, -1)  # (T, batch * n): sample-major like the kron
            src = Source(data=data.T.astype(np.int32))
            for port in pending or []:
                src.s_out.connect(port)
            self.sources[name] = src
        sinks, monitors = {}, {}
        for (name, k), lif in self.lif.items():
            pop = self.net.population(name)
            if pop.spiking:
                sinks[(name, k)] = Sink(shape=lif.s_out.shape, buffer=steps)
                lif.s_out.connect(sinks[(name, k)].a_in)
            if not pop.spiking or self.record:
                monitors[(name, k)] = Monitor()
                monitors[(name, k)].probe(lif.v, steps)
        anchor = next(iter(self.lif.values()))
        cfg = self.run_cfg or Loihi2SimCfg(select_tag="fixed_pt")
        phases = [warmup, steps - warmup] if 0 < warmup < steps else [steps]
        self.timings: dict[str, float] = {}
        for key, n in zip(("start_s", "steady_s"), phases, strict=False):
            t = time.perf_counter()
            anchor.run(condition=RunSteps(num_steps=n), run_cfg=cfg)
            self.timings[key] = time.perf_counter() - t
        try:
            spikes = {k: s.data.get().astype(np.int64) for k, s in sinks.items()}
            volts = {
                k: m.get_data()[self.lif[k].name]["v"].astype(np.int64) for k, m in monitors.items()
            }
        finally:
            anchor.stop()
        return self._assemble(spikes, volts, steps)

    def _assemble(
        self, spikes: dict[Any, np.ndarray], volts: dict[Any, np.ndarray], steps: int
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"spikes": {}, "v": {}}
        for p in self.net.populations:
            for key, store, src in (("spikes", out["spikes"], spikes), ("v", out["v"], volts)):
                if not any((p.name, k) in src for k in range(len(self.groups[p.name]))):
                    continue
                full = np.zeros((steps, self.batch, p.size), np.int64)
                for k, g in enumerate(self.groups[p.name]):
                    if (p.name, k) not in src:
                        continue
                    data = src[(p.name, k)]  # sink: (n, T); monitor: (T, n)
                    data = data.T if key == "spikes" else data
                    full[:, :, g.index] = data.reshape(steps, self.batch, g.index.size)
                store[p.name] = full
        return out


class _Deferred:
    """An input port to connect once the input's RingBuffer exists (it needs the data)."""

    def __init__(self, owner: LavaNetwork, name: str) -> None:
        self.owner, self.name = owner, name

    def connect(self, port: Any) -> None:
        pending = self.owner.sources.get(self.name) or []
        pending.append(port)
        self.owner.sources[self.name] = pending


def run_lava(net: IntNetwork, x: Any, fmt: NumberFormat, record: bool = False) -> dict[str, Any]:
    """Run `net` on input spikes x (T, batch, *shape) in Lava; integer spikes and voltages."""
    xs = binary_inputs(net, x)
    batch = next(iter(xs.values())).shape[1]
    lava_net = LavaNetwork(net, fmt, batch, record=record)
    return lava_net.run(xs)


def as_result(net: IntNetwork, x: Any, raw: dict[str, Any], fmt: NumberFormat) -> RunResult:
    """Lava's integer spikes and voltages as the `RunResult` every engine returns."""
    outs = {}
    shift = 1 << fmt.weight_shift
    for name, src in net.outputs.items():
        shape = net.shape_of(src)
        if src in net.inputs:
            outs[name] = np.asarray(x if not isinstance(x, dict) else x[src])
            continue
        pop = net.population(src)
        data = raw["spikes"][src] if pop.spiking else raw["v"][src] * (pop.scale / shift)
        outs[name] = data.reshape(data.shape[0], data.shape[1], *shape)
    spikes = {k: v.astype(np.uint8) for k, v in raw["spikes"].items()}
    return RunResult(outputs=outs, spikes=spikes, v=raw["v"])


class LavaBackend:
    """Lava's bit-accurate CPU simulation of the emitted processes ("lava"); counts no events."""

    name = "lava"

    def violations(self, net: IntNetwork, fmt: NumberFormat) -> list[Violation]:
        return violations(net, fmt)

    def run(
        self,
        net: IntNetwork,
        x: Any,
        fmt: NumberFormat,
        *,
        mapping: Mapping | None = None,
        record: bool = False,
    ) -> RunResult:
        return as_result(net, x, run_lava(net, x, fmt, record=record), fmt)


ENGINE = LavaBackend()
