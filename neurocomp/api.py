"""The public Python API: load a trained network, simulate it."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast, overload

import numpy as np

from .compiler import compile_network
from .errors import InputError, NeurocompWarning, ParameterError
from .frontend import load_nir
from .frontend.conventions import _UNSET
from .frontend.onnx_frontend import load_onnx
from .frontend.synsense_export import apply_layers, export_rockpool, export_sinabs
from .frontend.torch_frontend import Framework, export_torch, write_nir
from .ir.network import Network, ResetMode
from .passes.base import Calibration, Pass, PassContext, PipelineResult, run_pipeline
from .program.artifact import Program
from .program.artifact import load_program as _load_program
from .sim.float_sim import Trace
from .sim.float_sim import simulate as _simulate


def load(
    source: Any,
    dt: float | None = None,
    reset: str | None = None,
    calibration: np.ndarray | Mapping[str, np.ndarray] | None = None,
    *,
    framework: str | None = None,
    max_spikes: Any = _UNSET,
) -> Network:
    """Load a network: a .nir path or `nir.NIRGraph`, or a trained ANN (.onnx path or
    `onnx.ModelProto`) converted to a rate-coded IF network (see docs/onnx.md).

    dt: the time step in seconds used to discretise time constants. NIR does not store it; when
        omitted it is inferred only where an exporter's convention makes it certain (a warning
        says so), otherwise a `DtError` asks for it. Networks without time constants need none.
    reset: "zero" (NIR's meaning: v <- v_reset after a spike, the default) or "subtract"
        (v <- v - v_threshold).
    calibration: ONNX only, and required there: ANN inputs (batch, *input_shape) in [0, 1] or
        rate-coded spike trains (T, batch, *input_shape), for threshold balancing.
    framework: the NIR exporter the file comes from ("snntorch", "norse", "sinabs", "rockpool",
        "spyx", or "nir" for NIR's own equations): its conventions (discretisation, parameter
        encodings, default reset, spikes per step, threshold test) are applied, each reported
        in a warning naming the layer (docs/compatibility.md). By default a framework the file
        makes certain is applied with a warning, and parameters that only look like one are
        warned about.
    max_spikes: spikes a neuron may send per step: 1, an integer cap, or None for no cap;
        by default the framework's own (Sinabs: None, Rockpool: 65536, others: 1).
    """
    if _is_onnx(source):
        if dt is not None or reset not in (None, "subtract"):
            raise ParameterError("<network>", "dt/reset", (dt, reset), "not used for ONNX models")
        if framework is not None or max_spikes is not _UNSET:
            raise ParameterError(
                "<network>", "framework/max_spikes", framework, "NIR files only, not ONNX models"
            )
        return load_onnx(source, calibration=calibration)
    return load_nir(source, dt=dt, reset=reset, framework=framework, max_spikes=max_spikes)


def from_torch(
    module: Any,
    sample: Any,
    framework: Framework | Literal["sinabs", "rockpool"] = "snntorch",
    *,
    dt: float | None = None,
    reset: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Network:
    """A trained snnTorch, Norse, Sinabs or Rockpool module as a Network, ready to simulate,
    transform or compile.

    Exports through the framework's own NIR exporter and repairs its known quirks (batch
    dimension in the input type, scalar parameters NIR wants per neuron, missing shapes and
    types, and what the exporter drops: Sinabs' tau_syn, norm_input, spike function and reset;
    Rockpool's biases, recurrent weights and max_spikes_per_dt); the framework's conventions
    (docs/compatibility.md) are applied; unrepairable departures are warned about or refused,
    naming the layer.

    sample: one time step of input, (batch, *input_shape) (a torch tensor or numpy array);
        Sinabs LIF/IAF layers take (batch, 1, *input_shape), its Squeeze layers (batch, ...).
    dt: the time step in seconds; by default the one that reproduces the framework's update
        (snnTorch: its exporter's 1e-4 s convention; Norse and Rockpool: the modules' `dt`;
        Sinabs: 1, its time constants being in steps).
    reset: "zero" or "subtract"; by default each layer's own (snnTorch's `reset_mechanism`,
        Sinabs' reset_fn, Rockpool: subtract), "zero" for Norse.
    path: also write the repaired NIR graph there (atomically), for `neurocomp compile`.
    """
    if framework in ("sinabs", "rockpool"):
        return _from_synsense(module, sample, framework, dt, reset, path)
    export = export_torch(module, sample, cast(Framework, framework))
    if path is not None:
        write_nir(export.graph, path)
    net = load_nir(
        export.graph,
        dt=dt if dt is not None else export.dt,
        reset=reset if reset is not None else export.reset,
    )
    repairs = [*cast(list[str], net.metadata.get("repairs", [])), *export.repairs]
    meta = {**net.metadata, "source": f"{framework} module (from_torch)", "repairs": repairs}
    return dataclasses.replace(net, metadata=meta)


def _from_synsense(
    module: Any,
    sample: Any,
    framework: str,
    dt: float | None,
    reset: str | None,
    path: str | os.PathLike[str] | None,
) -> Network:
    export = (
        export_sinabs(module, sample) if framework == "sinabs" else export_rockpool(module, sample)
    )
    for msg in export.repairs:
        warnings.warn(f"repaired: {msg}", NeurocompWarning, stacklevel=3)
    if path is not None:
        write_nir(export.graph, path)
    with warnings.catch_warnings():  # the per-layer options below replace these defaults
        warnings.filterwarnings("ignore", message=".*NIR does not record", category=UserWarning)
        net = load_nir(export.graph, dt=dt if dt is not None else export.dt, framework=framework)
    layers = export.layers
    if reset is not None:
        if reset not in ("zero", "subtract"):
            raise ParameterError("<module>", "reset", reset, "must be 'zero' or 'subtract'")
        layers = {
            k: dataclasses.replace(v, reset=cast(ResetMode, reset)) for k, v in layers.items()
        }
    net = apply_layers(net, layers)
    repairs = [*cast(list[str], net.metadata.get("repairs", [])), *export.repairs]
    meta = {**net.metadata, "source": f"{framework} module (from_torch)", "repairs": repairs}
    return dataclasses.replace(net, metadata=meta)


def _is_onnx(source: Any) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return str(source).lower().endswith(".onnx")
    return type(source).__name__ == "ModelProto"  # no onnx import needed


@overload
def simulate(
    net: Network,
    x: Any,
    *,
    record: Literal[False] = ...,
    output: str | None = ...,
    dtype: type = ...,
) -> np.ndarray: ...
@overload
def simulate(
    net: Network, x: Any, *, record: Literal[True], output: str | None = ..., dtype: type = ...
) -> Trace: ...
def simulate(
    net: Network,
    x: np.ndarray | Mapping[str, np.ndarray],
    *,
    record: bool = False,
    output: str | None = None,
    dtype: type = np.float64,
) -> np.ndarray | Trace:
    """Float reference simulation of `net` over T steps of `dt` seconds.

    x: (T, batch, *input_shape), or a dict by input name. Returns the output (T, batch,
    *output_shape) (pick one with `output=` when there are several), or with `record=True` a
    `Trace` with every output and every population's spikes, v and u.
    """
    trace = _simulate(net, x, record=record, dtype=dtype)
    if record:
        return trace
    if output is None:
        if len(trace.outputs) != 1:
            raise InputError(f"the network has outputs {sorted(trace.outputs)}: pass output=")
        return next(iter(trace.outputs.values()))
    if output not in trace.outputs:
        raise InputError(f"no output '{output}'; outputs are {sorted(trace.outputs)}")
    return trace.outputs[output]


def transform(
    net: Network,
    passes: str | Sequence[Pass],
    calibration: np.ndarray | Mapping[str, np.ndarray] | None = None,
    labels: np.ndarray | None = None,
    verify: bool = True,
) -> PipelineResult:
    """Run a pipeline of passes on the float network.

    passes: "quantize{weight_bits=8},prune{sparsity=0.5}" or a list of pass objects.
    calibration: sample input (T, batch, *input_shape) for passes that look at activity;
    labels: its classes, for the pruning accuracy guard. Returns the new network (`.network`)
    and one report per pass (`.reports`); `net` itself is not modified.
    """
    cal = Calibration.of(calibration, labels)
    return run_pipeline(net, passes, PassContext(calibration=cal), verify=verify)


def compile(
    model: Any,
    target: str = "reference",
    passes: str | Sequence[Pass] | None = None,
    calibration: np.ndarray | Mapping[str, np.ndarray] | None = None,
    labels: np.ndarray | None = None,
    chips: int | None = None,
    dt: float | None = None,
    reset: str | None = None,
) -> Program:
    """Compile a network (a Network, .nir path or nir.NIRGraph) for a target chip.

    target: a shipped chip name ("reference") or a path to a chip TOML file. passes: a pipeline
    (quantization to the target's format is added or adjusted). calibration: sample input
    (T, batch, *input_shape) for passes and for activity-aware placement. chips: chips per board.
    Raises ResourceLimitError listing every limit the network exceeds.
    """
    net = (
        model
        if isinstance(model, Network)
        else load(model, dt=dt, reset=reset, calibration=calibration)
    )
    return compile_network(net, target, passes, calibration, labels, chips)


def load_program(directory: Any) -> Program:
    """Read a program folder written by `Program.save` / `neurocomp compile -o`."""
    return _load_program(directory)
