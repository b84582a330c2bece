"""Activity-based energy and latency from the events a bit-accurate run counted.

Dynamic energy is events x joules per event from the target description; static energy is the
chips' static power over the run time; a step lasts the longest core's work (events x seconds per
event) plus the barrier, or the target's fixed time step if that is longer. Beside it, the same
network run once per inference as an ANN: one multiply-accumulate per synapse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backends.events import EventCounts, EventKind
from ..ir.integer import IntNetwork
from ..mapping import CoreUsage
from ..target.spec import TargetSpec

# Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm 0.9 V:
# 32-bit float multiply 3.7 pJ + add 0.9 pJ; 8-bit integer multiply 0.2 pJ + add 0.03 pJ.
ANN_MAC_FP32_J = 4.6e-12
ANN_MAC_INT8_J = 0.23e-12
ANN_SOURCE = "Horowitz, ISSCC 2014, 45 nm: FP32 MAC 4.6 pJ, INT8 MAC 0.23 pJ"


@dataclass(frozen=True, kw_only=True)
class EnergyTotals:
    """Totals of one run: event counts, joules (whole run and per inference), seconds."""

    spikes: int
    input_spikes: int
    synops: int
    neuron_updates: int
    neuron_updates_active: int
    neuron_updates_idle: int
    messages_local: int
    messages_remote: int
    hops: int
    dynamic_energy_j: float
    static_energy_j: float
    energy_j: float
    energy_per_inference_j: float
    dynamic_per_inference_j: float
    static_per_inference_j: float
    latency_s: float

    def __getitem__(self, key: str) -> float:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        value: float = getattr(self, key)
        return value

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclass(kw_only=True)
class EnergyReport:
    """Events, energy (joules) and latency (seconds) of one run, in total, per layer, per core."""

    target: str
    steps: int
    batch: int
    totals: EnergyTotals
    layers: list[dict[str, Any]]
    cores: list[dict[str, Any]]
    ann: dict[str, Any]
    mesh: dict[str, int] = field(default_factory=dict)

    @property
    def energy_j(self) -> float:
        return float(self.totals["energy_j"])

    @property
    def energy_per_inference_j(self) -> float:
        return float(self.totals["energy_per_inference_j"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the totals at top level, then layers, cores and the ANN comparison."""
        return {
            "target": self.target,
            "steps": self.steps,
            "batch": self.batch,
            **self.totals.to_dict(),
            "layers": self.layers,
            "cores": self.cores,
            "ann": self.ann,
        }

    COLUMNS = ("layer", "spikes", "synops", "neuron updates", "energy (J)")

    def rows(self) -> list[list[str]]:
        """One row per layer (`COLUMNS`, energy over the whole run), then the total, which
        adds the static energy: what `table`, the HTML view and the CLI show."""
        counts = ("spikes", "synops", "neuron_updates")
        t = self.totals
        return [
            *(
                [r["name"], *(str(r[k]) for k in counts), f"{r['energy_j']:.3e}"]
                for r in self.layers
            ),
            ["total (with static)", *(str(int(t[k])) for k in counts), f"{t['energy_j']:.3e}"],
        ]

    def footer(self) -> list[str]:
        """Per-inference energy (dynamic and static) and latency, and the ANN comparison."""
        t, ann = self.totals, self.ann
        return [
            f"per inference: {t['energy_per_inference_j']:.3e} J (dynamic "
            f"{t['dynamic_per_inference_j']:.3e} J, static {t['static_per_inference_j']:.3e} J), "
            f"latency {t['latency_s']:.3e} s",
            f"same network as an ANN: {ann['energy_per_inference_j']:.3e} J per inference "
            f"({ann['macs']} MACs, {ann['source']})",
        ]

    def table(self) -> str:
        """A plain-text summary table (per layer, then totals)."""
        widths = (20, 12, 14, 16, 14)
        fmt = lambda cells: "".join(  # noqa: E731
            f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        head = fmt(self.COLUMNS)
        rule = "-" * len(head)
        *layers, total = self.rows()
        return "\n".join([head, rule, *map(fmt, layers), rule, fmt(total), *self.footer()])

    def _repr_html_(self) -> str:
        from ..present.html import table

        t = self.totals
        return table(
            f"Energy on {self.target}: {t['energy_per_inference_j']:.3e} J per inference",
            list(self.COLUMNS),
            self.rows(),
            "; ".join(self.footer()),
        )

    def plot(self) -> Any:
        """Matplotlib figure: per-layer energy, and core utilisation as a heatmap over the mesh."""
        from ..present.plots import DisplayFigure

        fig = DisplayFigure(figsize=(11, 4))
        ax1, ax2 = fig.subplots(1, 2)
        names = [r["name"] for r in self.layers]
        ax1.bar(names, [r["energy_j"] for r in self.layers])
        ax1.set_ylabel("energy (J)")
        ax1.set_title(f"energy per layer ({self.batch} samples x {self.steps} steps)")
        ax1.tick_params(axis="x", rotation=45)
        draw_utilisation(fig, ax2, self.cores, self.mesh)
        fig.tight_layout()
        return fig

    def utilisation_grid(self) -> np.ndarray:
        """Core utilisation over the mesh (see `utilisation_grid`)."""
        return utilisation_grid(self.cores, self.mesh)[0]


def core_utilisation(row: dict[str, Any]) -> float:
    """Largest used / limit over neurons, synapse memory, input and output axons of one core
    (a row of `Mapping.usage_table`)."""
    return max(
        row[k][0] / row[k][1]
        for k in ("neurons", "synapse_bits", "input_axons", "output_axons")
        if row[k][1]
    )


def utilisation_grid(
    cores: list[dict[str, Any]], mesh: dict[str, int]
) -> tuple[np.ndarray, tuple[int, int]]:
    """Core utilisation laid out over the mesh: (tiles_y * rows, tiles_x * chips * columns),
    each tile a (rows, columns) block of its cores; NaN where no core is used. `cores` carry
    tile_x, tile_y and utilisation; returns the grid and the block shape."""
    k = max(1, mesh.get("cores_per_tile", 1))
    sub_w = int(np.ceil(np.sqrt(k)))
    sub_h = int(np.ceil(k / sub_w))
    w = mesh.get("tiles_x", 1) * mesh.get("chips", 1)
    h = mesh.get("tiles_y", 1)
    grid = np.full((h * sub_h, w * sub_w), np.nan)
    seen: dict[tuple[int, int], int] = {}
    for c in cores:
        x, y = c["tile_x"], c["tile_y"]
        n = seen.get((x, y), 0)
        seen[(x, y)] = n + 1
        grid[y * sub_h + n // sub_w, x * sub_w + n % sub_w] = c["utilisation"]
    return grid, (sub_h, sub_w)


def draw_utilisation(fig: Any, ax: Any, cores: list[dict[str, Any]], mesh: dict[str, int]) -> None:
    """Core utilisation as a heatmap over the mesh on `ax`: tiles outlined, unused cores grey."""
    import matplotlib

    grid, (sub_h, sub_w) = utilisation_grid(cores, mesh)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.9")
    im = ax.imshow(np.ma.masked_invalid(grid), vmin=0, vmax=1, cmap=cmap)
    for x in np.arange(0, grid.shape[1] + 1, sub_w):  # tile borders
        ax.axvline(x - 0.5, color="white", linewidth=1.5)
    for y in np.arange(0, grid.shape[0] + 1, sub_h):
        ax.axhline(y - 0.5, color="white", linewidth=1.5)
    ax.set_title(f"core utilisation, {len(cores)} cores used (grey: unused)")
    ax.set_xlabel(f"tile x ({sub_h}x{sub_w} cores per tile)" if sub_w * sub_h > 1 else "tile x")
    ax.set_ylabel("tile y")
    ax.set_xticks(np.arange(grid.shape[1] // sub_w) * sub_w + (sub_w - 1) / 2)
    ax.set_xticklabels([str(i) for i in range(grid.shape[1] // sub_w)])
    ax.set_yticks(np.arange(grid.shape[0] // sub_h) * sub_h + (sub_h - 1) / 2)
    ax.set_yticklabels([str(i) for i in range(grid.shape[0] // sub_h)])
    fig.colorbar(im, ax=ax, label="max over resources of used / limit")


def _per_event(d: Mapping[EventKind, Any], cost: tuple[float, ...]) -> Any:
    """Events weighted by a cost per event (joules or seconds): synops, active and idle neuron
    updates, spike messages (within and between tiles), east-west and north-south hops."""
    synop, active, idle, spike, ew, ns = cost
    return (
        d[EventKind.SYNOPS] * synop
        + d[EventKind.UPDATES_ACTIVE] * active
        + d[EventKind.UPDATES_IDLE] * idle
        + (d[EventKind.MSGS_LOCAL] + d[EventKind.MSGS_REMOTE]) * spike
        + d[EventKind.HOPS_EW] * ew
        + d[EventKind.HOPS_NS] * ns
    )


def energy_report(
    net: IntNetwork, counts: EventCounts, spec: TargetSpec, usage: list[CoreUsage]
) -> EnergyReport:
    """Turn counted events into energy and latency with the target's per-event figures."""
    e, tm = spec.energy, spec.timing
    pc = {EventKind(k): v.astype(np.float64) for k, v in counts.per_core.items()}
    steps = next(iter(pc.values())).shape[0] if pc else 0
    batch = max(counts.batch, 1)

    joule_per = (
        e.synop_j,
        e.neuron_update_active_j,
        e.neuron_update_idle_j,
        e.spike_local_j,
        e.hop_ew_j,
        e.hop_ns_j,
    )
    second_per = (
        tm.synop_s,
        tm.neuron_update_active_s,
        tm.neuron_update_idle_s,
        tm.spike_local_s,
        tm.hop_ew_s,
        tm.hop_ns_s,
    )

    def joules(d: Mapping[EventKind, Any]) -> float:
        return float(_per_event(d, joule_per))

    work = _per_event(pc, second_per) / batch
    step_time = np.maximum(
        work.max(axis=1) + tm.barrier_s if work.size else tm.barrier_s, spec.time_step_s
    )
    latency = float(np.sum(step_time))
    totals_core = {k: v.sum(axis=0) for k, v in pc.items()}
    dynamic = joules({k: float(v.sum()) for k, v in totals_core.items()})
    static = e.static_power_w * spec.chips * latency * batch
    totals = EnergyTotals(
        spikes=int(pc[EventKind.SPIKES].sum()),
        input_spikes=counts.input_spikes,
        synops=int(pc[EventKind.SYNOPS].sum()),
        neuron_updates=int(pc[EventKind.UPDATES_ACTIVE].sum() + pc[EventKind.UPDATES_IDLE].sum()),
        neuron_updates_active=int(pc[EventKind.UPDATES_ACTIVE].sum()),
        neuron_updates_idle=int(pc[EventKind.UPDATES_IDLE].sum()),
        messages_local=int(pc[EventKind.MSGS_LOCAL].sum()),
        messages_remote=int(pc[EventKind.MSGS_REMOTE].sum()),
        hops=int(pc[EventKind.HOPS_EW].sum() + pc[EventKind.HOPS_NS].sum()),
        dynamic_energy_j=dynamic,
        static_energy_j=static,
        energy_j=dynamic + static,
        energy_per_inference_j=(dynamic + static) / batch,
        dynamic_per_inference_j=dynamic / batch,
        static_per_inference_j=static / batch,
        latency_s=latency,
    )
    layers = []
    for pop in net.populations:
        if not net.projections_into(pop.name):
            continue
        d = counts.per_layer[pop.name]
        layers.append(
            {
                "name": pop.name,
                "kind": pop.kind,
                "spikes": d[EventKind.SPIKES],
                "synops": d[EventKind.SYNOPS],
                "neuron_updates": d[EventKind.UPDATES_ACTIVE] + d[EventKind.UPDATES_IDLE],
                "energy_j": joules(d),
                "energy_per_inference_j": joules(d) / batch,
            }
        )
    cores = []
    for i, row in enumerate(usage):
        cd: dict[EventKind, Any] = {k: float(v[i]) for k, v in totals_core.items()}
        util = row.utilisation
        cores.append(
            {
                "core": row.core,
                "tile_x": row.tile_x,
                "tile_y": row.tile_y,
                "layers": list(row.layers),
                "spikes": int(cd[EventKind.SPIKES]),
                "synops": int(cd[EventKind.SYNOPS]),
                "neuron_updates": int(cd[EventKind.UPDATES_ACTIVE] + cd[EventKind.UPDATES_IDLE]),
                "energy_j": joules(cd),
                "utilisation": util,
            }
        )
    macs = net.synapses
    ann = {
        "macs": macs,
        "energy_per_inference_j": macs * ANN_MAC_FP32_J,
        "energy_per_inference_int8_j": macs * ANN_MAC_INT8_J,
        "source": ANN_SOURCE,
    }
    return EnergyReport(
        target=spec.name,
        steps=steps,
        batch=counts.batch,
        totals=totals,
        layers=layers,
        cores=cores,
        ann=ann,
        mesh=mesh_of(spec),
    )


def mesh_of(spec: TargetSpec) -> dict[str, int]:
    """The board's layout, as the utilisation heatmap needs it."""
    m = spec.mesh
    return {
        "tiles_x": m.tiles_x,
        "tiles_y": m.tiles_y,
        "cores_per_tile": m.cores_per_tile,
        "chips": spec.chips,
    }
