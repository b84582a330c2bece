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

Lava's LIF resets v to 0, adds its bias to v only, tests v > vth and sends binary spikes. A
population with reset by subtraction, with a projection bias into its synaptic current, with the
v >= threshold test or with multi-spike neurons becomes neurocomp's own `NcLIF` instead
(`neurocomp.backends.lava_neurons.lif`: Lava's fixed-point LIF arithmetic plus those; a CPU
model, as there is no Loihi 2 microcode for it), with u_bias = the sum of those biases.

Graded spikes: a multi-spike population's NcLIF sends its spike count as an integer payload,
and every Sparse or Conv it feeds (and every one an input with values above 1 feeds) has
`num_message_bits` = the target's `spike_payload_bits`, so Lava multiplies the weights by the
payload, as neurocomp's engine does.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from ..errors import InputError, Violation
from ..ir.integer import IntNetwork, IntPopulation, IntProjection
from ..mapping import Mapping
from ..target.spec import NumberFormat
from .base import RunResult
from .bit_accurate import integer_inputs
from .counting import graded_inputs
from .lava_compat import fork_start_method, import_lava


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
        out += _sigma_delta_violations(p)
        if p.graded and fmt.spike_payload_bits == 0:
            out.append(
                Violation(
                    p.name,
                    "spikes per step (Lava engine)",
                    "no cap" if p.max_spikes is None else f"up to {p.max_spikes}",
                    1,
                    "graded spikes need a payload: the target declares spike_payload_bits = 0",
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


def _sigma_delta_violations(p: IntPopulation) -> list[Violation]:
    """Lava's SigmaDelta takes one vth per process: one per population here."""
    if p.sigma_delta is None or p.threshold is None or not p.size:
        return []
    if np.all(p.threshold == p.threshold[0]):
        return []
    return [
        Violation(
            p.name,
            "sigma-delta vth",
            f"{np.unique(p.threshold).size} values",
            1,
            "Lava's SigmaDelta takes one vth per process",
        )
    ]


def _sigma_delta_process(p: IntPopulation, batch: int, name: str) -> Any:
    """Lava's own SigmaDelta (fixed-point model) for a sigma-delta population, the batch side
    by side: vth, bias and state_exp as neurocomp's integers (the process scales the vth and
    bias it is given by 2**state_exp; these registers are set to the integers directly)."""
    from lava.proc.sdn.process import ActivationMode, SigmaDelta

    assert p.threshold is not None
    mode = ActivationMode.RELU if p.sigma_delta == "relu" else ActivationMode.UNIT
    proc = SigmaDelta(
        shape=(p.size * batch,), vth=0, bias=0, act_mode=mode, state_exp=p.state_exp, name=name
    )
    proc.vth.init = np.array([int(p.threshold[0])], np.int32)
    proc.bias.init = np.tile(p.bias, batch).astype(np.int32)
    return proc


def _bridged(anchor: Any, processes: Iterable[Any]) -> list[Any]:
    """Tie every process to `anchor`'s network; returns the ties made.

    Lava compiles and runs only the processes connected to the one `run` is called on. A group
    that no synapse reaches (every weight into it zero) and feeds no other would be left out, and
    its sink and monitor read back as their initial zeros. Each such part of the network gets an
    all-zero Dense from `anchor` into one of its processes: it adds nothing to any voltage."""
    from lava.magma.compiler.compiler_graphs import find_processes
    from lava.proc.dense.process import Dense

    reached = {id(q) for q in find_processes(anchor)}
    ties = []
    for proc in processes:
        if id(proc) in reached:
            continue
        reached |= {id(q) for q in find_processes(proc)}  # its part, before the tie joins them
        tie = Dense(weights=np.zeros((proc.a_in.shape[0], anchor.s_out.shape[0]), np.int32))
        anchor.s_out.connect(tie.s_in)
        tie.a_out.connect(proc.a_in)
        ties.append(tie)
    return ties


def _own(net: IntNetwork, p: IntPopulation, graded: Collection[str]) -> bool:
    """Whether `p` needs neurocomp's NcLIF (what Lava's LIF cannot express). Graded input
    also takes it: its synaptic input can pass 16 bits, and NcLIF wraps it to a_in's int16
    as neurocomp's engine does (`activation_bits`), where Lava's LIF keeps int32."""
    if _current_bias(net, p.name) is not None:
        return True
    if any(pr.pre in graded for pr in net.projections_into(p.name)):
        return True
    return p.spiking and (p.reset == "subtract" or p.inclusive or p.max_spikes != 1)


@dataclass
class _Group:
    population: str
    index: np.ndarray  # neuron indices of the population in this group
    du: int
    dv: int
    vth: int


def _current_bias(net: IntNetwork, name: str) -> np.ndarray | None:
    """Summed projection biases into population `name`'s synaptic input; None if there are none."""
    total = None
    for pr in net.projections_into(name):
        if pr.bias is not None and np.any(pr.bias != 0):
            total = pr.bias.astype(np.int64) if total is None else total + pr.bias
    return total


def _groups(p: IntPopulation, widths: LavaWidths) -> list[_Group]:
    if p.sigma_delta is not None:  # one SigmaDelta process: vth is one value (violations)
        assert p.threshold is not None
        return [_Group(p.name, np.arange(p.size), 0, 0, int(p.threshold[0]) if p.size else 0)]
    du = p.du - 1 if p.du is not None else np.full(p.size, widths.decay_max)
    vth = p.threshold if p.threshold is not None else np.full(p.size, widths.vth_max)
    keys = np.stack([du, p.dv, vth], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    return [
        _Group(p.name, np.flatnonzero(inverse.reshape(-1) == k), int(u[0]), int(u[1]), int(u[2]))
        for k, u in enumerate(uniq)
    ]


def binary_inputs(net: IntNetwork, x: Any, payload_bits: int = 0) -> dict[str, np.ndarray]:
    """Input spikes checked as the Lava engine takes them, (T, batch, n) per input: 0/1, or
    graded values 0 .. 2**payload_bits - 1 where the target declares a spike payload."""
    xs = integer_inputs(net, x)
    top = (1 << payload_bits) - 1 if payload_bits > 0 else 1
    for name, arr in xs.items():
        if arr.size and (arr.min() < 0 or arr.max() > top):
            kind = "binary spikes (0/1)" if top == 1 else f"graded spikes 0..{top}"
            limit = "" if top == 1 else f" ({payload_bits}-bit spike payload)"
            raise InputError(
                f"input '{name}': the Lava engine takes {kind}{limit}; "
                f"got values in [{arr.min()}, {arr.max()}]"
            )
    return xs


def _synapses(
    pr: IntProjection,
    rows: np.ndarray,
    cols: np.ndarray,
    batch: int,
    widths: LavaWidths,
    name: str,
    message_bits: int = 0,
) -> Any:
    """The Sparse process (DelaySparse with delays) of synapses rows x cols of `pr`, for the
    whole batch (block-diagonal); None when there are none. `message_bits` > 0: graded spikes
    (Lava multiplies the weights by each spike's payload)."""
    from lava.proc.sparse.process import DelaySparse, Sparse

    w = sparse.csr_matrix(pr.weight[rows][:, cols])
    if w.nnz == 0:
        return None
    eye = sparse.identity(batch, dtype=np.int64, format="csr")
    big = sparse.kron(eye, 2 * w, format="csr")
    kw = {"weights": big, "weight_exp": -1, "num_weight_bits": widths.weight_bits, "name": name}
    if message_bits:  # Lava's default stays out of binary networks' processes
        kw["num_message_bits"] = message_bits
    if pr.delay is not None:
        d = sparse.kron(eye, sparse.csr_matrix(pr.delay[rows][:, cols]), format="csr")
        d.eliminate_zeros()
        if d.nnz:  # Lava's delay d: the spike arrives d steps after Sparse's one
            return DelaySparse(delays=d, **kw)
    return Sparse(**kw)


class LavaNetwork:
    """The Lava processes of one program for one batch, ready to run for T steps."""

    def __init__(
        self,
        net: IntNetwork,
        fmt: NumberFormat,
        batch: int,
        record: bool = False,
        graded_inputs: frozenset[str] = frozenset(),
    ) -> None:
        import_lava()
        from lava.proc.lif.process import LIF

        from .lava_neurons.lif import NcLIF

        self.net, self.batch = net, batch
        widths = LavaWidths.of(fmt)
        graded = graded_inputs | {p.name for p in net.populations if p.graded}
        self.payload_bits = fmt.spike_payload_bits
        self.groups = {p.name: _groups(p, widths) for p in net.populations}
        self.lif: dict[tuple[str, int], Any] = {}
        for p in net.populations:
            if p.sigma_delta is not None:
                self.lif[(p.name, 0)] = _sigma_delta_process(p, batch, f"{p.name}#0")
                continue
            u_bias = _current_bias(net, p.name)
            own = _own(net, p, graded)
            for k, g in enumerate(self.groups[p.name]):
                n = g.index.size * batch
                kw: dict[str, Any] = {
                    "shape": (n,),
                    "du": g.du,
                    "dv": g.dv,
                    "vth": g.vth,
                    "bias_mant": np.tile(p.bias[g.index], batch),
                    "bias_exp": np.full(n, widths.bias_exp),
                    "name": f"{p.name}#{k}",
                }
                if own:
                    kw["subtract"] = p.spiking and p.reset == "subtract"
                    kw["inclusive"] = p.spiking and p.inclusive
                    if p.graded:
                        kw["max_spikes"] = p.max_spikes or 0
                    if u_bias is not None:
                        kw["u_bias"] = np.tile(u_bias[g.index], batch)
                self.lif[(p.name, k)] = (NcLIF if own else LIF)(**kw)
        self.sources: dict[str, Any] = {}
        self.sparse = []
        for pr in net.projections:
            pre_parts = self._parts(pr.pre)
            bits = fmt.spike_payload_bits if pr.pre in graded else 0
            if self._conv(pr, pre_parts, bits):
                continue
            for k, g in enumerate(self.groups[pr.post]):
                for port, cols in pre_parts:
                    name = f"{pr.name}->{pr.post}#{k}"
                    syn = _synapses(pr, g.index, cols, batch, widths, name, bits)
                    if syn is None:
                        continue
                    port.connect(syn.s_in)
                    syn.a_out.connect(self.lif[(pr.post, k)].a_in)
                    self.sparse.append(syn)
        self.record = record
        self.run_cfg: Any = None  # default: Loihi2SimCfg(select_tag="fixed_pt")

    def _conv(
        self, pr: IntProjection, pre_parts: list[tuple[Any, np.ndarray]], message_bits: int = 0
    ) -> bool:
        """Emit `pr` as one Lava Conv (its kernel shared, the batch as groups) when it is a
        convolution between single processes; False when it must be expanded into Sparse."""
        if pr.conv is None or pr.delay is not None:
            return False
        if len(pre_parts) != 1 or len(self.groups[pr.post]) != 1:
            return False
        from lava.proc.conv.process import Conv

        c, b = pr.conv, self.batch
        graded = {"num_message_bits": message_bits} if message_bits else {}
        ch, h, w = c.in_shape
        oc, oh, ow = c.out_shape
        # Lava: (X, Y, C) = (W, H, C) layout, kernel (C_out, kW, kH, C_in), true convolution
        kernel = c.kernel.transpose(0, 3, 2, 1)[:, ::-1, ::-1]
        conv = Conv(
            weight=np.ascontiguousarray(np.concatenate([kernel] * b, axis=0)),
            input_shape=(w, h, b * ch),
            padding=c.padding[::-1],
            stride=c.stride[::-1],
            dilation=c.dilation[::-1],
            groups=c.groups * b,
            name=f"{pr.name}->{pr.post}#0",
            **graded,
        )
        port, _ = pre_parts[0]

        def to_lava(p: Any) -> Any:
            return p.reshape((b, ch, h, w)).transpose([3, 2, 0, 1]).reshape((w, h, b * ch))

        if isinstance(port, _Deferred):
            _Deferred(self, port.name, to_lava).connect(conv.s_in)
        else:
            to_lava(port).connect(conv.s_in)
        out = conv.a_out.reshape((ow, oh, b, oc)).transpose([2, 3, 1, 0])
        out.reshape((b * oc * oh * ow,)).connect(self.lif[(pr.post, 0)].a_in)
        self.sparse.append(conv)
        return True

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
            for view, port in pending or []:
                _view(src.s_out, view).connect(port)
            self.sources[name] = src
        sinks, monitors = {}, {}
        for (name, k), lif in self.lif.items():
            pop = self.net.population(name)
            if pop.spiking:
                sinks[(name, k)] = Sink(shape=lif.s_out.shape, buffer=steps)
                lif.s_out.connect(sinks[(name, k)].a_in)
            if not pop.spiking or self.record:
                monitors[(name, k)] = Monitor()
                monitors[(name, k)].probe(_state_var(lif, pop), steps)
        anchor = next(iter(self.lif.values()))
        self.bridges = _bridged(anchor, self.lif.values())
        cfg = self.run_cfg or Loihi2SimCfg(select_tag="fixed_pt")
        phases = [warmup, steps - warmup] if 0 < warmup < steps else [steps]
        self.timings: dict[str, float] = {}
        with fork_start_method():
            for key, n in zip(("start_s", "steady_s"), phases, strict=False):
                t = time.perf_counter()
                anchor.run(condition=RunSteps(num_steps=n), run_cfg=cfg)
                self.timings[key] = time.perf_counter() - t
            try:
                spikes = {k: s.data.get().astype(np.int64) for k, s in sinks.items()}
                volts = {
                    k: m.get_data()[self.lif[k].name][
                        _state_var(self.lif[k], self.net.population(k[0])).name
                    ].astype(np.int64)
                    for k, m in monitors.items()
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


def _state_var(proc: Any, pop: IntPopulation) -> Any:
    """The Var recorded as a population's v: LIF's voltage, SigmaDelta's activation."""
    return proc.act if pop.sigma_delta is not None else proc.v


class _Deferred:
    """An input port to connect once the input's RingBuffer exists (it needs the data)."""

    def __init__(self, owner: LavaNetwork, name: str, view: Any = None) -> None:
        self.owner, self.name, self.view = owner, name, view

    def connect(self, port: Any) -> None:
        pending = self.owner.sources.get(self.name) or []
        pending.append((self.view, port))
        self.owner.sources[self.name] = pending


def _view(port: Any, view: Any) -> Any:
    """`port`, or the virtual port `view` makes of it (a reshape and transpose)."""
    return port if view is None else view(port)


def run_lava(net: IntNetwork, x: Any, fmt: NumberFormat, record: bool = False) -> dict[str, Any]:
    """Run `net` on input spikes x (T, batch, *shape) in Lava; integer spikes and voltages."""
    lava_net, xs = network_for(net, x, fmt, record=record)
    return lava_net.run(xs)


def network_for(
    net: IntNetwork, x: Any, fmt: NumberFormat, record: bool = False
) -> tuple[LavaNetwork, dict[str, np.ndarray]]:
    """The checked inputs and the Lava network for them (graded where an input exceeds 1)."""
    xs = binary_inputs(net, x, fmt.spike_payload_bits)
    batch = next(iter(xs.values())).shape[1]
    return LavaNetwork(net, fmt, batch, record=record, graded_inputs=graded_inputs(xs)), xs


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
    spikes = {
        k: v if net.population(k).graded else v.astype(np.uint8) for k, v in raw["spikes"].items()
    }
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
