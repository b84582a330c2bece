"""Spike rasters and figures for notebooks and reports. Imported only when a plot is asked for:
importing it imports matplotlib."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError


class DisplayFigure(Figure):
    """A bare matplotlib Figure (no pyplot state, no backend switch: safe in scripts, loops and
    threads) that Jupyter shows as a PNG whatever backend is active. Scripts save it with
    `fig.savefig(path)`."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()


def spike_raster(
    spikes: Mapping[str, np.ndarray],
    batch: int = 0,
    populations: Sequence[str] | None = None,
    dt: float | None = None,
    title: str | None = None,
) -> Any:
    """A matplotlib Figure with one raster per population: a dot per spike, time on x (steps,
    or seconds when `dt` in seconds is given), neuron index (flattened) on y.

    spikes: population -> (T, batch, *shape) arrays, as `Trace.spikes` or `RunResult.spikes`
    hold them. batch: which sample to show. populations: which ones, in order (default: all).
    """
    names = list(spikes) if populations is None else list(populations)
    missing = [n for n in names if n not in spikes]
    if missing or not names:
        raise InputError(
            f"no recorded spikes for {missing or 'any population'}; recorded: {sorted(spikes)} "
            "(simulate with record=True)"
        )
    from matplotlib.ticker import MaxNLocator

    arrays = {n: np.asarray(spikes[n]) for n in names}
    steps = next(iter(arrays.values())).shape[0]
    if not 0 <= batch < next(iter(arrays.values())).shape[1]:
        raise InputError(f"batch index {batch} out of range")
    heights = [max(1.0, min(3.0, a[0, 0].size / 40)) for a in arrays.values()]
    fig = DisplayFigure(figsize=(9, 1.0 + 1.3 * sum(heights)))
    axes = fig.subplots(
        len(names), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    scale = dt if dt is not None else 1.0
    for ax, (name, arr) in zip(axes[:, 0], arrays.items(), strict=True):
        flat = arr[:, batch].reshape(steps, -1)
        t, n = np.nonzero(flat)
        ax.scatter(t * scale, n, s=14, marker="|", linewidths=1.2, color="black")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(-0.5 * scale, (steps - 0.5) * scale)
        ax.set_ylim(-0.5, flat.shape[1] - 0.5)
        ax.set_ylabel("neuron")
        ax.set_title(f"{name}: {int(flat.sum())} spikes, {flat.shape[1]} neurons", fontsize=9)
    axes[-1, 0].set_xlabel("time (s)" if dt is not None else "time step")
    if dt is None:
        axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
