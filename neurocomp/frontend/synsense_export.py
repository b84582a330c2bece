"""Trained Sinabs and Rockpool modules to NIR, through each framework's own `to_nir`, with what
only the live module knows put back.

Their exporters drop facts their own forward pass uses (measured, tests/interop/):

- Sinabs: `tau_syn` (a LIF with a synaptic current is exported as a plain LIF), `norm_input`,
  the spike function (MultiSpike, SingleSpike, MaxSpike(k)) and the reset (MembraneSubtract,
  MembraneReset); scalar parameters give 0-d arrays `nir.write` cannot store;
- Rockpool: every layer's `bias` (v_leak = 0 is written), the recurrent weights of
  `has_rec=True` layers, and `max_spikes_per_dt`; the batch dimension stays in Input/Output.

Here the graph gets the dropped parameters back (tau_syn as a CubaLIF, norm_input as r, bias as
v_leak, w_rec as a Linear cycle), and `LayerOptions` carries per layer what NIR has no field for
(reset, spikes per step); `neurocomp.api.from_torch` applies them after loading.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError, NeurocompWarning, ParameterError, UnsupportedModuleError
from ..ir.network import Network, ResetMode


@dataclass(frozen=True)
class LayerOptions:
    """What NIR cannot store about one neuron layer: reset mode and spikes per step."""

    reset: ResetMode
    max_spikes: int | None


@dataclass
class LiveExport:
    """A NIR graph from the framework's exporter with the live module's parameters put back."""

    graph: Any  # nir.NIRGraph
    dt: float | None
    layers: dict[str, LayerOptions]
    repairs: list[str] = field(default_factory=list)


def _f32(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.broadcast_to(np.asarray(x, dtype=np.float32), shape).copy()


def _imports(framework: str) -> tuple[Any, Any]:
    try:
        import nir
        import torch

        __import__(framework)
    except ImportError as e:
        raise InputError(
            f"from_torch(framework='{framework}') needs torch, nir and {framework}: {e}"
        ) from None
    return torch, nir


def _out_shapes(
    torch: Any, net: Any, x: Any, inputs: dict[str, tuple[int, ...]] | None = None
) -> dict[str, tuple[int, ...]]:
    """Each named module's output shape without its first (batch) dimension (and, into
    `inputs`, its input shape likewise)."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for name, mod in net.named_modules():

        def hook(m: Any, a: Any, out: Any, name: str = name) -> None:
            o = out[0] if isinstance(out, tuple) else out
            if hasattr(o, "shape"):
                shapes[name] = tuple(int(d) for d in o.shape[1:])
            if inputs is not None and a and hasattr(a[0], "shape"):
                inputs[name] = tuple(int(d) for d in a[0].shape[1:])

        handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            net(x)
    except Exception as e:
        raise InputError(f"the module's forward pass failed on the sample: {e}") from None
    finally:
        for h in handles:
            h.remove()
    return shapes


# ------------------------------------------------------------------------------------------------
# Sinabs
# ------------------------------------------------------------------------------------------------


def _sinabs_options(mod: Any, name: str, act: Any) -> LayerOptions:
    spike_fn, reset_fn = mod.spike_fn, mod.reset_fn
    if spike_fn is act.SingleSpike:
        cap: int | None = 1
    elif spike_fn is act.MultiSpike:
        cap = None
    elif isinstance(spike_fn, act.MaxSpike):
        cap = spike_fn.max_num_spikes_per_bin
    else:
        raise ParameterError(name, "spike_fn", type(spike_fn).__name__, "Single/Multi/MaxSpike")
    if isinstance(reset_fn, act.MembraneSubtract):
        if reset_fn.subtract_value is not None:
            raise ParameterError(
                name, "subtract_value", reset_fn.subtract_value, "None (subtract the threshold)"
            )
        reset: ResetMode = "subtract"
    elif isinstance(reset_fn, act.MembraneReset):
        if reset_fn.reset_value != 0:
            raise ParameterError(name, "reset_value", reset_fn.reset_value, "0")
        reset = "zero"
    else:
        raise ParameterError(name, "reset_fn", type(reset_fn).__name__, "MembraneSubtract/Reset")
    if getattr(mod, "min_v_mem", None) is not None:
        raise ParameterError(
            name, "min_v_mem", float(mod.min_v_mem), "None: NIR neurons have no lower bound"
        )
    return LayerOptions(reset, cap)


def _reset_states(net: Any) -> None:
    import sinabs.layers as sl

    for m in net.modules():
        if isinstance(m, sl.StatefulLayer):
            m.reset_states()


def _per_neuron(
    torch: Any, net: Any, shapes: dict[str, tuple[int, ...]]
) -> tuple[dict[str, LayerOptions], dict[str, Any]]:
    """Each spiking layer's options; thresholds and time constants made per-neuron arrays
    (nir.write cannot store 0-d datasets). Returns the options and the LIF layers by name."""
    import sinabs.activation as act
    import sinabs.layers as sl

    layers: dict[str, LayerOptions] = {}
    lifs: dict[str, Any] = {}
    for name, m in net.named_modules():
        if not isinstance(m, (sl.LIF, sl.IAF)):
            continue
        if getattr(m, "train_alphas", False):
            raise ParameterError(name, "train_alphas", True, "False (time constants exported)")
        squeeze = type(m).__name__.endswith("Squeeze")
        shape = shapes[name] if squeeze else shapes[name][1:]
        layers[name] = _sinabs_options(m, name, act)
        is_lif = not isinstance(m, sl.IAF)
        with torch.no_grad():
            thr = torch.as_tensor(_f32(m.spike_threshold, shape))
            m.spike_threshold = torch.nn.Parameter(thr, requires_grad=False)
            if is_lif:
                m.tau_mem = torch.nn.Parameter(torch.as_tensor(_f32(m.tau_mem, shape)))
                lifs[name] = (m, shape)
    _reset_states(net)
    return layers, lifs


def _writable(nir: Any, nodes: dict[str, Any], in_shapes: dict[str, tuple[int, ...]]) -> None:
    """Conv2d input_shape and Flatten input_type, which Sinabs leaves as None. In place."""
    for name, node in list(nodes.items()):
        if isinstance(node, nir.Conv2d) and node.input_shape is None and name in in_shapes:
            node.input_shape = np.array(in_shapes[name][-2:])
        if isinstance(node, nir.Flatten) and name in in_shapes:
            squeeze = len(in_shapes[name]) == 3  # Squeeze layers: (batch * time, C, H, W)
            shape = in_shapes[name] if squeeze else in_shapes[name][1:]
            nodes[name] = nir.Flatten(
                input_type={"input": np.array(shape)},
                start_dim=node.start_dim,
                end_dim=node.end_dim,
            )


def _lif_node(nir: Any, name: str, m: Any, shape: tuple[int, ...], repairs: list[str]) -> Any:
    """A Sinabs LIF layer as the node the Sinabs convention reads back exactly: norm_input as
    r, tau_syn (which Sinabs' exporter drops) as a CubaLIF."""
    a = np.exp(-1.0 / _f32(m.tau_mem, shape).astype(np.float64))
    r = np.ones(shape) if m.norm_input else 1.0 / (1.0 - a)
    if not m.norm_input:
        repairs.append(f"sinabs: layer '{name}': norm_input=False as r = 1 / (1 - alpha)")
    common = dict(v_threshold=_f32(m.spike_threshold, shape), v_leak=np.zeros(shape))
    if m.tau_syn is None:
        return nir.LIF(tau=_f32(m.tau_mem, shape), r=r.astype(np.float32), **common)
    repairs.append(f"sinabs: layer '{name}': tau_syn (dropped by Sinabs' export) restored")
    return nir.CubaLIF(  # Sinabs: i = alpha_syn * (i + x)
        tau_syn=_f32(m.tau_syn, shape),
        tau_mem=_f32(m.tau_mem, shape),
        r=r.astype(np.float32),
        w_in=np.ones(shape, np.float32),
        **common,
    )


def export_sinabs(module: Any, sample: Any) -> LiveExport:
    """Export a Sinabs module. sample: what its forward takes for one step ((batch, 1, ...)
    for LIF/IAF layers, (batch, ...) for the Squeeze layers)."""
    torch, nir = _imports("sinabs")
    import sinabs

    net = copy.deepcopy(module).eval()
    x = torch.as_tensor(np.asarray(sample, dtype=np.float32))
    _reset_states(net)
    in_shapes: dict[str, tuple[int, ...]] = {}
    shapes = _out_shapes(torch, net, x, in_shapes)
    layers, lifs = _per_neuron(torch, net, shapes)
    try:
        graph = sinabs.to_nir(net, x)
    except NotImplementedError as e:
        raise UnsupportedModuleError("sinabs", {"<module>": str(e)}) from None
    nodes = dict(graph.nodes)
    _writable(nir, nodes, in_shapes)
    repairs: list[str] = []
    for name, (m, shape) in lifs.items():
        if name in nodes:
            nodes[name] = _lif_node(nir, name, m, shape, repairs)
    graph = nir.NIRGraph(nodes=_numpy_nodes(nodes), edges=list(graph.edges), type_check=False)
    graph.metadata = {"source": "sinabs via neurocomp.from_torch", "framework": "sinabs"}
    return LiveExport(graph, 1.0, layers, repairs)


# ------------------------------------------------------------------------------------------------
# Rockpool
# ------------------------------------------------------------------------------------------------


def export_rockpool(module: Any, sample: Any) -> LiveExport:
    """Export a Rockpool torch module. sample: one step, (batch, n_inputs)."""
    torch, nir = _imports("rockpool")
    from rockpool.nn.modules import ExpSynTorch, LIFNeuronTorch, LIFTorch
    from rockpool.nn.modules.torch.nir import to_nir

    net = copy.deepcopy(module)
    x = torch.as_tensor(np.asarray(sample, dtype=np.float32))
    if x.ndim == 2:
        x = x[:1]
    graph = to_nir(net, x)
    nodes, edges = dict(graph.nodes), list(graph.edges)
    layers: dict[str, LayerOptions] = {}
    repairs: list[str] = []
    dts = set()
    for name, m in net.named_modules():
        if not isinstance(m, (LIFTorch, LIFNeuronTorch, ExpSynTorch)):
            continue
        leaf = name.rsplit(".", 1)[-1]
        suffix = f"_{type(m).__name__}"
        key = next((k for k in nodes if k in (leaf, f"{leaf}{suffix}")), None)
        if key is None:
            continue
        if isinstance(m, ExpSynTorch):  # scalar tau: per-neuron arrays nir.write can store
            shape, li = (int(m.size_out),), nodes[key]
            nodes[key] = nir.LI(
                tau=_f32(li.tau, shape), r=_f32(li.r, shape), v_leak=_f32(li.v_leak, shape)
            )
            dts.add(float(m.dt))
            continue
        dts.add(float(m.dt))
        if float(getattr(m, "noise_std", 0.0)) != 0:
            raise ParameterError(key, "noise_std", float(m.noise_std), "0: NIR has no noise")
        cap = int(float(m.max_spikes_per_dt))
        layers[key] = LayerOptions("subtract", cap)
        node = nodes[key]
        n = int(m.size_out)
        bias = _f32(m.bias, (n,))
        if np.any(bias != 0):
            fields = {
                f.name: getattr(node, f.name)
                for f in dataclasses.fields(node)
                if f.name not in ("input_type", "output_type", "metadata")
            }
            fields["v_leak"] = bias
            nodes[key] = type(node)(**fields)
            repairs.append(f"rockpool: layer '{key}': bias (dropped by Rockpool's export) restored")
        if getattr(m, "_has_rec", False):
            w = m.w_rec.detach().cpu().numpy().astype(np.float32)
            rec = f"{key}.w_rec"
            nodes[rec] = nir.Linear(weight=w.T.copy())
            edges += [(key, rec), (rec, key)]
            repairs.append(
                f"rockpool: layer '{key}': recurrent weights (dropped by its export) restored"
            )
    if len(dts) > 1:
        raise ParameterError("<module>", "dt", sorted(dts), "one dt for every Rockpool layer")
    graph = nir.NIRGraph(nodes=_numpy_nodes(nodes), edges=edges, type_check=False)
    graph.metadata = {"source": "rockpool via neurocomp.from_torch", "framework": "rockpool"}
    return LiveExport(graph, dts.pop() if dts else None, layers, repairs)


def _numpy_nodes(nodes: dict[str, Any]) -> dict[str, Any]:
    """Nodes with torch tensors (some requiring grad, which nir.write cannot store) as arrays."""
    out = {}
    for name, node in nodes.items():
        changes = {
            f.name: getattr(node, f.name).detach().cpu().numpy()
            for f in dataclasses.fields(node)
            if hasattr(getattr(node, f.name), "detach")
        }
        out[name] = dataclasses.replace(node, **changes) if changes else node
    return out


def apply_layers(net: Network, layers: dict[str, LayerOptions]) -> Network:
    """`net` with each named layer's reset and spikes per step set as its module has them."""
    pops = []
    for pop in net.populations:
        opt = layers.get(pop.name)
        if opt is not None and pop.params.spiking:
            pop = dataclasses.replace(
                pop,
                params=dataclasses.replace(pop.params, reset=opt.reset, max_spikes=opt.max_spikes),
            )
        pops.append(pop)
    resets = {o.reset for o in layers.values()}
    meta = dict(net.metadata)
    if len(resets) == 1:
        meta["reset"] = resets.pop()
    elif resets:
        meta["reset"] = "per layer"
        warnings.warn("layers reset differently: set per layer", NeurocompWarning, stacklevel=3)
    return dataclasses.replace(net, populations=tuple(pops), metadata=meta)
