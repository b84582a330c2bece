"""Lower a flat raw NIR graph to a discrete-time `Network`.

Neuron nodes become populations (forward-Euler discretisation with step `dt`); chains of linear
nodes between them become projections; cycles are broken by marking the edges that close them as
recurrent (they read the previous step, as nirtorch, snnTorch and Norse do).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable

import numpy as np

from ..errors import DtError, GraphError, NeurocompWarning, ParameterError
from ..ir.network import (
    RESET_MODES,
    Network,
    NeuronParams,
    Population,
    Projection,
    ResetMode,
    evaluation_order,
)
from ..ir.ops import Conv, Delay, Dense, Op, Shape
from .reader import LINEAR_TYPES, NEURON_TYPES, RawGraph
from .shapes import build_op, infer_shapes, neuron_params

LEAKY = ("LIF", "CubaLIF", "LI", "CubaLI")
# A Delay of d steps makes simulators keep d + 1 copies of its signal (per sample of a batch):
# refuse what no chip delays (Loihi: 62 steps) and what would not fit in memory.
MAX_DELAY_STEPS = 2**16
MAX_DELAY_SLOTS = 2**24  # (steps + 1) x elements of the delayed signal


def _dt_ratios(kind: str, p: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Quantities equal to dt under snnTorch's export convention (r = tau/dt, w_in = tau_syn/dt)."""
    if kind in ("LIF", "LI"):
        return [p["tau"] / p["r"]] if np.all(p["r"] > 0) else []
    if kind in ("CubaLIF", "CubaLI") and np.all(p["r"] > 0) and np.all(p["w_in"] > 0):
        return [p["tau_mem"] / p["r"], p["tau_syn"] / p["w_in"]]
    return []


def resolve_dt(
    graph: RawGraph, neurons: dict[str, dict[str, np.ndarray]], dt: float | None, has_delay: bool
) -> float | None:
    """The time step in seconds: given, stated in the file, or certain from the exporter."""
    if dt is not None:
        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            raise DtError(f"dt = {dt}: must be a finite number of seconds > 0")
        return float(dt)
    leaky = [n for n in neurons if graph.nodes[n].type in LEAKY]
    if not leaky and not has_delay:
        return None  # nothing in the network depends on time
    meta = graph.metadata.get("dt")
    if meta is not None and np.ndim(meta) == 0 and float(meta) > 0:
        warnings.warn(
            f"dt not given: using dt = {float(meta)} s stored in the graph's metadata",
            NeurocompWarning,
            stacklevel=3,
        )
        return float(meta)
    ratios = [r for n in leaky for r in _dt_ratios(graph.nodes[n].type, neurons[n])]
    unit_gain = all(
        np.all(neurons[n]["r"] == 1) and np.all(neurons[n].get("w_in", np.ones(1)) == 1)
        for n in leaky
    )
    if ratios and not unit_gain:
        flat = np.concatenate([r.ravel() for r in ratios])
        guess = float(np.median(flat))
        if np.allclose(flat, guess, rtol=1e-5, atol=0):
            inferred = float(f"{guess:.6g}")  # undo float32 storage of tau and r
            warnings.warn(
                f"dt not given: inferred dt = {inferred} s because every leaky node follows "
                f"snnTorch's export convention r = tau/dt (w_in = tau_syn/dt); pass dt to be sure",
                NeurocompWarning,
                stacklevel=3,
            )
            return inferred
    first = leaky[0] if leaky else "a Delay node"
    raise DtError(
        f"the graph has time constants (e.g. node '{first}') and NIR files do not store the time "
        f"step: pass dt in seconds (--dt SECONDS), e.g. dt=1e-4"
    )


def _discretise(
    name: str, kind: str, p: dict[str, np.ndarray], dt: float | None, reset: ResetMode
) -> NeuronParams:
    one = np.ones_like(next(iter(p.values())))
    zero = np.zeros_like(one)

    def decay(key: str) -> np.ndarray:
        if dt is None:  # resolve_dt asks for dt whenever a leaky node exists
            raise DtError(f"node '{name}' ({kind}) needs dt: pass dt in seconds")
        d = dt / p[key]
        if (d > 1).any():
            bad = float(p[key][d > 1].flat[0])
            raise ParameterError(
                name,
                key,
                bad,
                f"must be >= dt = {dt} s: forward Euler is "
                "unstable for dt/tau > 1, use a smaller dt",
            )
        return d

    if kind in ("LIF", "LI"):
        dv = decay("tau")
        v = dict(dv=dv, v_gain=dv * p["r"], v_bias=dv * p["v_leak"])
    elif kind in ("CubaLIF", "CubaLI"):
        du, dv = decay("tau_syn"), decay("tau_mem")
        v = dict(dv=dv, v_gain=dv * p["r"], v_bias=dv * p["v_leak"], du=du, u_gain=du * p["w_in"])
    elif kind in ("IF", "I"):
        # No time constant: the input is integrated once per step, as every NIR framework does.
        v = dict(dv=zero, v_gain=p["r"].copy(), v_bias=zero.copy())
    elif kind == "Threshold":
        return NeuronParams(
            dv=one,
            v_gain=one.copy(),
            v_bias=zero,
            v_reset=zero.copy(),
            v_threshold=p["threshold"].copy(),
        )
    else:
        raise GraphError(f"node '{name}': {kind} is not a neuron type")
    threshold = p["v_threshold"].copy() if "v_threshold" in p else None
    v_reset = p["v_reset"].copy() if "v_reset" in p else zero.copy()
    return NeuronParams(v_reset=v_reset, v_threshold=threshold, reset=reset, **v)


def _identity(shape: Shape) -> NeuronParams:
    ones = np.ones(shape)
    return NeuronParams(
        dv=ones, v_gain=ones.copy(), v_bias=np.zeros(shape), v_reset=np.zeros(shape)
    )


def _delay_in_steps(name: str, op: Delay, dt: float | None, shape: Shape) -> Delay:
    if dt is None:
        if op.steps.any():
            raise DtError(f"node '{name}' (Delay) needs dt to turn seconds into steps: pass dt")
        return Delay(np.zeros(shape, dtype=np.int64))
    steps = op.steps / dt
    longest = float(steps.max(initial=0.0))
    size = math.prod(shape)
    limit = min(MAX_DELAY_STEPS, MAX_DELAY_SLOTS // max(size, 1) - 1)
    if not longest <= limit + 0.5:  # also catches inf from a huge delay / tiny dt
        raise ParameterError(
            name,
            "delay",
            f"{float(op.steps.max())} s = {longest:.4g} steps of dt = {dt} s",
            f"at most {limit} steps"
            + ("" if limit == MAX_DELAY_STEPS else f" for {size} delayed values")
            + f": (steps + 1) x values <= {MAX_DELAY_SLOTS}",
        )
    rounded = np.round(steps)
    if not np.allclose(steps, rounded, rtol=0, atol=1e-6):
        warnings.warn(
            f"node '{name}': delays rounded to whole steps of dt = {dt} s",
            NeurocompWarning,
            stacklevel=4,
        )
    return Delay(np.broadcast_to(rounded.astype(np.int64), shape).copy())


def _without_bias(op: Op) -> Op:
    if isinstance(op, (Dense, Conv)) and op.bias is not None:
        return dataclasses.replace(op, bias=None)
    return op


def lower(
    graph: RawGraph,
    dt: float | None = None,
    reset: str | None = None,
    discretise: Callable[..., NeuronParams] | None = None,
) -> Network:
    """Discretise `graph` with time step `dt` (seconds) and reset mode `reset` into a Network.

    discretise(name, kind, params, dt, reset) replaces NIR's forward-Euler reading of each neuron
    node (an exporter's convention, `neurocomp.frontend.conventions`)."""
    step = discretise or _discretise
    stored = graph.metadata.get("reset")  # the reader decodes strings
    if reset is None and stored in RESET_MODES:  # written by neurocomp's from_torch(path=)
        reset = str(stored)
    reset_mode: ResetMode = "subtract" if reset == "subtract" else "zero"
    if reset is not None and reset not in RESET_MODES:
        raise ParameterError("<network>", "reset", reset, f"must be one of {RESET_MODES}")
    nodes = graph.nodes
    for a, b in graph.edges:
        if nodes[b].type == "Input":
            raise GraphError(f"edge ('{a}', '{b}') points into input node '{b}'")
        if nodes[a].type == "Output":
            raise GraphError(f"edge ('{a}', '{b}') leaves output node '{a}'")
    neurons = {n: neuron_params(n, v) for n, v in nodes.items() if v.type in NEURON_TYPES}
    ops = {n: build_op(n, v) for n, v in nodes.items() if v.type in LINEAR_TYPES}
    shapes = infer_shapes(graph, ops, neurons)
    neurons = {
        n: {k: np.broadcast_to(a, shapes[n][1]).copy() for k, a in p.items()}
        for n, p in neurons.items()
    }
    has_delay = any(isinstance(op, Delay) and op.steps.any() for op in ops.values())
    dt_s = resolve_dt(graph, neurons, dt, has_delay)
    for n, op in ops.items():
        if isinstance(op, Delay):
            ops[n] = _delay_in_steps(n, op, dt_s, shapes[n][0])

    succ: dict[str, list[str]] = {n: [] for n in nodes}
    first_pred: dict[str, str] = {}
    for a, b in graph.edges:
        succ[a].append(b)
        first_pred.setdefault(b, a)
    paths = _paths(graph, succ, first_pred, ops)

    populations = {
        n: Population(n, shapes[n][1], nodes[n].type, step(n, nodes[n].type, p, dt_s, reset_mode))
        for n, p in neurons.items()
    }
    outputs: dict[str, str] = {}
    for name in (n for n, v in nodes.items() if v.type == "Output"):
        into = [p for p in paths if p[3] == name]
        if not into:
            raise GraphError(f"output '{name}' has no incoming edge")
        if len(into) == 1 and not into[0][1]:
            outputs[name] = into[0][0]
        else:  # a linear readout: give it an identity population to land on
            populations[name] = Population(
                name, shapes[name][0], "Identity", _identity(shapes[name][0])
            )
            outputs[name] = name
    inputs = {n: shapes[n][1] for n, v in nodes.items() if v.type == "Input"}
    edges = [(src, dst) for src, _, _, dst in paths if dst in populations]
    order, back = evaluation_order(_discovery(inputs, populations, edges), inputs, edges)
    rank = {n: i for i, n in enumerate(order)}
    projections = sorted(_projections(paths, populations, back), key=lambda p: rank[p.post])
    return Network(
        inputs=inputs,
        populations=tuple(populations[n] for n in order),
        projections=tuple(projections),
        outputs=outputs,
        dt=dt_s,
        metadata={
            "reset": reset_mode,
            "nir_version": graph.version,
            "repairs": list(graph.repairs),
        },
    )


Path = tuple[str, tuple[Op, ...], tuple[str, ...], str]


def _paths(
    graph: RawGraph, succ: dict[str, list[str]], first_pred: dict[str, str], ops: dict[str, Op]
) -> list[Path]:
    """Every route source -> linear nodes -> sink. A linear node's bias rides on exactly one route:
    the one that entered it, and every linear node before it, through the first incoming edge."""
    nodes = graph.nodes
    out: list[Path] = []
    sources = [n for n, v in nodes.items() if v.type == "Input" or v.type in NEURON_TYPES]
    for src in sources:
        stack: list[tuple[str, str, tuple[Op, ...], tuple[str, ...], bool]] = [
            (src, nxt, (), (), True) for nxt in reversed(succ[src])
        ]
        while stack:
            prev, node, chain, names, canon = stack.pop()
            kind = nodes[node].type
            if kind in NEURON_TYPES or kind == "Output":
                out.append((src, chain, names, node))
                continue
            if node in names:
                cycle = " -> ".join((*names[names.index(node) :], node))
                raise GraphError(f"cycle {cycle} has no neuron: nothing holds state to break it")
            canon = canon and first_pred[node] == prev
            op = ops[node] if canon else _without_bias(ops[node])
            for nxt in reversed(succ[node]):
                stack.append((node, nxt, (*chain, op), (*names, node), canon))
    return out


def _discovery(
    inputs: dict[str, Shape], populations: dict[str, Population], edges: list[tuple[str, str]]
) -> list[str]:
    """Populations in breadth-first order from the inputs (ties in edge order), then the rest."""
    seen: list[str] = []
    frontier = list(inputs)
    while frontier:
        nxt = []
        for a in frontier:
            for s, d in edges:
                if s == a and d not in seen:
                    seen.append(d)
                    nxt.append(d)
        frontier = nxt
    return seen + [p for p in populations if p not in seen]


def _projections(
    paths: list[Path], populations: dict[str, Population], back: set[tuple[str, str]]
) -> list[Projection]:
    used: set[str] = set()
    result = []
    for src, chain, names, dst in paths:
        if dst not in populations:
            continue
        name = "+".join(names) or f"{src}->{dst}"
        if name in used:
            name = f"{name}->{dst}"
        k = 2
        base = name
        while name in used:
            name, k = f"{base}#{k}", k + 1
        used.add(name)
        result.append(Projection(name, src, dst, chain, recurrent=(src, dst) in back))
    return result
