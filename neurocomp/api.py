"""The public Python API: load a trained network, simulate it.

Every argument is checked at this boundary: a wrong type raises `ArgumentError` naming the
function, the argument, the type given and the type wanted; an option outside its legal range
(`dt`, `chips`, a pass option) names the range.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast, overload

import numpy as np

from .compiler import compile_network
from .errors import ArgumentError, InputError, NeurocompWarning, ParameterError
from .frontend import load_nir
from .frontend.conventions import _UNSET
from .frontend.onnx_frontend import load_onnx
from .frontend.reader import DT_RANGE_S
from .frontend.reader import check_dt as check_dt_range
from .frontend.synsense_export import apply_layers, export_rockpool, export_sinabs
from .frontend.torch_frontend import Framework, export_torch, write_nir
from .inputs import check_flag, check_labels, check_time_batch
from .ir.network import Network, ResetMode
from .passes.base import (
    Calibration,
    Pass,
    PassContext,
    PipelineResult,
    as_passes,
    check_options,
    run_pipeline,
)
from .program.artifact import Program
from .program.artifact import load_program as _load_program
from .sim.float_sim import Trace, as_inputs
from .sim.float_sim import simulate as _simulate
from .target.spec import TargetSpec, check_chips
from .train.passes import gradual_before_training

# Legal ranges of the options checked here (the one definition of each lives with its reader;
# chips per board: target.spec.MAX_CORES cores on a board, checked by target.spec.check_chips).
DT_MIN_S, DT_MAX_S = DT_RANGE_S  # a time step from 1 ns to 10 s


def _is_int(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _path_arg(fn: str, name: str, value: object) -> None:
    if not isinstance(value, (str, os.PathLike)):
        raise ArgumentError(fn, name, value, "a path (str or os.PathLike)")


def _optional(fn: str, name: str, value: object, kind: type, wanted: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise ArgumentError(fn, name, value, f"{wanted} or None")


def check_dt(fn: str, dt: object) -> None:
    """dt: None, or a finite number of seconds from DT_MIN_S to DT_MAX_S."""
    if dt is None:
        return
    if not _is_real(dt):
        raise ArgumentError(fn, "dt", dt, "a number of seconds (float) or None")
    check_dt_range(dt)  # DtError naming the range


def _chips(chips: object) -> Any:
    """chips: None (the target's default) or an int >= 1 (a numpy integer is taken as one);
    target.spec.check_chips names what is wrong, and the bound for the chip (MAX_CORES cores
    on a board) once the target is loaded."""
    if isinstance(chips, np.integer):
        chips = int(chips)
    if chips is not None:
        check_chips(chips)
    return chips


def _array_arg(fn: str, name: str, value: object) -> None:
    """An array of numbers, or a dict of them by input name (None allowed)."""
    if value is None:
        return
    items = value.items() if isinstance(value, Mapping) else [(None, value)]
    for key, arr in items:
        label = name if key is None else f"{name}[{key!r}]"
        if key is not None and not isinstance(key, str):
            raise ArgumentError(fn, f"{name} key", key, "input names (str)")
        try:
            dtype = np.asarray(arr).dtype
        except (ValueError, TypeError):
            dtype = np.dtype(object)
        if isinstance(arr, (str, bytes)) or dtype.kind not in "biuf":
            raise ArgumentError(fn, label, arr, "an array of numbers (numpy array)")


def _net_arg(fn: str, net: object) -> None:
    if not isinstance(net, Network):
        raise ArgumentError(fn, "net", net, "a Network (from nc.load or nc.from_torch)")


def _passes_arg(fn: str, passes: object) -> list[Pass]:
    """A pipeline string or a list of pass objects, each option of the type it declares."""
    if passes is not None and not isinstance(passes, (str, Sequence)):
        raise ArgumentError(
            fn, "passes", passes, 'a pipeline string ("quantize,prune{...}") or a list of passes'
        )
    pipeline = as_passes(cast("str | Sequence[Pass] | None", passes))
    for i, p in enumerate(pipeline):
        if isinstance(p, str) or not callable(getattr(p, "run", None)):
            raise ArgumentError(fn, f"passes[{i}]", p, "a pass object (e.g. Quantize())")
        if dataclasses.is_dataclass(p):
            check_options(p)
    return pipeline


def load(
    source: Any,
    dt: float | None = None,
    reset: str | None = None,
    calibration: np.ndarray | Mapping[str, np.ndarray] | None = None,
    *,
    framework: str | None = None,
    max_spikes: Any = _UNSET,
    neurons: str | None = None,
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
        by default the framework's own (Sinabs: None, Rockpool: 65536, others: 1). For ONNX,
        an integer G > 1 converts to graded spikes (multi-spike IF neurons, cap G, input
        `graded_code(x, T, G)`; docs/onnx.md), 1 (the default) to binary rate coding.
    neurons: ONNX only: "sigma_delta" converts to Loihi 2's sigma-delta neurons (signed graded
        payloads, input `sigma_delta_code(x, T)`; docs/onnx.md); None or "if": IF neurons.
    """
    check_dt("load", dt)
    _optional("load", "reset", reset, str, '"zero" or "subtract"')
    _array_arg("load", "calibration", calibration)
    if _is_onnx(source):
        if dt is not None or reset not in (None, "subtract"):
            raise ParameterError("<network>", "dt/reset", (dt, reset), "not used for ONNX models")
        if framework is not None:
            raise ParameterError(
                "<network>", "framework", framework, "NIR files only, not ONNX models"
            )
        graded = {} if max_spikes is _UNSET else {"max_spikes": max_spikes}  # G > 1: graded
        if neurons is not None:
            graded["neurons"] = neurons
        return load_onnx(source, calibration=calibration, **graded)
    if neurons is not None:
        raise ParameterError("<network>", "neurons", neurons, "ONNX models only, not NIR files")
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
    check_dt("from_torch", dt)
    if not callable(getattr(module, "named_modules", None)):  # torch is not imported here
        raise ArgumentError("from_torch", "module", module, "a torch.nn.Module")
    _optional("from_torch", "reset", reset, str, '"zero" or "subtract"')
    _optional(
        "from_torch", "framework", framework, str, '"snntorch", "norse", "sinabs" or "rockpool"'
    )
    if path is not None:
        _path_arg("from_torch", "path", path)
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
    _net_arg("simulate", net)
    _array_arg("simulate", "x", x)
    check_flag("simulate", "record", record)
    _optional("simulate", "output", output, str, "an output name (str)")
    try:
        float_type = np.dtype(dtype).kind == "f"
    except TypeError:
        float_type = False
    if not float_type:
        raise ArgumentError("simulate", "dtype", dtype, "a float type (np.float64, np.float32)")
    xs = as_inputs(net, x)
    for name, arr in xs.items():
        check_time_batch(name, arr)
    trace = _simulate(net, xs, record=record, dtype=dtype)
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
    labels: its classes, for the pruning accuracy guard and the passes that train. A one-shot
    `prune{sparsity=s}` before a pass that trains runs as `prune_gradual{sparsity=s}`
    (docs/passes.md, prune). Returns the new network (`.network`)
    and one report per pass (`.reports`); `net` itself is not modified.
    """
    _net_arg("transform", net)
    pipeline = _passes_arg("transform", passes)
    check_flag("transform", "verify", verify)
    pipeline = gradual_before_training(pipeline)
    cal = _calibration("transform", net, calibration, labels)
    return run_pipeline(net, pipeline, PassContext(calibration=cal), verify=verify)


def _calibration(fn: str, net: Network, x: Any, labels: Any) -> Calibration | None:
    """Calibration input checked like simulation input, and labels one per sample."""
    _array_arg(fn, "calibration", x)
    _array_arg(fn, "labels", labels)
    if x is None:
        if labels is not None:
            raise InputError(f"{fn}(): labels given without calibration input")
        return None
    xs = as_inputs(net, x)
    for name, arr in xs.items():
        check_time_batch(name, arr)
    if labels is not None:
        batch = next(iter(xs.values())).shape[1]
        labels = check_labels(labels, batch, f"{fn}(): labels")
    return Calibration.of(x, labels)


def compile(
    model: Any,
    target: str = "reference",
    passes: str | Sequence[Pass] | None = None,
    calibration: np.ndarray | Mapping[str, np.ndarray] | None = None,
    labels: np.ndarray | None = None,
    chips: int | None = None,
    dt: float | None = None,
    reset: str | None = None,
    fit: str | Mapping[str, Any] | None = None,
) -> Program:
    """Compile a network (a Network, .nir path or nir.NIRGraph) for a target chip.

    target: a shipped chip name ("reference") or a path to a chip TOML file. passes: a pipeline
    (quantization to the target's format is added or adjusted). calibration: sample input
    (T, batch, *input_shape) for passes and for activity-aware placement. chips: chips per board.
    fit: a budget instead of passes, "cores=2,max_drop=0.01" (also synapse_bits=, energy_j= per
    inference in joules): prune, quantize and fine-tune until the network fits, judged on a
    validation split of the labelled calibration data (docs/passes.md#fitting-to-a-budget).
    Raises ResourceLimitError listing every limit the network exceeds.
    """
    if not isinstance(target, (str, os.PathLike, TargetSpec)):
        raise ArgumentError("compile", "target", target, "a chip name or .toml path (str)")
    pipeline = _passes_arg("compile", passes) if passes is not None else None
    chips = _chips(chips)
    check_dt("compile", dt)
    _array_arg("compile", "calibration", calibration)
    if isinstance(model, Network):
        for name, value in (("dt", dt), ("reset", reset)):
            if value is not None:  # a Network's dt and reset were fixed when it was loaded
                raise ArgumentError("compile", name, value, "None for a Network (give it to load)")
    net = (
        model
        if isinstance(model, Network)
        else load(model, dt=dt, reset=reset, calibration=calibration)
    )
    _calibration("compile", net, calibration, labels)
    return compile_network(net, target, pipeline, calibration, labels, chips, fit=fit)


def load_program(directory: Any) -> Program:
    """Read a program folder written by `Program.save` / `neurocomp compile -o`."""
    _path_arg("load_program", "directory", directory)
    return _load_program(directory)
