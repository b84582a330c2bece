"""Notebook views of a program: the mapping as a figure, the per-core resources as HTML."""

from __future__ import annotations

from typing import Any

from ..analysis.energy import draw_utilisation, mesh_of
from ..present.html import table
from .folder import Saved as Program


def plot(prog: Program) -> Any:
    """Cores per layer, and core utilisation as a heatmap over the mesh."""
    from ..present.plots import DisplayFigure

    fig = DisplayFigure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    s = prog.summary
    per_layer = s.cores_per_layer
    ax1.bar(list(per_layer), list(per_layer.values()))
    ax1.set_ylabel("cores")
    ax1.set_title(f"cores per layer ({s.cores_used} used, lower bound {s.cores_lower_bound})")
    ax1.tick_params(axis="x", rotation=45)
    cores = [{**u.to_dict(), "utilisation": u.utilisation} for u in prog.mapping.usage(prog.target)]
    draw_utilisation(fig, ax2, cores, mesh_of(prog.target))
    fig.tight_layout()
    return fig


def html(prog: Program) -> str:
    """The per-core resources table."""
    rows = [
        [
            u.core,
            ", ".join(u.layers),
            f"{u.neurons[0]}/{u.neurons[1]}",
            f"{u.synapse_bits[0]}/{u.synapse_bits[1]}",
            f"{u.input_axons[0]}/{u.input_axons[1]}",
            f"{u.output_axons[0]}/{u.output_axons[1]}",
        ]
        for u in prog.mapping.usage(prog.target)
    ]
    s = prog.summary
    return table(
        f"Program for {s.target}: {s.cores_used} of {s.cores_available} cores, "
        f"{s.synapses} synapses",
        ["core", "layers", "neurons", "synapse bits", "input axons", "output axons"],
        rows,
        f"pipeline: {prog.pipeline}",
    )
