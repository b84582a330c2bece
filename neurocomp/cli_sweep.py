"""`neurocomp sweep`: the command line of `nc.sweep` (neurocomp/explore), registered by cli.py;
it reads its files through cli_io, as every command does."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from .cli_io import load_inputs, load_model, read_labels, run_command, table_console
from .errors import InputError


def sweep(
    model: Annotated[Path, typer.Argument(help="A .nir or .onnx file.")],
    eval_file: Annotated[
        Path,
        typer.Option("--eval", help="A .npz with the evaluation set: 'x' and 'labels'."),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Folder for table.csv, table.parquet, report.html, cache/."
        ),
    ],
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", help="A chip name or .toml file (repeatable)."),
    ] = None,
    passes: Annotated[
        list[str] | None,
        typer.Option(
            "--passes", help='A pipeline (repeatable; "" for none), e.g. "prune{sparsity=0.5}".'
        ),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option("--calibration", help="A .npz of sample input (and labels) for passes."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Start a Dask LocalCluster of N one-thread processes."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Use the Dask cluster at this address (tcp://...)."),
    ] = None,
    shard_size: Annotated[
        int | None,
        typer.Option("--shard-size", help="Evaluation samples per simulation task."),
    ] = None,
    readout: Annotated[
        str | None, typer.Option("--readout", help="The output to classify by (if several).")
    ] = None,
    chips: Annotated[int | None, typer.Option("--chips", help="Chips per board.")] = None,
    dt: Annotated[
        float | None, typer.Option("--dt", help="Time step in seconds.", metavar="SECONDS")
    ] = None,
    reset: Annotated[
        str | None, typer.Option("--reset", help="zero or subtract.", metavar="zero|subtract")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Compile and evaluate every --target x --passes point; write the table and a Pareto
    report. Finished points are cached in OUTPUT/cache: rerun the same command to resume."""
    from .explore.run import sweep as run_sweep

    def run() -> Any:
        if workers is not None and scheduler is not None:
            raise InputError("give --workers or --scheduler, not both")
        if workers is not None and workers < 1:
            raise InputError(f"--workers {workers}: at least 1 worker")
        net = load_model(model, dt, reset, calibration)
        cal_x = cal_labels = None
        if calibration is not None:
            cal_x = load_inputs(calibration, net)
            cal_labels = read_labels(calibration, cal_x)
        eval_x = load_inputs(eval_file, net)
        return run_sweep(
            net,
            targets=target or ["reference"],
            passes=list(passes) if passes else [None],
            calibration=cal_x,
            labels=cal_labels,
            eval_input=eval_x,
            eval_labels=read_labels(eval_file, eval_x),
            scheduler=f"local:{workers}" if workers is not None else scheduler,
            folder=out,
            output=readout,
            shard_size=shard_size,
            chips=chips,
        )

    result = run_command(run, quiet)
    if json_out:
        records = result.table.astype(object).where(result.table.notna(), None)
        typer.echo(json.dumps(records.to_dict(orient="records"), indent=2))
        return
    if not quiet:
        _print(result, out)


def _print(result: Any, out: Path) -> None:
    from rich.table import Table

    front = set(result.pareto()["point"])
    table = Table(title=f"{len(result.table)} points ({result.cached} from the cache)")
    for col in ("point", "target", "passes", "accuracy", "J/inference", "cores", "Pareto"):
        left = col in ("target", "passes")
        table.add_column(col, justify="left" if left else "right", overflow="fold")
    errors = []
    for _, r in result.table.iterrows():
        if r["error"]:
            figures = ["failed", "", ""]
            errors.append(f"point {r['point']}: {r['error']}")
        else:
            acc = "" if math.isnan(r["accuracy"]) else f"{r['accuracy']:.4f}"
            figures = [acc, f"{r['energy_per_inference_j']:.3e}", str(r["cores_used"])]
        mark = "*" if r["point"] in front else ""
        table.add_row(str(r["point"]), r["target"], r["passes"] or "-", *figures, mark)
    console = table_console()
    console.print(table)
    for line in errors:
        console.print(line)
    console.print(f"wrote {out / 'table.csv'}, {out / 'table.parquet'}, {out / 'report.html'}")
