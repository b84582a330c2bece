"""The discrete-time, hardware-neutral network every stage after the frontend works on.

One neuron model covers every NIR neuron once time is discretised (one step = `dt` seconds)::

    u[t] = (1 - du) * u[t-1] + u_gain * x[t]          (current stage; skipped when du is None)
    v[t] = (1 - dv) * v[t-1] + v_gain * u[t] + v_bias (u[t] := x[t] without a current stage)
    s[t] = v[t] > v_threshold                         (strict, as NIR; no threshold: no spikes)
    v[t] = v_reset where s[t]            (reset "zero")
    v[t] = v[t] - v_step * s[t]          (reset "subtract"; v_step defaults to v_threshold)

Three options cover what NIR exporters' frameworks do beyond NIR's equations (see
`neurocomp.frontend.conventions`):

- `max_spikes` (1, an int k, or None for no cap): a multi-spike neuron emits
  s[t] = min(k, floor(v[t] / v_threshold)) spikes once it crosses (at least 1), and reset
  "subtract" removes s[t] * v_step (Sinabs MultiSpike, Rockpool max_spikes_per_dt);
- `inclusive`: the crossing test is v[t] >= v_threshold (Sinabs, Rockpool);
- `spike_first`: s[t] is decided from v[t-1], before this step's update, and the reset is
  applied after it (Spyx). Such a population's spikes of step t are known at the start of step
  t, so every projection from it, recurrent ones included, delivers this step's spikes.

`x[t]` is the sum of every projection into the population at step t. A population outputs its
spikes, or its voltage `v` when it does not spike (LI, CubaLI, I readouts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import GraphError, ShapeError
from .ops import Op, Shape

ResetMode = Literal["zero", "subtract"]
RESET_MODES: tuple[str, ...] = ("zero", "subtract")


@dataclass(frozen=True, eq=False)
class NeuronParams:
    """Per-neuron parameters of the discrete model above, each an array of the population shape."""

    dv: np.ndarray  # voltage decay per step, 0 (no leak) .. 1 (no memory)
    v_gain: np.ndarray
    v_bias: np.ndarray
    v_reset: np.ndarray
    v_threshold: np.ndarray | None = None  # None: a non-spiking population that outputs v
    du: np.ndarray | None = None  # None: no current stage
    u_gain: np.ndarray | None = None
    reset: ResetMode = "zero"
    max_spikes: int | None = 1  # spikes per neuron and step; None: no cap
    inclusive: bool = False  # spike at v >= v_threshold instead of v > v_threshold
    spike_first: bool = False  # spike decided from the previous step's v (Spyx)
    v_step: np.ndarray | None = None  # subtracted per spike (reset "subtract"); None: v_threshold
    # Sigma-delta neurons ("relu" or "unit" activation; `neurocomp.ir.sigma_delta`): v_threshold
    # is the send threshold vth, v_bias the activation bias, and each payload counts
    # `payload_unit` state units (dv, v_reset, reset unused). None: the model above.
    sigma_delta: str | None = None
    payload_unit: float | None = None

    @property
    def spiking(self) -> bool:
        return self.v_threshold is not None

    @property
    def multi_spike(self) -> bool:
        """True when a neuron may emit more than one spike per step."""
        return self.spiking and self.max_spikes != 1

    def departures(self) -> list[str]:
        """The options above that NIR's own equations do not have, in words (empty: plain NIR)."""
        out = []
        if self.multi_spike:
            cap = "no cap" if self.max_spikes is None else f"at most {self.max_spikes}"
            out.append(f"multi-spike ({cap} per step)")
        if self.inclusive:
            out.append("spikes at v >= threshold")
        if self.spike_first:
            out.append("spike decided before the update")
        if self.v_step is not None:
            out.append("reset subtracts v_step, not the threshold")
        if self.sigma_delta is not None:
            out.append(f"sigma-delta ({self.sigma_delta}, signed graded payloads)")
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """The parameter arrays that are present, by name."""
        names = ("dv", "v_gain", "v_bias", "v_reset", "v_threshold", "du", "u_gain", "v_step")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


@dataclass(frozen=True, eq=False)
class QuantInfo:
    """How a quantized population's values map to integers: value = integer * scale.

    `scale` (per neuron, in state units per integer step) applies to the neuron's state, threshold,
    reset, bias and to the weights of every synapse onto it; decays are multiples of
    2**-decay_bits. Widths are in bits, signed.
    """

    scale: np.ndarray
    weight_bits: int
    state_bits: int
    decay_bits: int
    overflow: Literal["saturate", "wrap"] = "saturate"


@dataclass(frozen=True, eq=False)
class Population:
    """A group of neurons sharing one model; `kind` is the NIR type it was lowered from."""

    name: str
    shape: Shape
    kind: str
    params: NeuronParams
    quant: QuantInfo | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from `pre` (a population or a network input) to `post`, as a chain of operators.

    A `recurrent` projection delivers at step t what `pre` emitted at step t-1 (nothing at step
    0, bias included): that is how cycles in the graph are broken, as NIR's PyTorch importers do.
    """

    name: str
    pre: str
    post: str
    ops: tuple[Op, ...]
    recurrent: bool = False

    def synapses(self, in_shape: Shape) -> int:
        """Number of synaptic connections (non-zero weights, or kernel taps for conv/pool)."""
        total, shape = 0, in_shape
        for op in self.ops:
            total += op.synapses(shape)
            shape = op.out_shape(shape)
        return total if total else int(np.prod(shape, dtype=np.int64))

    def out_shape(self, in_shape: Shape) -> Shape:
        shape = in_shape
        for op in self.ops:
            shape = op.out_shape(shape)
        return shape


@dataclass(frozen=True, eq=False)
class Network:
    """Inputs, populations in evaluation order, projections, and named outputs.

    `dt` is the time step in seconds the network was discretised with (None when no neuron in it
    depends on time). Construction validates names, references, shapes and evaluation order.
    """

    inputs: Mapping[str, Shape]
    populations: tuple[Population, ...]
    projections: tuple[Projection, ...]
    outputs: Mapping[str, str]  # output name -> population or input name
    dt: float | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    # -- lookup -------------------------------------------------------------------------------
    def population(self, name: str) -> Population:
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(name)

    def shape_of(self, name: str) -> Shape:
        """Shape of a population or input (batch excluded)."""
        if name in self.inputs:
            return tuple(self.inputs[name])
        return self.population(name).shape

    def projections_into(self, post: str) -> list[Projection]:
        return [p for p in self.projections if p.post == post]

    @property
    def neurons(self) -> int:
        return sum(p.size for p in self.populations)

    @property
    def synapses(self) -> int:
        return sum(pr.synapses(self.shape_of(pr.pre)) for pr in self.projections)

    # -- validation ---------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise GraphError or ShapeError unless the network is well formed."""
        names = list(self.inputs) + [p.name for p in self.populations]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise GraphError(f"duplicate population or input name(s): {sorted(dup)}")
        position = {p.name: i for i, p in enumerate(self.populations)}
        for pop in self.populations:
            _check_parameter_shapes(pop)
        for proj in self.projections:
            self._check_projection(proj, position)
        for out, src in self.outputs.items():
            if src not in self.inputs and src not in position:
                raise GraphError(f"output '{out}' references unknown '{src}'")

    def _check_projection(self, proj: Projection, position: dict[str, int]) -> None:
        """Ends known, shapes agreeing, and read in the same step only when evaluated after."""
        for end in (proj.pre, proj.post):
            if end not in self.inputs and end not in position:
                raise GraphError(f"projection '{proj.name}' references unknown '{end}'")
        if proj.post in self.inputs:
            raise GraphError(f"projection '{proj.name}' targets input '{proj.post}'")
        got = proj.out_shape(self.shape_of(proj.pre))
        want = self.shape_of(proj.post)
        if tuple(got) != tuple(want):
            raise ShapeError(
                f"projection '{proj.name}' ({proj.pre} -> {proj.post}) produces shape "
                f"{tuple(got)}, '{proj.post}' has shape {tuple(want)}"
            )
        pre_pos = position.get(proj.pre, -1)
        if not proj.recurrent and pre_pos >= position[proj.post]:
            raise GraphError(
                f"projection '{proj.name}' reads '{proj.pre}' in the same step but "
                f"'{proj.pre}' is evaluated after '{proj.post}': mark it recurrent"
            )

    # -- presentation -------------------------------------------------------------------------
    def layer_table(self) -> list[dict[str, Any]]:
        """One row per population: name, kind, shape, neurons, incoming synapses."""
        rows: list[dict[str, Any]] = []
        for pop in self.populations:
            incoming = self.projections_into(pop.name)
            syn = sum(pr.synapses(self.shape_of(pr.pre)) for pr in incoming)
            rows.append(
                {
                    "name": pop.name,
                    "kind": pop.kind,
                    "shape": list(pop.shape),
                    "neurons": pop.size,
                    "synapses_in": syn,
                    "from": [pr.pre + (" (recurrent)" if pr.recurrent else "") for pr in incoming],
                }
            )
        return rows

    def summary(self) -> str:
        """A readable multi-line summary: inputs, each population, totals."""
        lines = [f"Network: {self.neurons} neurons, {self.synapses} synapses, dt = {self.dt} s"]
        for name, shape in self.inputs.items():
            lines.append(f"  input  {name:<16} shape {tuple(shape)}")
        for row in self.layer_table():
            lines.append(
                f"  {row['kind']:<9} {row['name']:<16} shape {tuple(row['shape'])!s:<14} "
                f"neurons {row['neurons']:<8} synapses in {row['synapses_in']}"
            )
        for out, src in self.outputs.items():
            lines.append(f"  output {out:<16} <- {src}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from ..present.html import table

        rows = [
            [
                r["name"],
                r["kind"],
                tuple(r["shape"]),
                r["neurons"],
                r["synapses_in"],
                ", ".join(r["from"]),
            ]
            for r in self.layer_table()
        ]
        return table(
            f"Network: {self.neurons} neurons, {self.synapses} synapses, dt = {self.dt} s",
            ["layer", "kind", "shape", "neurons", "synapses in", "from"],
            rows,
            f"inputs {dict(self.inputs)}; outputs {dict(self.outputs)}",
        )


def _check_parameter_shapes(pop: Population) -> None:
    mx = pop.params.max_spikes
    if mx is not None and (isinstance(mx, bool) or not isinstance(mx, int) or mx < 1):
        raise GraphError(
            f"population '{pop.name}': max_spikes = {mx!r}, must be an int >= 1 or None"
        )
    _check_sigma_delta(pop)
    arrays = dict(pop.params.arrays())
    if pop.quant is not None:
        arrays["quant.scale"] = pop.quant.scale
    for key, arr in arrays.items():
        if arr.shape != pop.shape:
            raise ShapeError(
                f"population '{pop.name}': parameter {key} has shape {arr.shape}, "
                f"population shape is {pop.shape}"
            )


def _check_sigma_delta(pop: Population) -> None:
    """A sigma-delta population needs its activation, a send threshold and a payload unit."""
    p = pop.params
    if p.sigma_delta is None:
        return
    where = f"population '{pop.name}'"
    if p.sigma_delta not in ("relu", "unit"):
        raise GraphError(f"{where}: sigma_delta = {p.sigma_delta!r}, must be 'relu' or 'unit'")
    if p.v_threshold is None or p.du is not None or p.max_spikes != 1 or p.spike_first:
        raise GraphError(
            f"{where}: a sigma-delta population needs v_threshold (its send threshold), no "
            "current stage, max_spikes = 1 and no spike_first"
        )
    unit = p.payload_unit
    if unit is None or not (isinstance(unit, (int, float)) and np.isfinite(unit) and unit > 0):
        raise GraphError(f"{where}: payload_unit = {unit!r}, must be a finite number > 0")


def _back_edges(
    nodes: list[str], inputs: list[str], edges: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Edges that close a cycle in a depth-first search from the inputs, then from any node
    not reached, in the given order."""
    succ: dict[str, list[str]] = {n: [] for n in [*inputs, *nodes]}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    state: dict[str, int] = {}  # 1 on stack, 2 done
    back: set[tuple[str, str]] = set()
    for root in [*inputs, *nodes]:
        if root in state:
            continue
        stack = [(root, iter(succ.get(root, [])))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ.get(nxt, []))))
    return back


def _topological(nodes: list[str], forward: list[tuple[str, str]]) -> list[str]:
    """`nodes` sorted along the (acyclic) `forward` edges, ties kept in the given order."""
    rank = {n: i for i, n in enumerate(nodes)}
    indeg = {n: 0 for n in nodes}
    for a, b in forward:
        if a in indeg:
            indeg[b] += 1
    ready = sorted((n for n in nodes if indeg[n] == 0), key=rank.__getitem__)
    order: list[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for a, b in forward:
            if a == n:
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
                    ready.sort(key=rank.__getitem__)
    return order


def evaluation_order(
    nodes: Iterable[str], inputs: Iterable[str], edges: list[tuple[str, str]]
) -> tuple[list[str], set[tuple[str, str]]]:
    """Order `nodes` for one time step and find the edges that must read the previous step.

    Depth-first search from the inputs (then from any node not reached) in the given order;
    an edge to a node still on the search stack closes a cycle and is marked recurrent. The
    remaining edges form a DAG, sorted topologically with ties kept in the given order.
    """
    nodes = list(nodes)
    back = _back_edges(nodes, list(inputs), edges)
    forward = [(a, b) for a, b in edges if (a, b) not in back and b in set(nodes)]
    return _topological(nodes, forward), back
