"""The `neurocomp` command line. Every command is a thin wrapper over the Python API.

Errors a user can cause print one line on stderr and exit with status 2; nothing half-written is
left on disk (outputs are written to a temporary file and renamed into place, see files.py).
^C prints one line and exits with status 130. Text that comes from files or paths is printed
literally (rich markup is never interpreted).
"""

from __future__ import annotations

import _thread
import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from . import api
from .cli_io import (
    chip_inputs,
    load_inputs,
    load_model,
    load_network,
    read_labels,
    run_command,
    table_console,
)
from .cli_sweep import sweep
from .errors import InputError
from .files import check_output, write_atomic
from .inputs import check_chip_inputs
from .ir.network import Network
from .ir.timing import output_lags
from .mapping.chips import board_summary
from .present.metrics import accuracy
from .program.artifact import Program, write_npz
from .program.folder import PROGRAM_FILES

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
        help="Reset after a spike: zero (NIR's meaning, the default) or subtract; "
        "with --framework, that framework's default.",
        metavar="zero|subtract",
    ),
]
FrameworkOpt = Annotated[
    str | None,
    typer.Option(
        "--framework",
        help="The NIR file's exporter: nir, snntorch, norse, sinabs, rockpool or spyx; applies "
        "its conventions (docs/compatibility.md).",
        metavar="NAME",
    ),
]
MaxSpikesOpt = Annotated[
    str | None,
    typer.Option(
        "--max-spikes",
        help="Spikes a neuron may send per step: 1, a cap, or none (no cap); default: the "
        "framework's. ONNX: a cap G > 1 converts to graded spikes.",
        metavar="N|none",
    ),
]
NeuronsOpt = Annotated[
    str | None,
    typer.Option(
        "--neurons",
        help="ONNX: 'sigma-delta' converts to Loihi 2's sigma-delta neurons (signed graded "
        "payloads, input sigma_delta_code); default: IF neurons.",
        metavar="if|sigma-delta",
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


def _save_program(prog: Program, out: Path) -> None:
    """Program.save writes through files.replace_folder (locked, leftovers of killed runs
    removed, a symlink followed)."""
    prog.save(out)


def save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays to `path` atomically (fixed timestamps: the same outputs, the same bytes)."""
    write_atomic(path, lambda tmp: write_npz(tmp, arrays))


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


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
    model: Annotated[Path, typer.Argument(help="A .nir or .onnx file.")],
    dt: DtOpt = None,
    reset: ResetOpt = None,
    framework: FrameworkOpt = None,
    max_spikes: MaxSpikesOpt = None,
    neurons: NeuronsOpt = None,
    passes: PassesOpt = None,
    calibration: CalibOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Show what is in a model: inputs, layers, shapes, neuron and synapse counts, dt used."""
    net, reports = run_command(
        lambda: load_network(model, dt, reset, passes, calibration, framework, max_spikes, neurons),
        quiet,
    )
    if json_out:
        typer.echo(json.dumps(_jsonable({**describe(net), "passes": reports}), indent=2))
        return
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
    console = table_console()
    console.print(table)
    for out, src in net.outputs.items():
        console.print(f"output {out} <- {src}")
    for rep in reports:
        changed = {k: v for k, v in rep.items() if not isinstance(v, (list, dict))}
        console.print(f"pass {changed.pop('pass')}: {changed}")


@app.command()
def simulate(
    model: Annotated[Path, typer.Argument(help="A .nir file, or a program folder from compile.")],
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
    framework: FrameworkOpt = None,
    max_spikes: MaxSpikesOpt = None,
    neurons: NeuronsOpt = None,
    passes: PassesOpt = None,
    calibration: CalibOpt = None,
    engine: Annotated[
        str, typer.Option("--engine", help="For program folders: reference or lava.")
    ] = "reference",
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Simulate a model (float reference) or a compiled program (bit-accurate).

    Prints spike counts, and accuracy when the input file holds labels."""

    def run() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if output is not None:
            check_output(output, folder=False)
        loading = {"--dt": dt, "--reset": reset, "--framework": framework}
        loading.update({"--max-spikes": max_spikes, "--neurons": neurons, "--passes": passes})
        _only_where_used(model.is_dir(), {**loading, "--calibration": calibration}, engine)
        if model.is_dir():
            prog = api.load_program(model)
            xs = chip_inputs(input, prog)
            result = prog.outputs(xs, engine=engine, record=True)
            outputs, spikes = result.outputs, result.spikes
            reports: list[dict[str, Any]] = []
            label = f"bit-accurate, {engine} engine, target {prog.target.name}"
            lags = output_lags(prog.net, prog.target.format.synapse_delay)
        else:
            net, reports = load_network(
                model, dt, reset, passes, calibration, framework, max_spikes, neurons
            )
            xs = load_inputs(input, net)
            trace = api.simulate(net, xs, record=True)
            outputs, spikes, label = trace.outputs, trace.spikes, "float reference"
            lags = {}
        first = next(iter(xs.values()))
        summary: dict[str, Any] = {
            "engine": label,
            "steps": int(first.shape[0]),
            "batch": int(first.shape[1]),
            "outputs": {},
        }
        for name, y in outputs.items():
            summary["outputs"][name] = {"shape": list(y.shape), "total": float(y.sum())}
        summary["spikes"] = {k: int(v.sum()) for k, v in spikes.items()}
        summary["output_lag_steps"] = lags
        summary["passes"] = _jsonable(reports)
        labels = read_labels(input, xs)
        if labels is not None and len(outputs) == 1:
            summary["accuracy"] = accuracy(next(iter(outputs.values())), labels)
        if output is not None:
            save_npz_atomic(output, dict(outputs))
        return outputs, summary

    _, summary = run_command(run, quiet)
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
        return
    _echo_simulation(summary, output)


def _only_where_used(program: bool, loading: dict[str, Any], engine: str) -> None:
    """Options that would be ignored are refused: how to load a model means nothing to a program
    folder (compile fixed it), and the engine is chosen among a program's."""
    given = [k for k, v in loading.items() if v is not None]
    if program and given:
        raise InputError(
            f"simulate: {given[0]} applies to a model file; a program folder was compiled with "
            "its own (compile again to change it)"
        )
    if not program and engine != "reference":
        raise InputError(
            f"simulate: --engine {engine} runs a program folder; a model file is simulated in "
            "float (compile it first)"
        )


def _echo_simulation(summary: dict[str, Any], output: Path | None) -> None:
    """The text `simulate` prints: outputs, spikes, lags, accuracy."""
    typer.echo(
        f"simulated {summary['steps']} steps x {summary['batch']} samples ({summary['engine']})"
    )
    for name, info in summary["outputs"].items():
        typer.echo(f"output {name}: shape {tuple(info['shape'])}, sum {info['total']:g}")
    for name, count in summary["spikes"].items():
        typer.echo(f"  spikes {name}: {count}")
    for name, lag in summary["output_lag_steps"].items():
        if lag != 0:
            shift = "no single shift" if lag is None else f"{lag} steps"
            typer.echo(
                f"output {name} lags the float network by {shift} on this target (synapse "
                f"delay per layer): compare its steps [{lag or 0}:] with the float's "
                f"[:T - {lag or 0}]"
            )
    if "accuracy" in summary:
        typer.echo(f"accuracy (output spike count argmax vs labels): {summary['accuracy']:.4f}")
    if output is not None:
        typer.echo(f"wrote {output}")


TargetOpt = Annotated[
    str, typer.Option("--target", "-t", help="A shipped chip name or a chip .toml file.")
]
ChipsOpt = Annotated[int | None, typer.Option("--chips", help="Chips per board (default 1).")]


@app.command("compile")
def compile_cmd(
    model: Annotated[Path, typer.Argument(help="A .nir or .onnx file.")],
    out: Annotated[Path, typer.Option("--output", "-o", help="Program folder to write.")],
    target: TargetOpt = "reference",
    passes: PassesOpt = None,
    calibration: CalibOpt = None,
    chips: ChipsOpt = None,
    dt: DtOpt = None,
    reset: ResetOpt = None,
    framework: FrameworkOpt = None,
    max_spikes: MaxSpikesOpt = None,
    neurons: NeuronsOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    fit: Annotated[
        str | None,
        typer.Option(
            "--fit",
            help="A budget, e.g. 'cores=2,max_drop=0.01' (also synapse_bits=, energy_j=): "
            "prune, quantize and fine-tune until the network fits (needs --calibration with "
            "labels).",
        ),
    ] = None,
) -> None:
    """Compile a model for a chip and write the program folder (nothing is written on error)."""

    def run() -> tuple[Any, dict[str, Any]]:
        check_output(out, folder=True, owned=PROGRAM_FILES)
        net = load_model(model, dt, reset, calibration, framework, max_spikes, neurons)
        cal_x = cal_labels = None
        if calibration is not None:
            cal_x = load_inputs(calibration, net)
            cal_labels = read_labels(calibration, cal_x)
        prog = api.compile(
            net,
            target=target,
            passes=passes,
            calibration=cal_x,
            labels=cal_labels,
            chips=chips,
            fit=fit,
        )
        summary = dict(prog.summary)
        summary.update(board_summary(prog.mapping.placement))
        if fit is not None:
            summary["fit_path"] = prog.pass_reports[0]["path"]
        if cal_x is not None:
            check_chip_inputs(cal_x, prog.target)
            report = prog.energy(cal_x)
            summary["energy_per_inference_j"] = report.energy_per_inference_j
            summary["energy_per_inference_low_j"] = report.energy_per_inference_low_j
            summary["energy_per_inference_high_j"] = report.energy_per_inference_high_j
            summary["energy_input"] = str(calibration)
        _save_program(prog, out)
        summary["output"] = str(out)
        return prog, summary

    _, summary = run_command(run, quiet)
    if json_out:
        typer.echo(json.dumps(_jsonable(summary), indent=2, sort_keys=True))
        return
    if quiet:
        return
    from rich.table import Table

    table = Table(title=f"compiled {model} for {summary['target']} -> {out}", show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row(
        "cores used",
        f"{summary['cores_used']} of {summary['cores_available']} "
        f"(lower bound {summary['cores_lower_bound']}; LP "
        f"{summary.get('cores_lower_bound_lp')}; packing "
        f"{summary.get('cores_lower_bound_packing')})",
    )
    table.add_row(
        "synapses kept",
        f"{summary['synapses']} of {summary['synapses_input']} (connections, convolutions "
        f"expanded; the network has {summary.get('weights_input')} weights)",
    )
    lags = {k: v for k, v in (summary.get("output_lag_steps") or {}).items() if v != 0}
    if lags:
        table.add_row(
            "output lag",
            ", ".join(f"{k}: {'varies' if v is None else v} steps" for k, v in lags.items())
            + " behind the float network (the target's synapse delay per layer)",
        )
    if "chips_used" in summary:
        table.add_row(
            "chips",
            f"{summary['chips_used']} of {summary['chips']}: {summary['chip_messages']:.4g} "
            f"messages per step between chips over {summary['chip_links']} link(s) (cores filling "
            f"chips in order: {summary['chip_messages_naive']:.4g})",
        )
    table.add_row("weight bits", str(summary["weight_bits"]))
    table.add_row("pipeline", str(summary["pipeline"]).replace(",", ", "))
    for step in summary.get("fit_path", []):
        table.add_row(
            "fit step",
            f"{step['sparsity']:.0%} pruned, {step['weight_bits']}-bit: {step['cores']} cores, "
            f"{step['energy_per_inference_j']:.3e} J, validation accuracy "
            f"{step['val_accuracy']:.4f}" + (" (fits)" if step["fits"] else ""),
        )
    if "energy_per_inference_j" in summary:
        table.add_row(
            "energy",
            f"{summary['energy_per_inference_j']:.3e} J per inference "
            f"[{summary['energy_per_inference_low_j']:.2e}, "
            f"{summary['energy_per_inference_high_j']:.2e}] (on {summary['energy_input']})",
        )
    else:
        table.add_row("energy", "pass --calibration x.npz for an estimate per inference")
    table_console().print(table)


@app.command()
def check(
    model: Annotated[Path, typer.Argument(help="A .nir or .onnx file.")],
    target: TargetOpt = "reference",
    passes: PassesOpt = None,
    calibration: CalibOpt = None,
    chips: ChipsOpt = None,
    dt: DtOpt = None,
    reset: ResetOpt = None,
    framework: FrameworkOpt = None,
    max_spikes: MaxSpikesOpt = None,
    neurons: NeuronsOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """List every limit the model exceeds on a chip (exit 2 if any); writes nothing."""
    from .compiler import build

    def run() -> tuple[Any, list[Any]]:
        net = load_model(model, dt, reset, calibration, framework, max_spikes, neurons)
        cal_x = load_inputs(calibration, net) if calibration is not None else None
        return build(net, target, passes, cal_x, None, chips)

    prog, violations = run_command(run, quiet)
    if json_out:
        typer.echo(
            json.dumps(
                _jsonable(
                    {
                        "fits": not violations,
                        "violations": [v.__dict__ for v in violations],
                        "summary": prog.summary if prog else None,
                    }
                ),
                indent=2,
            )
        )
    elif violations:
        for v in violations:
            typer.echo(f"error: {v}", err=True)
    else:
        typer.echo(
            f"fits: {prog.summary['cores_used']} of {prog.summary['cores_available']} "
            f"cores on {prog.summary['target']}"
        )
    if violations:
        raise typer.Exit(2)


@app.command()
def energy(
    program: Annotated[Path, typer.Argument(help="A program folder from compile.")],
    input: Annotated[Path, typer.Option("--input", "-i", help="A .npz of input spikes.")],
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run a compiled program and report spikes, synaptic ops, updates, hops, joules."""

    def run() -> Any:
        prog = api.load_program(program)
        return prog.energy(chip_inputs(input, prog))

    report = run_command(run, quiet)
    if json_out:
        typer.echo(json.dumps(_jsonable(report.to_dict()), indent=2))
        return
    from rich.table import Table

    table = Table(
        title=f"energy on {report.target} ({report.batch} samples x {report.steps} steps)"
    )
    for col in report.COLUMNS:
        table.add_column(col, justify="left" if col == "layer" else "right")
    *layers, total = report.rows()
    for row in layers:
        table.add_row(*row)
    table.add_section()
    table.add_row(*total)
    console = table_console()
    console.print(table)
    for line in report.footer():
        console.print(line)


@app.command()
def targets(json_out: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """List the chips neurocomp knows and their limits."""
    from .target import load_target, shipped_targets

    specs = run_command(lambda: [load_target(name) for name in shipped_targets()], quiet)
    if json_out:
        typer.echo(json.dumps(_jsonable([s.to_dict() for s in specs]), indent=2))
        return
    for s in specs:
        c, f = s.core, s.format
        typer.echo(f"{s.name}: {s.description}")
        typer.echo(
            f"  {s.mesh.cores_per_chip} cores per chip ({s.mesh.tiles_x}x{s.mesh.tiles_y} "
            f"tiles x {s.mesh.cores_per_tile}), {s.chips} chip(s) per board"
        )
        typer.echo(
            f"  per core: {c.neurons} neurons, {c.synapse_memory_bits} synapse bits, "
            f"{c.input_axons} input axons, {c.output_axons} output axons, fan-in {c.fan_in}"
        )
        typer.echo(
            f"  formats: weights {f.weight_bits} bits, state {f.state_bits} bits, decay "
            f"{f.decay_bits} bits, overflow {f.overflow}"
        )
        synop, static = s.figures.get("energy.synop_j"), s.figures.get("energy.static_power_w")
        typer.echo(
            f"  energy: synop {s.energy.synop_j:.3g} J ({synop.kind if synop else 'unspecified'}),"
            f" static {s.energy.static_power_w} W per chip"
            f" ({static.kind if static else 'unspecified'})"
        )


app.command("sweep")(sweep)  # registered last: the help lists it after the others


_interrupted = False


_in_hook = False


def _on_sigint(signum: int, frame: Any) -> None:
    """^C: remember it (a library may turn the KeyboardInterrupt into another exception, as
    numba does when it lands mid-compile: 'no compiled object yet'), then raise it; inside
    an import, once the import is done (raised there, it leaves a module half made: numba's
    C extensions then print errors)."""
    global _interrupted
    _interrupted = True
    if _importing(frame):
        threading.Thread(target=_interrupt_main_after_import, daemon=True).start()
        return
    raise KeyboardInterrupt


def _importing(frame: Any) -> bool:
    """Whether a frame runs inside an import (Python's import machinery is on its stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib._bootstrap"):
            return True
        frame = frame.f_back
    return False


def _interrupt_main_after_import() -> None:
    main = threading.main_thread().ident or 0
    while _importing(sys._current_frames().get(main)):
        time.sleep(0.001)
    _thread.interrupt_main()  # `_on_sigint` again: raised, or held for the next import


def _unraisable(info: Any) -> None:
    """A ^C that lands in a finalizer or weakref callback is 'ignored' by Python (printed as
    a traceback, and the program runs on): note it and raise it again in the main flow."""
    global _interrupted, _in_hook
    if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
        _interrupted = True
        if threading.current_thread() is threading.main_thread():
            # Raised now, it would land in this hook and be 'ignored' again: a helper thread
            # raises it once the hook has returned.
            _in_hook = True
            with contextlib.suppress(RuntimeError):  # no threads at shutdown: 130 at the end
                threading.Thread(target=_interrupt_main_after_hook, daemon=True).start()
            _in_hook = False
        else:
            _thread.interrupt_main()
        return
    sys.__unraisablehook__(info)


def _interrupt_main_after_hook() -> None:
    while _in_hook:
        time.sleep(0.001)
    time.sleep(0.001)  # the hook's last bytecodes (no interrupt check between them)
    _thread.interrupt_main()


def main() -> None:
    """Run the command line (after `neurocomp.__main__` has imported this module).

    Exit status: 0 success, 2 an error the user can cause (one `error:` line, usage errors
    included), 130 interrupted by ^C (one line)."""
    # ^C raises KeyboardInterrupt from here on, so that temporaries are removed on the way out
    # (a child of a background job inherits SIGINT ignored: restore it too).
    signal.signal(signal.SIGINT, _on_sigint)
    sys.unraisablehook = _unraisable
    try:
        code = _invoke()
    except KeyboardInterrupt:
        code = 130
    except Exception:
        if not _interrupted:
            raise
        code = 130  # the interrupt surfaced as another exception
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # from here on, nothing is left to stop
    if _interrupted:
        code = 130
    if code == 130:  # (typer turns KeyboardInterrupt into Exit(130))
        _say("interrupted")
        # Leave now: an interrupt that passed through the interpreter's own frames can make
        # Python end the process by SIGINT at shutdown (status -2 instead of 130).
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        os._exit(130)
    sys.exit(code)


def _invoke() -> int:
    try:
        rv = app(standalone_mode=False)
    except typer.Abort:  # typer raises it for an EOFError
        _say("error: unexpected end of input")
        return 2
    except typer.TyperException as exc:  # click's usage errors: one line, as any other error
        code = int(getattr(exc, "exit_code", 2) or 2)
        if type(exc).__name__ != "NoArgsIsHelpError":  # (that one has printed the help)
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            _say(f"error: {message}")
        return code
    return rv if isinstance(rv, int) else 0


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
