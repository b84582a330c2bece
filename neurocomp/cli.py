"""The `neurocomp` command line. Every command is a thin wrapper over the Python API.

Errors a user can cause print one line on stderr and exit with status 2; nothing half-written is
left on disk (outputs are written to a temporary file and renamed into place).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer

from . import api
from .analysis.metrics import accuracy
from .errors import InputError, NeurocompError
from .ir.network import Network

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Deployment compiler for spiking neural networks (NIR in).",
)

DtOpt = Annotated[
    float | None,
    typer.Option("--dt", help="Time step in seconds (NIR does not store it).", metavar="SECONDS"),
]
ResetOpt = Annotated[
    str | None,
    typer.Option(
        "--reset",
        help="Reset after a spike: zero (NIR's meaning, default) or subtract.",
        metavar="zero|subtract",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print warnings only as errors would: not at all.")
]

PassesOpt = Annotated[
    str | None,
    typer.Option(
        "--passes",
        help='Pipeline to run first, e.g. "quantize{weight_bits=8},prune{sparsity=0.5}".',
    ),
]
CalibOpt = Annotated[
    Path | None,
    typer.Option(
        "--calibration", help="A .npz of sample input (and labels) for passes that need activity."
    ),
]

T = TypeVar("T")


def _run(fn: Callable[[], T], quiet: bool = False) -> T:
    """Call fn; turn NeurocompErrors into one line + exit 2, and warnings into one line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn()
        except NeurocompError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    if not quiet:
        for w in caught:
            if issubclass(w.category, UserWarning):
                typer.echo(f"warning: {w.message}", err=True)
    return result


def _load_inputs(path: Path, net: Network) -> dict[str, np.ndarray]:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc})") from None
    names = list(net.inputs)
    if len(names) == 1:
        for key in (names[0], "x", "input"):
            if key in arrays:
                return {names[0]: arrays[key]}
        candidates = [k for k in arrays if k not in ("labels", "dt")]
        if len(candidates) == 1:
            return {names[0]: arrays[candidates[0]]}
        raise InputError(
            f"{path}: expected an array named 'x' or '{names[0]}', found {sorted(arrays)}"
        )
    missing = [n for n in names if n not in arrays]
    if missing:
        raise InputError(f"{path}: missing arrays for inputs {missing}")
    return {n: arrays[n] for n in names}


def save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays to `path` through a temporary file in the same folder, then rename."""
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def _network(
    model: Path, dt: float | None, reset: str | None, passes: str | None, calibration: Path | None
) -> tuple[Network, list[dict[str, Any]]]:
    """Load a model and run the optional pipeline; returns the network and the pass reports."""
    net = api.load(model, dt=dt, reset=reset)
    if not passes:
        return net, []
    cal_x, cal_labels = None, None
    if calibration is not None:
        cal_x = _load_inputs(calibration, net)
        cal_labels = _labels(calibration)
    result = api.transform(net, passes, calibration=cal_x, labels=cal_labels)
    return result.network, result.reports


def describe(net: Network) -> dict[str, Any]:
    """A JSON-ready description of a network (used by `inspect --json`)."""
    return _jsonable(
        {
            "dt": net.dt,
            "reset": net.metadata.get("reset"),
            "neurons": net.neurons,
            "synapses": net.synapses,
            "inputs": {k: list(v) for k, v in net.inputs.items()},
            "outputs": dict(net.outputs),
            "populations": net.layer_table(),
            "projections": [
                {
                    "name": p.name,
                    "pre": p.pre,
                    "post": p.post,
                    "recurrent": p.recurrent,
                    "ops": [type(op).__name__ for op in p.ops],
                    "synapses": p.synapses(net.shape_of(p.pre)),
                }
                for p in net.projections
            ],
            "repairs": net.metadata.get("repairs", []),
        }
    )


@app.command()
def inspect(
    model: Annotated[Path, typer.Argument(help="A .nir file.")],
    dt: DtOpt = None,
    reset: ResetOpt = None,
    passes: PassesOpt = None,
    calibration: CalibOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Show what is in a model: inputs, layers, shapes, neuron and synapse counts, dt used."""
    net, reports = _run(lambda: _network(model, dt, reset, passes, calibration), quiet)
    if json_out:
        typer.echo(json.dumps(_jsonable({**describe(net), "passes": reports}), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{model.name}: dt = {net.dt} s, reset = {net.metadata.get('reset')}")
    for col in ("layer", "kind", "shape", "neurons", "synapses in", "from"):
        table.add_column(col, justify="right" if col in ("neurons", "synapses in") else "left")
    for name, shape in net.inputs.items():
        table.add_row(name, "Input", str(tuple(shape)), "-", "-", "")
    for row in net.layer_table():
        table.add_row(
            str(row["name"]),
            str(row["kind"]),
            str(tuple(row["shape"])),
            str(row["neurons"]),
            str(row["synapses_in"]),
            ", ".join(row["from"]),
        )
    table.add_section()
    table.add_row("total", "", "", str(net.neurons), str(net.synapses), "")
    console = Console(width=120)
    console.print(table)
    for out, src in net.outputs.items():
        console.print(f"output {out} <- {src}")
    for rep in reports:
        changed = {k: v for k, v in rep.items() if not isinstance(v, (list, dict))}
        console.print(f"pass {changed.pop('pass')}: {changed}")


@app.command()
def simulate(
    model: Annotated[Path, typer.Argument(help="A .nir file.")],
    input: Annotated[
        Path,
        typer.Option(
            "--input", "-i", help="A .npz with the input spikes, shape (T, batch, *input_shape)."
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the outputs here (.npz).")
    ] = None,
    dt: DtOpt = None,
    reset: ResetOpt = None,
    passes: PassesOpt = None,
    calibration: CalibOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run the float reference simulation; print spike counts and, with labels, accuracy."""

    def run() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        net, reports = _network(model, dt, reset, passes, calibration)
        xs = _load_inputs(input, net)
        trace = api.simulate(net, xs, record=True)
        summary: dict[str, Any] = {
            "steps": int(next(iter(xs.values())).shape[0]),
            "batch": int(next(iter(xs.values())).shape[1]),
            "outputs": {},
        }
        for name, y in trace.outputs.items():
            summary["outputs"][name] = {"shape": list(y.shape), "total": float(y.sum())}
        summary["spikes"] = {k: int(v.sum()) for k, v in trace.spikes.items()}
        summary["passes"] = _jsonable(reports)
        labels = _labels(input)
        if labels is not None and len(trace.outputs) == 1:
            y = next(iter(trace.outputs.values()))
            if len(labels) == y.shape[1]:
                summary["accuracy"] = accuracy(y, labels)
        if output is not None:
            save_npz_atomic(output, dict(trace.outputs))
        return trace.outputs, summary

    _, summary = _run(run, quiet)
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(f"simulated {summary['steps']} steps x {summary['batch']} samples")
    for name, info in summary["outputs"].items():
        typer.echo(f"output {name}: shape {tuple(info['shape'])}, sum {info['total']:g}")
    for name, count in summary["spikes"].items():
        typer.echo(f"  spikes {name}: {count}")
    if "accuracy" in summary:
        typer.echo(f"accuracy (output spike count argmax vs labels): {summary['accuracy']:.4f}")
    if output is not None:
        typer.echo(f"wrote {output}")


def _labels(path: Path) -> np.ndarray | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return np.asarray(data["labels"]) if "labels" in data.files else None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc})") from None


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
