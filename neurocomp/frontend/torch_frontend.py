"""Trained PyTorch modules (snnTorch, Norse) to NIR, through each framework's own exporter.

Both exporters run nirtorch's tracer with a per-module mapping. With nir 1.0.8 their output does
not load as it stands; the quirks repaired here (tests/frontend/test_torch_frontend.py shows each):

- the batch dimension stays in the Input type (snnTorch) and in Input/Output (Norse);
- scalar neuron parameters (snnTorch's `beta=0.9`, every Norse cell) give 0-d arrays, so NIR cannot
  infer a layer's size: they are broadcast to the layer's shape, taken from a forward pass;
- Conv2d is exported without its input shape; Norse has no mapping for AvgPool2d or Flatten;
- Norse exports tau = dt / tau_inv, so its dt must be 1 to get seconds, and LIFCell as a CubaLIF
  with w_in = 1 where Norse's current jump `i += x` needs w_in = tau_syn / dt;
- snnTorch exports Leaky(beta=1) as a LIF with an infinite time constant (an IF here) and does
  not clamp beta to [0, 1] as its forward pass does; the reset mechanism is not exported at all.

Departures that cannot be repaired are warned about, naming the layer (snnTorch's default
`reset_delay=True`, Norse starting v at v_leak) or refused (`reset_mechanism="none"`).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import (
    InputError,
    NeurocompError,
    NeurocompWarning,
    ParameterError,
    ShapeError,
    UnsupportedModuleError,
)
from ..files import write_atomic

Framework = Literal["snntorch", "norse"]
FRAMEWORKS: tuple[Framework, ...] = ("snntorch", "norse")
SNNTORCH_DT = 1e-4  # snnTorch's exporter writes tau = 1e-4 / (1 - beta), r = tau / 1e-4
_NEURON_FIELDS = ("tau", "tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")


@dataclass
class Export:
    """A repaired NIR graph and what loading it needs.

    dt: the time step in seconds that reproduces the framework's own update (None when the
    graph has no time constants). reset: "zero" or "subtract". repairs: one line per fix made.
    """

    graph: Any  # nir.NIRGraph
    dt: float | None
    reset: str
    repairs: list[str] = field(default_factory=list)


def export_torch(module: Any, sample: Any, framework: Framework = "snntorch") -> Export:
    """Export a trained snnTorch or Norse module to a loadable NIR graph.

    sample: one time step of input, (batch, *input_shape); only its shape matters. The module
    is deep-copied and traced in eval mode: the caller's module and its hidden state are left
    untouched.
    """
    if framework not in FRAMEWORKS:
        raise ParameterError("<module>", "framework", framework, f"must be one of {FRAMEWORKS}")
    torch, nir, nirtorch = _imports(framework)
    net = copy.deepcopy(module).eval()
    x = torch.as_tensor(np.asarray(sample, dtype=np.float32))
    shapes = _trace_shapes(torch, net, x)
    names = {id(m): n for n, m in net.named_modules()}
    kind = _SnnTorch if framework == "snntorch" else _Norse
    exporter = kind(nir, shapes, names)
    with _quiet():
        try:
            graph = nirtorch.extract_nir_graph(
                net,
                exporter.map_module,
                x,
                model_name=framework,
                ignore_submodules_of=exporter.opaque(),
                ignore_dims=[0],
            )
        except NeurocompError:  # raised by our own repairs: already names the module
            raise
        except Exception as e:  # nirtorch's own type inference on a graph we cannot repair
            if exporter.unsupported:
                raise UnsupportedModuleError(framework, exporter.unsupported) from None
            raise ShapeError(f"{framework} export failed: {e}") from None
    if exporter.unsupported:
        raise UnsupportedModuleError(framework, exporter.unsupported)
    dt, reset = exporter.dt(), exporter.reset()
    # NIR has no field for either: the metadata lets `neurocomp compile model.nir` reload the
    # file with the semantics it was exported with.
    meta: dict[str, Any] = {"source": f"{framework} via neurocomp.from_torch", "reset": reset}
    if dt is not None:
        meta["dt"] = dt
    graph = _rebuild(nir, graph, exporter, tuple(x.shape[1:]), meta)
    return Export(graph, dt, reset, exporter.repairs)


def write_nir(graph: Any, path: str | os.PathLike[str]) -> None:
    """Write `graph` to `path` atomically: a failed write leaves no file behind."""
    import nir

    write_atomic(path, lambda tmp: nir.write(str(tmp), graph))


# ------------------------------------------------------------------------------------------------


def _imports(framework: str) -> tuple[Any, Any, Any]:
    try:
        import nir
        import nirtorch
        import torch

        __import__(framework)
    except ImportError as e:
        raise InputError(
            f"from_torch(framework='{framework}') needs torch, nirtorch and {framework}: "
            f"{e} (pip install 'neurocomp[frameworks]')"
        ) from None
    return torch, nir, nirtorch


@dataclass
class _Shapes:
    """Per-module input and output shapes (without the batch), from one forward pass."""

    inputs: dict[int, tuple[int, ...]]
    outputs: dict[int, tuple[int, ...]]


def _first_tensor(value: Any) -> Any:
    while isinstance(value, (tuple, list)) and value:
        value = value[0]
    return value


def _trace_shapes(torch: Any, net: Any, x: Any) -> _Shapes:
    shapes = _Shapes({}, {})

    def hook(mod: Any, args: Any, out: Any) -> None:
        a, o = _first_tensor(args), _first_tensor(out)
        if hasattr(a, "shape"):
            shapes.inputs[id(mod)] = tuple(int(d) for d in a.shape[1:])
        if hasattr(o, "shape"):
            shapes.outputs[id(mod)] = tuple(int(d) for d in o.shape[1:])

    if x.ndim < 1:
        raise InputError(f"sample must be (batch, *input_shape), got shape {tuple(x.shape)}")
    handles = [m.register_forward_hook(hook) for m in net.modules()]
    try:
        with torch.no_grad(), _quiet():
            net(x)
    except Exception as e:
        raise InputError(
            f"the module's forward pass failed on a sample of shape {tuple(x.shape)}: {e} "
            "(sample is one time step, (batch, *input_shape))"
        ) from None
    finally:
        for h in handles:
            h.remove()
    return shapes


@contextlib.contextmanager
def _quiet() -> Any:
    """The exporters print and log chatter ("[WARNING] module not implemented", legacy notices)."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            warnings.catch_warnings(),
        ):
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module="nirtorch")
            yield
    finally:
        logger.setLevel(level)


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


class _Exporter:
    """Shared bookkeeping: shapes, module names, repairs, unsupported leaves."""

    identity: tuple[str, ...] = ("Identity", "Dropout", "Dropout1d", "Dropout2d", "AlphaDropout")

    def __init__(self, nir: Any, shapes: _Shapes, names: dict[int, str]) -> None:
        self.nir, self.shapes, self.names = nir, shapes, names
        self.unsupported: dict[str, str] = {}
        self.repairs: list[str] = []
        self.node_out: dict[int, tuple[int, ...]] = {}  # id(NIR node) -> output shape
        self.identities: set[int] = set()  # id(NIR node) of Identity/Dropout placeholders
        self.neuron_modules: list[Any] = []

    def opaque(self) -> list[type]:
        return []

    def native(self, module: Any) -> Any:
        raise NotImplementedError

    def map_module(self, module: Any) -> Any:
        node = self.native(module)
        name = type(module).__name__
        if node is None and name in self.identity:
            # A placeholder removed by _rebuild: the tracer also wires around identity modules.
            node = self.nir.Scale(scale=np.ones(self._out(module), dtype=np.float32))
            self.identities.add(id(node))
        if node is None:
            if not list(module.children()) and id(module) in self.shapes.outputs:
                self.unsupported[self.names.get(id(module)) or "<root>"] = name
            return None
        if isinstance(node, self.nir.Conv2d):
            node = self._conv(module, node)
        elif isinstance(node, self.nir.Flatten):
            node = self._flatten(module, node)
        else:
            node = self.repair(module, node)
        self.node_out[id(node)] = self._out(module)
        return node

    def repair(self, module: Any, node: Any) -> Any:
        return node

    def _name(self, module: Any) -> str:
        """The module's path in the network, as `named_modules` gives it ("1", "features.0")."""
        return f"{self.names.get(id(module)) or '<root>'} ({type(module).__name__})"

    def _out(self, module: Any) -> tuple[int, ...]:
        if id(module) not in self.shapes.outputs:
            raise ShapeError(f"{type(module).__name__} was not called in the forward pass")
        return self.shapes.outputs[id(module)]

    def _neuron(self, module: Any, node: Any, cls: Any = None, **override: Any) -> Any:
        """`node` (or a `cls` node) with every parameter broadcast to the layer's output shape
        (NIR: per neuron), `override` replacing the exporter's values."""
        shape = self._out(module)
        params = {
            k: _array(override[k] if k in override else getattr(node, k))
            for k in _NEURON_FIELDS
            if k in override or (cls is None and getattr(node, k, None) is not None)
        }
        try:
            params = {k: np.broadcast_to(v, shape).astype(np.float32) for k, v in params.items()}
        except ValueError:
            bad = next(k for k, v in params.items() if np.broadcast_shapes(v.shape, shape) != shape)
            raise ShapeError(
                f"{type(module).__name__}: parameter {bad} of shape {params[bad].shape} does not "
                f"fit the layer's output shape {shape}"
            ) from None
        self.neuron_modules.append(module)
        return (cls or type(node))(**params)

    def _flatten(self, module: Any, node: Any) -> Any:
        return self.nir.Flatten(
            input_type={"input": np.array(self.shapes.inputs[id(module)])},
            start_dim=node.start_dim,
            end_dim=node.end_dim,
        )

    def _conv(self, module: Any, node: Any) -> Any:
        in_shape = self.shapes.inputs.get(id(module))
        if in_shape is None or len(in_shape) != 3:
            raise ShapeError(f"Conv2d: input shape {in_shape} is not (channels, height, width)")
        return self.nir.Conv2d(
            input_shape=np.array(in_shape[-2:]),
            weight=_array(node.weight),
            stride=np.array(module.stride),
            padding=np.array(module.padding),
            dilation=np.array(module.dilation),
            groups=int(module.groups),
            bias=_array(node.bias),
        )

    def dt(self) -> float | None:
        raise NotImplementedError

    def reset(self) -> str:
        raise NotImplementedError


class _SnnTorch(_Exporter):
    def __init__(self, nir: Any, shapes: _Shapes, names: dict[int, str]) -> None:
        super().__init__(nir, shapes, names)
        import snntorch
        from snntorch.export_nir import _extract_snntorch_module

        self.snn, self.extract = snntorch, _extract_snntorch_module
        self.leaky_tau = False

    def opaque(self) -> list[type]:
        return [self.snn.RLeaky, self.snn.RSynaptic]

    def native(self, module: Any) -> Any:
        with np.errstate(divide="ignore"):  # beta = 1: repaired below
            return self.extract(module)

    def repair(self, module: Any, node: Any) -> Any:
        nir, snn = self.nir, self.snn
        if isinstance(module, snn.Leaky) and not isinstance(module, snn.RLeaky):
            beta = self._beta(module, "beta")
            if np.all(beta == 1.0):  # no leak: the exporter's tau = 1e-4 / 0 is infinite
                self.repairs.append(f"{self._name(module)}: beta = 1 exported as IF")
                return self._neuron(
                    module, node, nir.IF, r=1.0, v_threshold=module.threshold, v_reset=0.0
                )
            self.leaky_tau = True
            tau = SNNTORCH_DT / (1.0 - beta)
            return self._neuron(module, node, tau=tau, r=tau / SNNTORCH_DT)
        if isinstance(module, snn.Synaptic) and not isinstance(module, snn.RSynaptic):
            alpha, beta = self._beta(module, "alpha"), self._beta(module, "beta")
            tau_syn, tau_mem = SNNTORCH_DT / (1.0 - alpha), SNNTORCH_DT / (1.0 - beta)
            self.leaky_tau = True
            return self._neuron(
                module,
                node,
                tau_syn=tau_syn,
                tau_mem=tau_mem,
                r=tau_mem / SNNTORCH_DT,
                w_in=tau_syn / SNNTORCH_DT,
            )
        if isinstance(module, (snn.RLeaky, snn.RSynaptic)):
            self.neuron_modules.append(module)
            self.leaky_tau = True
            if isinstance(module, snn.RLeaky):
                return self._recurrent_bias(module, node)
            if isinstance(module, snn.RSynaptic):
                warnings.warn(
                    "snnTorch RSynaptic resets one step late and adds its recurrent bias at "
                    "step 0; the NIR graph follows NIR's timing, so spikes can differ from the "
                    "trained module",
                    NeurocompWarning,
                    stacklevel=4,
                )
            return node
        return node

    def _recurrent_bias(self, module: Any, graph: Any) -> Any:
        """snnTorch adds the recurrent layer's bias at every step, step 0 included (its spikes
        start at 0, not absent); through the NIR cycle it would arrive from step 1 on. A constant
        input b to a LIF is exactly v_leak = r * b (dv * v_leak = dv * r * b = b per step)."""
        nir = self.nir
        lif, w_rec = graph.nodes["lif"], graph.nodes["w_rec"]
        if not isinstance(w_rec, nir.Affine) or not np.any(_array(w_rec.bias)):
            return graph
        r, bias = _array(lif.r), _array(w_rec.bias)
        nodes = dict(graph.nodes)
        nodes["lif"] = nir.LIF(
            tau=_array(lif.tau),
            r=r,
            v_leak=_array(lif.v_leak) + r * bias,
            v_threshold=_array(lif.v_threshold),
            v_reset=_array(lif.v_reset),
        )
        nodes["w_rec"] = nir.Linear(weight=_array(w_rec.weight))
        self.repairs.append(f"{self._name(module)}: recurrent bias moved to v_leak = r * bias")
        return nir.NIRGraph(nodes=nodes, edges=list(graph.edges))

    def _beta(self, module: Any, key: str) -> np.ndarray:
        """snnTorch clamps beta/alpha to [0, 1] in its forward pass; its exporter does not."""
        raw = _array(getattr(module, key))
        value = np.clip(raw, 0.0, 1.0)
        if np.any(value != raw):
            self.repairs.append(f"{self._name(module)}: {key} clamped to [0, 1] as snnTorch does")
        if np.any(value == 1.0) and not np.all(value == 1.0):
            # One NIR node per layer: a LIF cannot hold infinite time constants next to finite ones.
            value = np.minimum(value, 1.0 - 1e-7)
            self.repairs.append(f"{self._name(module)}: {key} = 1 entries set to 1 - 1e-7")
        return value

    def dt(self) -> float | None:
        return SNNTORCH_DT if self.leaky_tau else None

    def reset(self) -> str:
        mechanisms = {
            self._name(m): str(getattr(m, "reset_mechanism", "subtract"))
            for m in self.neuron_modules
        }
        for name, mech in mechanisms.items():
            if mech == "none":
                raise ParameterError(
                    name,
                    "reset_mechanism",
                    "none",
                    "NIR neurons always reset after a spike: use 'zero' or 'subtract'",
                )
        late = [self._name(m) for m in self.neuron_modules if getattr(m, "reset_delay", False)]
        if late:
            warnings.warn(
                f"snnTorch layer(s) {', '.join(late)} reset one step after the spike "
                "(reset_delay=True, snnTorch's default); NIR and neurocomp reset in the spike's "
                "step, so spikes can differ from the trained module - train with "
                "reset_delay=False for an exact match",
                NeurocompWarning,
                stacklevel=4,
            )
        above = [
            self._name(m)
            for m in self.neuron_modules
            if mechanisms[self._name(m)] == "subtract" and not getattr(m, "reset_delay", False)
        ]
        if above:
            # snnTorch subtracts the threshold before the spike test whenever v was still at or
            # above it after the last step's reset, and adds it back if no spike follows
            warnings.warn(
                f"snnTorch layer(s) {', '.join(above)} reset by subtraction: where a neuron's "
                "potential stays at or above threshold after a spike, snnTorch decides its next "
                "spike on the potential less one threshold, NIR and neurocomp on the potential, "
                "so spikes can differ from the trained module under input above one threshold "
                "per step - reset_mechanism='zero' matches exactly",
                NeurocompWarning,
                stacklevel=4,
            )
        return _one_reset(mechanisms)


class _Norse(_Exporter):
    def __init__(self, nir: Any, shapes: _Shapes, names: dict[int, str]) -> None:
        super().__init__(nir, shapes, names)
        import norse.torch as nt
        from norse.torch.utils.export_nir import _extract_norse_module

        self.nt, self.extract = nt, _extract_norse_module
        self.cell_dts: dict[str, float] = {}

    def native(self, module: Any) -> Any:
        import torch

        nir = self.nir
        if isinstance(module, torch.nn.AvgPool2d):
            pair = torch.nn.modules.utils._pair
            if module.padding not in (0, (0, 0)):
                return None
            return nir.AvgPool2d(
                kernel_size=np.array(pair(module.kernel_size)),
                stride=np.array(pair(module.stride or module.kernel_size)),
                padding=np.array((0, 0)),
            )
        if isinstance(module, torch.nn.Flatten):
            end = module.end_dim - 1 if module.end_dim > 0 else module.end_dim
            return nir.Flatten(input_type=None, start_dim=module.start_dim - 1, end_dim=end)
        # dt = 1 makes Norse's exported tau = dt / tau_inv come out in seconds.
        return self.extract(module, dt=1.0)

    def repair(self, module: Any, node: Any) -> Any:
        nir = self.nir
        if not isinstance(node, (nir.LIF, nir.CubaLIF, nir.LI, nir.IF)):
            return node
        dt = float(getattr(module, "dt", 1e-3))
        self.cell_dts[self._name(module)] = dt
        p = module.p
        extra: dict[str, np.ndarray] = {}
        if hasattr(p, "v_reset") and not isinstance(node, nir.LI):
            extra["v_reset"] = _array(p.v_reset)
        if isinstance(node, nir.CubaLIF):
            # Norse adds the input to the current as a jump (i += x): NIR's w_in * dt / tau_syn.
            extra["w_in"] = _array(node.tau_syn) / dt
            self.repairs.append(
                f"{self._name(module)}: w_in = tau_syn / dt for Norse's current jump"
            )
        v_leak = getattr(p, "v_leak", None)
        if v_leak is not None and np.any(_array(v_leak) != 0):
            warnings.warn(
                f"Norse {self._name(module)} starts its membrane at v_leak, NIR and neurocomp "
                "at 0: the first steps can differ from the trained module",
                NeurocompWarning,
                stacklevel=4,
            )
        return self._neuron(module, node, **extra)

    def dt(self) -> float | None:
        dts = sorted(set(self.cell_dts.values()))
        if len(dts) > 1:
            raise ParameterError(
                "<module>", "dt", dts, "every Norse cell must use the same time step"
            )
        return dts[0] if dts else None

    def reset(self) -> str:
        return "zero"  # Norse cells reset to v_reset


def _one_reset(mechanisms: dict[str, str]) -> str:
    kinds = sorted(set(mechanisms.values()))
    if len(kinds) > 1:
        raise ParameterError(
            "<module>",
            "reset_mechanism",
            mechanisms,
            "one reset mechanism for the whole network",
        )
    return kinds[0] if kinds else "zero"


def _shape_into(
    nir: Any,
    name: str,
    src: Any,
    node_out: dict[int, tuple[int, ...]],
    input_shape: tuple[int, ...],
) -> tuple[int, ...]:
    """The shape of what `src` sends to the graph's output. A node the tracer made itself (it
    flattens a recurrent layer's subgraph into new nodes, RLeaky's "lif.lif") carries the type
    NIR inferred for it instead of one recorded during the export."""
    if isinstance(src, nir.Input):
        return input_shape
    if id(src) in node_out:
        return node_out[id(src)]
    types = list((getattr(src, "output_type", None) or {}).values())
    if len(types) == 1 and types[0] is not None and np.size(types[0]) > 0:
        return tuple(int(d) for d in np.ravel(types[0]))
    raise ShapeError(f"the exported graph's output follows node '{name}', of unknown shape")


def _rebuild(
    nir: Any,
    graph: Any,
    exporter: _Exporter,
    input_shape: tuple[int, ...],
    metadata: dict[str, Any],
) -> Any:
    """Identity modules bypassed; Input and Output types without the batch dimension. NIR then
    re-infers the rest."""
    node_out = exporter.node_out
    drop = {n for n, v in graph.nodes.items() if id(v) in exporter.identities}
    drop |= {n for e in graph.edges for n in e if n not in graph.nodes}  # tracer leftovers
    edges = list(graph.edges)
    for d in sorted(drop):  # a -> identity -> b becomes a -> b (the tracer may add it already)
        into = [a for a, b in edges if b == d and a != d]
        out = [b for a, b in edges if a == d and b != d]
        edges = [e for e in edges if d not in e] + [(a, b) for a in into for b in out]
    edges = list(dict.fromkeys(edges))
    pre = {b: a for a, b in edges}
    nodes: dict[str, Any] = {}
    for name, node in graph.nodes.items():
        if name in drop:
            continue
        if isinstance(node, nir.Input):
            node = nir.Input(input_type={"input": np.array(input_shape)})
        elif isinstance(node, nir.Output) and name in pre:
            shape = _shape_into(nir, pre[name], graph.nodes[pre[name]], node_out, input_shape)
            node = nir.Output(output_type={"output": np.array(shape)})
        nodes[name] = node
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
    except Exception as e:
        raise ShapeError(f"the exported graph is inconsistent: {e}") from None
