"""Small hand-built NIR graphs covering every primitive, shared by several tests."""

from __future__ import annotations

import nir
import numpy as np


def chain(
    *named: tuple[str, nir.NIRNode], input_shape: tuple[int, ...], out: tuple[int, ...] = (1,)
) -> nir.NIRGraph:
    """input -> named nodes in order -> output (of shape `out`), without nir's type checking."""
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array(input_shape))}
    edges, prev = [], "input"
    for name, node in named:
        nodes[name] = node
        edges.append((prev, name))
        prev = name
    nodes["output"] = nir.Output(output_type=np.array(out))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def lif(n: int, rng: np.random.Generator, tau: float = 2e-3, r: float | None = None) -> nir.LIF:
    return nir.LIF(
        tau=np.full(n, tau) * rng.uniform(0.8, 1.2, n),
        r=np.full(n, 10.0 if r is None else r),
        v_leak=rng.uniform(-0.1, 0.1, n),
        v_threshold=rng.uniform(0.8, 1.2, n),
        v_reset=rng.uniform(-0.2, 0.0, n),
    )


def cubalif(n: int, rng: np.random.Generator) -> nir.CubaLIF:
    return nir.CubaLIF(
        tau_syn=rng.uniform(5e-4, 2e-3, n),
        tau_mem=rng.uniform(1e-3, 4e-3, n),
        r=rng.uniform(5, 20, n),
        v_leak=np.zeros(n),
        v_threshold=rng.uniform(0.5, 1.0, n),
        v_reset=np.zeros(n),
        w_in=rng.uniform(1, 3, n),
    )


def affine(n_out: int, n_in: int, rng: np.random.Generator, scale: float = 0.6) -> nir.Affine:
    return nir.Affine(weight=rng.normal(0, scale, (n_out, n_in)), bias=rng.normal(0, 0.05, n_out))


def every_primitive(rng: np.random.Generator) -> dict[str, tuple[nir.NIRGraph, tuple[int, ...]]]:
    """name -> (graph, input shape) for one small graph per NIR primitive."""
    g: dict[str, tuple[nir.NIRGraph, tuple[int, ...]]] = {}
    g["LIF"] = (
        chain(("fc", affine(6, 5, rng, 1.5)), ("lif", lif(6, rng)), input_shape=(5,), out=(6,)),
        (5,),
    )
    g["CubaLIF"] = (
        chain(("fc", affine(6, 5, rng)), ("cuba", cubalif(6, rng)), input_shape=(5,), out=(6,)),
        (5,),
    )
    g["IF"] = (
        chain(
            ("lin", nir.Linear(weight=rng.normal(0, 0.5, (4, 5)))),
            ("if", nir.IF(r=rng.uniform(0.5, 1.5, 4), v_threshold=np.ones(4), v_reset=np.zeros(4))),
            input_shape=(5,),
            out=(4,),
        ),
        (5,),
    )
    g["LI"] = (
        chain(
            ("fc", affine(3, 5, rng)),
            ("li", nir.LI(tau=rng.uniform(1e-3, 3e-3, 3), r=np.full(3, 5.0), v_leak=np.zeros(3))),
            input_shape=(5,),
            out=(3,),
        ),
        (5,),
    )
    c = cubalif(3, rng)
    g["CubaLI"] = (
        chain(
            ("fc", affine(3, 5, rng)),
            (
                "culi",
                nir.CubaLI(
                    tau_syn=c.tau_syn, tau_mem=c.tau_mem, r=c.r, v_leak=np.full(3, 0.1), w_in=c.w_in
                ),
            ),
            input_shape=(5,),
            out=(3,),
        ),
        (5,),
    )
    g["I"] = (
        chain(
            ("lin", nir.Linear(weight=rng.normal(0, 0.5, (3, 5)))),
            ("int", nir.I(r=rng.uniform(0.5, 2, 3))),
            input_shape=(5,),
            out=(3,),
        ),
        (5,),
    )
    g["Threshold"] = (
        chain(
            ("fc", affine(4, 5, rng)),
            ("th", nir.Threshold(threshold=np.full(4, 0.2))),
            input_shape=(5,),
            out=(4,),
        ),
        (5,),
    )
    g["Scale"] = (
        chain(
            ("scale", nir.Scale(scale=rng.uniform(0.5, 2.0, 5))),
            ("lif", lif(5, rng)),
            input_shape=(5,),
            out=(5,),
        ),
        (5,),
    )
    g["Delay"] = (
        chain(
            ("fc", affine(4, 5, rng)),
            ("delay", nir.Delay(delay=np.array([0.0, 1e-4, 3e-4, 5e-4]))),
            ("lif", lif(4, rng)),
            input_shape=(5,),
            out=(4,),
        ),
        (5,),
    )
    g["Conv1d"] = (
        chain(
            (
                "conv",
                nir.Conv1d(
                    input_shape=12,
                    weight=rng.normal(0, 0.5, (4, 2, 3)),
                    stride=2,
                    padding=1,
                    dilation=1,
                    groups=1,
                    bias=rng.normal(0, 0.1, 4),
                ),
            ),
            (
                "if",
                nir.IF(r=np.ones((4, 6)), v_threshold=np.ones((4, 6)), v_reset=np.zeros((4, 6))),
            ),
            ("flat", nir.Flatten(input_type={"input": np.array([4, 6])}, start_dim=0)),
            ("fc", affine(3, 24, rng)),
            ("lif", lif(3, rng)),
            input_shape=(2, 12),
            out=(3,),
        ),
        (2, 12),
    )
    g["Conv2d"] = (
        chain(
            (
                "conv",
                nir.Conv2d(
                    input_shape=(8, 8),
                    weight=rng.normal(0, 0.6, (4, 1, 3, 3)),
                    stride=1,
                    padding=1,
                    dilation=1,
                    groups=2,
                    bias=np.zeros(4),
                ),
            ),
            (
                "if",
                nir.IF(
                    r=np.ones((4, 8, 8)),
                    v_threshold=np.ones((4, 8, 8)),
                    v_reset=np.zeros((4, 8, 8)),
                ),
            ),
            (
                "pool",
                nir.SumPool2d(
                    kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
                ),
            ),
            (
                "conv2",
                nir.Conv2d(
                    input_shape=(4, 4),
                    weight=rng.normal(0, 0.4, (3, 4, 3, 3)),
                    stride=2,
                    padding=(1, 1),
                    dilation=1,
                    groups=1,
                    bias=np.zeros(3),
                ),
            ),
            (
                "if2",
                nir.IF(
                    r=np.ones((3, 2, 2)),
                    v_threshold=np.ones((3, 2, 2)),
                    v_reset=np.zeros((3, 2, 2)),
                ),
            ),
            input_shape=(2, 8, 8),
            out=(3, 2, 2),
        ),
        (2, 8, 8),
    )
    g["AvgPool2d"] = (
        chain(
            (
                "pool",
                nir.AvgPool2d(
                    kernel_size=np.array([2, 2]), stride=np.array([1, 1]), padding=np.array([1, 1])
                ),
            ),
            ("flat", nir.Flatten(input_type={"input": np.array([2, 7, 7])}, start_dim=0)),
            ("fc", affine(4, 98, rng, 0.3)),
            ("lif", lif(4, rng)),
            input_shape=(2, 6, 6),
            out=(4,),
        ),
        (2, 6, 6),
    )
    # Nested graph: a recurrent LIF block wired by the subgraph's name.
    inner = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([6])),
            "lif": lif(6, rng),
            "w_rec": affine(6, 6, rng, 0.4),
            "output": nir.Output(output_type=np.array([6])),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False,
    )
    g["NIRGraph"] = (
        chain(
            ("fc", affine(6, 5, rng)),
            ("block", inner),
            ("fc2", affine(2, 6, rng)),
            ("lif2", lif(2, rng)),
            input_shape=(5,),
            out=(2,),
        ),
        (5,),
    )
    # Recurrent CubaLIF in snnTorch's flat RSynaptic pattern (lif <-> w_rec 2-cycle).
    rec = chain(
        ("fc", affine(6, 5, rng)),
        ("l1.lif", cubalif(6, rng)),
        ("fc2", affine(3, 6, rng, 2.0)),
        ("l2", cubalif(3, rng)),
        input_shape=(5,),
        out=(3,),
    )
    rec.nodes["l1.w_rec"] = affine(6, 6, rng, 0.5)
    rec.edges += [("l1.lif", "l1.w_rec"), ("l1.w_rec", "l1.lif")]
    g["recurrent"] = rec, (5,)
    # Two branches merging into one Affine: its bias must be counted once.
    merge = chain(
        ("fc", affine(4, 5, rng)),
        ("a", lif(4, rng)),
        ("m", affine(3, 4, rng)),
        ("b", lif(3, rng)),
        input_shape=(5,),
        out=(3,),
    )
    merge.nodes["fc_skip"] = affine(4, 5, rng)
    merge.nodes["c"] = lif(4, rng)
    merge.edges += [("input", "fc_skip"), ("fc_skip", "c"), ("c", "m")]
    g["merge"] = merge, (5,)
    return g
