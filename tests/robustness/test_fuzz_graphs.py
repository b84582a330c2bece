"""Fuzz nc.load / nc.compile with random NIR graphs built through the nir API.

Graphs are chains of every NIR primitive (shapes tracked so that most chains are consistent and
reach the compiler), then damaged by random mutations: NaN, inf, zero and negative parameters,
wrong parameter shapes and dtypes, zero-size and huge declared shapes, dangling edges, stateless
cycles, edges into inputs or out of outputs, unknown node types, broken nested graphs. Every case
must end in success or a NeurocompError, within the per-case time and memory bounds.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import nir
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_util import DERANDOMIZE, examples, run_case

import neurocomp as nc

NEURONS = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I", "Threshold")
LAYERS = (
    *NEURONS,
    "Affine",
    "Linear",
    "Scale",
    "Delay",
    "Flatten",
    "Conv1d",
    "Conv2d",
    "SumPool2d",
    "AvgPool2d",
    "NIRGraph",
)
HUGE = (2**25, 2**31, 2**40, 2**62)  # above neurocomp's 2**24-neuron layer limit
SPECIAL = (np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, -1e-3, 1e308, -1e308, 1e-308, 2.0**64)
# Parameter ranges of a sane network: most cases should reach the compiler.
SANE = {
    "tau": (1e-3, 2e-2),
    "tau_syn": (1e-3, 1e-2),
    "tau_mem": (2e-3, 2e-2),
    "r": (0.5, 20.0),
    "v_leak": (-0.1, 0.1),
    "v_threshold": (0.1, 2.0),
    "v_reset": (-0.2, 0.0),
    "w_in": (0.5, 3.0),
    "threshold": (0.1, 1.0),
    "scale": (0.5, 2.0),
}


@dataclasses.dataclass(eq=False)
class Dendrite(nir.NIRNode):
    """A node type NIR does not define (to_dict gives type 'Dendrite')."""

    gain: np.ndarray

    def __post_init__(self) -> None:
        self.input_type = {"input": np.array(self.gain.shape)}
        self.output_type = {"output": np.array(self.gain.shape)}


def _neuron(kind: str, shape: tuple[int, ...], rng: np.random.Generator, scalar: bool) -> Any:
    size = () if scalar or not _modest(shape) else shape

    def p(key: str) -> np.ndarray:
        lo, hi = SANE[key]
        return rng.uniform(lo, hi, size)

    if kind == "LIF":
        return nir.LIF(
            tau=p("tau"), r=p("r"), v_leak=p("v_leak"), v_threshold=p("v_threshold"),
            v_reset=p("v_reset"),
        )  # fmt: skip
    if kind == "CubaLIF":
        return nir.CubaLIF(
            tau_syn=p("tau_syn"), tau_mem=p("tau_mem"), r=p("r"), v_leak=p("v_leak"),
            v_threshold=p("v_threshold"), v_reset=p("v_reset"), w_in=p("w_in"),
        )  # fmt: skip
    if kind == "IF":
        return nir.IF(r=p("r"), v_threshold=p("v_threshold"), v_reset=p("v_reset"))
    if kind == "LI":
        return nir.LI(tau=p("tau"), r=p("r"), v_leak=p("v_leak"))
    if kind == "CubaLI":
        return nir.CubaLI(
            tau_syn=p("tau_syn"), tau_mem=p("tau_mem"), r=p("r"), v_leak=p("v_leak"), w_in=p("w_in")
        )  # fmt: skip
    if kind == "I":
        return nir.I(r=p("r"))
    return nir.Threshold(threshold=p("threshold"))


def _modest(shape: tuple[int, ...]) -> bool:
    """Small enough to allocate parameters of this shape in the test itself."""
    return all(0 <= s <= 4096 for s in shape) and np.prod(shape, dtype=np.float64) <= 4096


def _small(n: int) -> bool:
    return 0 < n <= 64


@st.composite
def graphs(draw: st.DrawFn) -> tuple[nir.NIRGraph, str]:
    """A random NIR graph and a one-line description of how it was built."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    log: list[str] = []

    def dim() -> int:
        odd = draw(st.integers(0, 15))
        if odd == 0:
            return 0
        if odd == 1:
            return draw(st.sampled_from(HUGE))
        return draw(st.integers(1, 6))

    rank = draw(st.sampled_from((1, 1, 1, 2, 3)))
    cur: tuple[int, ...] | None = tuple(dim() for _ in range(rank))
    nodes: dict[str, nir.NIRNode] = {"in": nir.Input(input_type={"input": np.array(cur)})}
    edges: list[tuple[str, str]] = []
    prev = "in"
    log.append(f"in{cur}")
    for k in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(LAYERS))
        name = f"{kind.lower()}{k}"
        shape = cur if cur is not None else (3,)
        n_last = shape[-1] if shape else 1
        if kind in NEURONS:
            node = _neuron(kind, shape, rng, draw(st.booleans()))
        elif kind in ("Affine", "Linear"):
            n_out = dim()
            n_in = n_last if _small(n_last) else draw(st.integers(1, 4))
            w = rng.normal(0, 0.5, (min(n_out, 64), n_in))
            if kind == "Affine":
                node = nir.Affine(weight=w, bias=rng.normal(0, 0.05, w.shape[0]))
            else:
                node = nir.Linear(weight=w)
            shape = (*shape[:-1], w.shape[0]) if shape else (w.shape[0],)
        elif kind == "Scale":
            node = nir.Scale(scale=rng.uniform(0.5, 2.0, shape if _modest(shape) else ()))
        elif kind == "Delay":
            steps = rng.integers(0, 4, shape if _modest(shape) else ())
            node = nir.Delay(delay=steps * draw(st.sampled_from((1e-4, 1e-3, 0.0, 3.3e-5))))
        elif kind == "Flatten":
            start = draw(st.sampled_from((0, 0, 1, -1, 5)))
            node = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=start, end_dim=-1)
            size = int(np.prod(shape, dtype=np.float64)) if shape else 1
            shape = (size,) if start == 0 else shape
        elif kind in ("Conv1d", "Conv2d"):
            nd = 1 if kind == "Conv1d" else 2
            c_in = shape[0] if len(shape) == nd + 1 and _small(shape[0]) else 2
            groups = draw(st.sampled_from((1, 1, 2, 0)))
            c_out = draw(st.integers(1, 4)) * max(groups, 1)
            kernel = draw(st.integers(1, 3))
            stride = draw(st.sampled_from((1, 1, 2, 0)))
            pad: Any = draw(st.sampled_from((0, 1, "same", "valid", 2)))
            dil = draw(st.sampled_from((1, 1, 2)))
            w = rng.normal(0, 0.5, (c_out, max(c_in // max(groups, 1), 1), *(kernel,) * nd))
            bias = rng.normal(0, 0.05, c_out)
            cls = nir.Conv1d if nd == 1 else nir.Conv2d
            node = cls(
                input_shape=None, weight=w, stride=stride, padding=pad, dilation=dil,
                groups=groups, bias=bias,
            )  # fmt: skip
            if len(shape) == nd + 1 and stride and isinstance(pad, int):
                span = [(s + 2 * pad - dil * (kernel - 1) - 1) // stride + 1 for s in shape[1:]]
                shape = (c_out, *span)
            elif len(shape) == nd + 1 and pad == "same":
                shape = (c_out, *shape[1:])
            else:
                shape = None  # type: ignore[assignment]
        elif kind in ("SumPool2d", "AvgPool2d"):
            kern = draw(st.integers(0, 3))
            stride = draw(st.integers(0, 2))
            pad = draw(st.integers(0, 1))
            cls = nir.SumPool2d if kind == "SumPool2d" else nir.AvgPool2d
            node = cls(
                kernel_size=np.array([kern, kern]),
                stride=np.array([stride, stride]),
                padding=np.array([pad, pad]),
            )
            if len(shape) == 3 and kern and stride:
                shape = (shape[0], *[(s + 2 * pad - kern) // stride + 1 for s in shape[1:]])
            else:
                shape = None  # type: ignore[assignment]
        else:  # nested graph: input -> neuron (-> recurrent affine) -> output
            inner_nodes: dict[str, nir.NIRNode] = {
                "input": nir.Input(input_type={"input": np.array(shape)}),
                "cell": _neuron(draw(st.sampled_from(NEURONS)), shape, rng, False),
                "output": nir.Output(output_type={"output": np.array(shape)}),
            }
            inner_edges = [("input", "cell"), ("cell", "output")]
            if len(shape) == 1 and _small(shape[0]) and draw(st.booleans()):
                inner_nodes["rec"] = nir.Affine(
                    weight=rng.normal(0, 0.3, (shape[0], shape[0])), bias=np.zeros(shape[0])
                )
                inner_edges += [("cell", "rec"), ("rec", "cell")]
            broken = draw(st.integers(0, 7))
            if broken == 0:
                del inner_nodes["input"]
                inner_edges = [e for e in inner_edges if "input" not in e]
            elif broken == 1:
                inner_edges.append(("cell", "ghost"))
            node = nir.NIRGraph(nodes=inner_nodes, edges=inner_edges, type_check=False)
        nodes[name] = node
        edges.append((prev, name))
        prev = name
        cur = shape
        log.append(f"{name}->{cur}")
    out_shape = cur if cur is not None and draw(st.integers(0, 5)) else (dim(),)
    nodes["out"] = nir.Output(output_type={"output": np.array(out_shape)})
    edges.append((prev, "out"))

    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 1, 2, 3)))):
        log.append(_mutate(draw, rng, nodes, edges))
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    return graph, "; ".join(log)


def _mutate(
    draw: st.DrawFn,
    rng: np.random.Generator,
    nodes: dict[str, nir.NIRNode],
    edges: list[tuple[str, str]],
) -> str:
    """Damage the graph in place; return what was done."""
    what = draw(
        st.sampled_from(
            (
                "special value",
                "special value",
                "wrong dtype",
                "wrong param shape",
                "declared shape",
                "dangling edge",
                "stateless cycle",
                "random edge",
                "drop edge",
                "unknown node",
                "duplicate edge",
                "none param",
                "empty graph",
            )
        )
    )
    names = sorted(nodes)
    if not names:
        return f"{what}: no-op (no nodes)"
    name = draw(st.sampled_from(names))
    node = nodes[name]
    params = [
        f.name
        for f in dataclasses.fields(node)
        if f.init and f.name not in ("metadata", "nodes", "edges")
        and isinstance(getattr(node, f.name), (np.ndarray, int, float))
    ]  # fmt: skip
    if what in ("special value", "wrong dtype", "wrong param shape", "none param") and params:
        key = draw(st.sampled_from(params))
        old = np.asarray(getattr(node, key))
        if what == "special value":
            value = draw(st.sampled_from(SPECIAL))
            try:
                new = np.array(old, dtype=np.float64, copy=True)
            except (TypeError, ValueError):  # an earlier mutation made it non-numeric
                new = np.zeros(0)
            if new.size:
                new.flat[draw(st.integers(0, new.size - 1))] = value
            else:
                new = np.float64(value)
        elif what == "wrong dtype":
            new = draw(
                st.sampled_from(
                    (
                        np.array(["a"] * max(old.size, 1)),
                        np.ones(max(old.size, 1)) + 1j,
                        np.ones(max(old.size, 1), dtype=bool),
                        np.array("seven"),
                        np.array([[1, 2], [3, 4]], dtype=np.int8),
                    )
                )
            )
        elif what == "wrong param shape":
            new = rng.uniform(0.1, 1.0, draw(st.sampled_from(((0,), (7,), (2, 3), (1, 1, 1)))))
        else:
            new = None
        setattr(node, key, new)
        shown = np.array2string(np.asarray(new, dtype=object), threshold=6)
        return f"{what}: {name}.{key} = {shown}"
    if what == "declared shape":
        shape = draw(
            st.sampled_from(
                (
                    [0],
                    [3, 0],
                    [2**31],
                    [2**40],
                    [2**13, 2**12],
                    [2**15, 2**15],
                    [2**62, 2**62],
                    [-1],
                    [2.5],
                    [],
                )
            )
        )
        port = draw(st.sampled_from([n for n in names if isinstance(nodes[n], nir.Input)] or names))
        target = nodes[port]
        if isinstance(target, nir.Input):
            target.input_type = {"input": np.array(shape)}
        elif isinstance(target, nir.Output):
            target.output_type = {"output": np.array(shape)}
        elif isinstance(target, nir.Flatten):
            target.input_type = {"input": np.array(shape)}
        return f"declared shape {shape} on {port}"
    if what == "dangling edge":
        edge = draw(st.sampled_from(((name, "ghost"), ("ghost", name), ("ghost", "phantom"))))
        edges.append(edge)
        return f"dangling edge {edge}"
    if what == "stateless cycle":
        linear = [
            n for n in names if not isinstance(nodes[n], (nir.Input, nir.Output, nir.NIRGraph))
            and type(nodes[n]).__name__ not in NEURONS
        ]  # fmt: skip
        if linear:
            a, b = draw(st.sampled_from(linear)), draw(st.sampled_from(linear))
            edges.append((a, b))
            return f"edge {a}->{b} between linear nodes"
        edges.append((name, name))
        return f"self-loop on {name}"
    if what == "random edge":
        a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        edges.append((a, b))
        return f"random edge {a}->{b}"
    if what == "drop edge" and edges:
        e = edges.pop(draw(st.integers(0, len(edges) - 1)))
        return f"dropped edge {e}"
    if what == "duplicate edge" and edges:
        e = draw(st.sampled_from(edges))
        edges.append(e)
        return f"duplicated edge {e}"
    if what == "unknown node":
        nodes["dendrite"] = Dendrite(gain=np.ones(3))
        edges.append((name, "dendrite"))
        return f"unknown node type Dendrite after {name}"
    if what == "empty graph":
        nodes.clear()
        edges.clear()
        return "empty graph"
    return f"{what}: no-op"


CASE = st.tuples(
    graphs(),
    st.sampled_from(
        (1e-4, 1e-4, 1e-4, 1e-4, 1e-3, None, 1e-2, 0.0, -1e-4, float("nan"), float("inf"))
    ),
    st.sampled_from((None, None, "zero", "subtract", "bogus")),
    st.sampled_from(("reference", "reference", "loihi2")),
    st.sampled_from(
        (
            None,
            None,
            "prune{sparsity=0.5}",
            "merge",
            "prune_neurons{dead=false}",
            "quantize{weight_bits=4,granularity=channel}",
        )
    ),
    st.booleans(),
)


@settings(
    max_examples=examples(1200),
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
)
@given(CASE)
def test_random_graphs_load_and_compile_or_fail_cleanly(case):
    (graph, log), dt, reset, target, passes, calibrate = case
    description = (
        f"graph [{log}], dt={dt}, reset={reset}, target={target}, passes={passes}, "
        f"calibration={calibrate}"
    )

    def work() -> None:
        net = nc.load(graph, dt=dt, reset=reset)
        calibration = None
        if calibrate and all(np.prod(s, dtype=np.float64) <= 10_000 for s in net.inputs.values()):
            rng = np.random.default_rng(0)
            calibration = {
                k: (rng.random((4, 2, *shape)) < 0.3).astype(np.float64)
                for k, shape in net.inputs.items()
            }
        nc.compile(net, target=target, passes=passes, calibration=calibration)

    run_case("fuzz graphs (nc.load + nc.compile)", description, work)
