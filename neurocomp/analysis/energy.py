"""Activity-based energy and latency from the events a bit-accurate run counted.

The events of the run, per step and core, go through `estimate` (neurocomp/analysis/
estimate.py) at the target's nominal figures and at both ends of their sourced band: energy per
inference (dynamic, host traffic, static) and latency, each nominal [low, high]. Beside it, the
same network as an INT8 ANN on an accelerator, arithmetic and memory (neurocomp/analysis/ann.py).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backends.events import EventCounts
from ..ir.integer import IntNetwork
from ..mapping import CoreUsage
from ..target.spec import TargetSpec
from .ann import ann_baseline, layer_sizes_of
from .estimate import MESSAGE_BITS, Activity, Estimate, estimate, event_energy


@dataclass(frozen=True, kw_only=True)
class EnergyTotals:
    """Totals of one run: event counts, joules (whole run and per inference, nominal and the
    band's ends), seconds per inference; read by key as well (`totals["energy_j"]`)."""

    spikes: int
    input_spikes: int
    synops: int
    synops_per_inference: float
    neuron_updates: int
    neuron_updates_active: int
    neuron_updates_idle: int
    activation_sparsity: float  # NeuroBench's: zero outputs / all outputs of spiking layers
    messages_local: int
    messages_remote: int
    messages_input: int
    messages_chip: int
    hops: int
    dynamic_energy_j: float
    host_energy_j: float
    static_energy_j: float
    energy_j: float
    energy_per_inference_j: float
    energy_per_inference_low_j: float
    energy_per_inference_high_j: float
    dynamic_per_inference_j: float
    dynamic_per_inference_low_j: float
    dynamic_per_inference_high_j: float
    host_per_inference_j: float
    static_per_inference_j: float
    static_per_inference_low_j: float
    static_per_inference_high_j: float
    latency_s: float
    latency_low_s: float
    latency_high_s: float
    chip_latency_s: float
    chip_latency_low_s: float
    chip_latency_high_s: float
    dynamic_by_event_j: dict[str, float] = field(default_factory=dict)
    # the board: chips in use, the chip-to-chip links' energy (part of the dynamic energy) and
    # the barrier across chips per step (part of the latency); all zero on one chip
    chips_used: int = 1
    chip_link_per_inference_j: float = 0.0
    chip_link_per_inference_low_j: float = 0.0
    chip_link_per_inference_high_j: float = 0.0
    chip_barrier_step_s: float = 0.0
    chip_barrier_step_low_s: float = 0.0
    chip_barrier_step_high_s: float = 0.0

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(kw_only=True)
class EnergyReport:
    """Events, energy (joules) and latency (seconds) of one run, in total, per layer, per core;
    per-inference energy and latency nominal and banded; the figures used, with their sources."""

    target: str
    steps: int
    batch: int
    totals: EnergyTotals
    layers: list[dict[str, Any]]
    cores: list[dict[str, Any]]
    ann: dict[str, Any]
    mesh: dict[str, int] = field(default_factory=dict)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)  # "energy.synop_j" -> ...

    @property
    def energy_j(self) -> float:
        return float(self.totals["energy_j"])

    @property
    def energy_per_inference_j(self) -> float:
        return float(self.totals["energy_per_inference_j"])

    @property
    def energy_per_inference_low_j(self) -> float:
        return float(self.totals["energy_per_inference_low_j"])

    @property
    def energy_per_inference_high_j(self) -> float:
        return float(self.totals["energy_per_inference_high_j"])

    @property
    def latency_s(self) -> float:
        return float(self.totals["latency_s"])

    @property
    def latency_low_s(self) -> float:
        return float(self.totals["latency_low_s"])

    @property
    def latency_high_s(self) -> float:
        return float(self.totals["latency_high_s"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the totals at top level, then layers, cores, the ANN comparison and
        the figures used (value, band, kind, source)."""
        return {
            "target": self.target,
            "steps": self.steps,
            "batch": self.batch,
            **self.totals.to_dict(),
            "layers": self.layers,
            "cores": self.cores,
            "ann": self.ann,
            "figures": self.figures,
        }

    COLUMNS = ("layer", "spikes", "synops", "neuron updates", "energy (J)")

    def rows(self) -> list[list[str]]:
        """One row per layer (`COLUMNS`, dynamic energy over the whole run), then the total,
        which adds the host traffic and the static energy: what `table`, the HTML view and the
        CLI show."""
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
        """Per-inference energy and latency with their bands, the ANN comparison, and the
        kinds of figure the estimate rests on."""
        t, ann = self.totals, self.ann
        kinds = Counter(f["kind"] for f in self.figures.values())
        snn_dynamic = t["dynamic_per_inference_j"] + t["host_per_inference_j"]
        devices = ", ".join(
            f"{name} {d['dynamic_j']:.2e} J dynamic / {d['total_j']:.2e} J total"
            for name, d in ann.get("devices", {}).items()
        )
        return [
            f"per inference: {t['energy_per_inference_j']:.3e} J "
            f"[{t['energy_per_inference_low_j']:.3e}, {t['energy_per_inference_high_j']:.3e}] "
            f"(dynamic {t['dynamic_per_inference_j']:.3e} J, host {t['host_per_inference_j']:.3e}"
            f" J, static {t['static_per_inference_j']:.3e} J)",
            f"latency: {t['latency_s']:.3e} s [{t['latency_low_s']:.3e}, {t['latency_high_s']:.3e}]"
            " per inference",
            f"same network as an INT8 ANN: {ann['energy_per_inference_j']:.3e} J dynamic per "
            f"inference ({ann['macs']} MACs: arithmetic {ann['arithmetic_j']:.2e} J, memory "
            f"{ann['memory_j']:.2e} J; SNN dynamic + host {snn_dynamic:.3e} J)",
            f"measured devices scaled by MACs (Blouw 2019): {devices}",
            *self.board_lines(),
            "figures: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
        ]

    def board_lines(self) -> list[str]:
        """On a board of several chips: the chip-to-chip links' energy and the barrier across
        chips, each with its band (none on a one-chip board)."""
        t = self.totals
        if self.mesh.get("chips", 1) <= 1:
            return []
        per_inference = t["messages_chip"] / max(self.batch, 1)
        return [
            f"chip links: {per_inference:.4g} messages per inference between chips, "
            f"{t['chip_link_per_inference_j']:.3e} J [{t['chip_link_per_inference_low_j']:.3e}, "
            f"{t['chip_link_per_inference_high_j']:.3e}] (in dynamic)",
            f"barrier across {t['chips_used']} of {self.mesh['chips']} chips: "
            f"{t['chip_barrier_step_s']:.3e} s [{t['chip_barrier_step_low_s']:.3e}, "
            f"{t['chip_barrier_step_high_s']:.3e}] per step (in latency)",
        ]

    def figure_rows(self) -> list[list[str]]:
        """One row per figure: key, value, band, kind, source."""
        return [
            [
                key,
                f"{f['value']:.3g}",
                f"[{f.get('low', f['value']):.3g}, {f.get('high', f['value']):.3g}]",
                f["kind"],
                f["source"],
            ]
            for key, f in self.figures.items()
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
            f"Energy on {self.target}: {t['energy_per_inference_j']:.3e} J per inference "
            f"[{t['energy_per_inference_low_j']:.3e}, {t['energy_per_inference_high_j']:.3e}]",
            list(self.COLUMNS),
            self.rows(),
            "; ".join(self.footer()),
        ) + table("Figures used", ["figure", "value", "band", "kind", "source"], self.figure_rows())

    def plot(self) -> Any:
        """Matplotlib figure: per-layer energy, energy per inference by part with its band, and
        core utilisation as a heatmap over the mesh."""
        from ..present.plots import DisplayFigure

        fig = DisplayFigure(figsize=(15, 4))
        ax1, ax3, ax2 = fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 2, 3]})
        names = [r["name"] for r in self.layers]
        ax1.bar(names, [r["energy_j"] for r in self.layers])
        ax1.set_ylabel("dynamic energy (J)")
        ax1.set_title(f"energy per layer ({self.batch} samples x {self.steps} steps)")
        ax1.tick_params(axis="x", rotation=45)
        draw_band(ax3, self.totals)
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


def draw_band(ax: Any, totals: EnergyTotals) -> None:
    """Energy per inference stacked by part (dynamic, host, static), the band as an error bar."""
    parts = ("dynamic", "host", "static")
    bottom = 0.0
    for part in parts:
        value = float(totals[f"{part}_per_inference_j"])
        ax.bar(["per inference"], [value], bottom=bottom, label=part)
        bottom += value
    nominal = float(totals["energy_per_inference_j"])
    ax.errorbar(
        ["per inference"],
        [nominal],
        yerr=[
            [nominal - totals["energy_per_inference_low_j"]],
            [totals["energy_per_inference_high_j"] - nominal],
        ],
        color="black",
        capsize=8,
        label="band (low-high)",
    )
    ax.set_ylabel("energy per inference (J)")
    ax.set_title("per inference, nominal and band")
    ax.legend(fontsize=8)


def activity_of(
    net: IntNetwork, counts: EventCounts, spec: TargetSpec, usage: list[CoreUsage]
) -> Activity:
    """What the estimate needs of a counted run: counters per step and core, which chip and
    tile each used core is on, the values streamed to and from the host per step."""
    chips = np.array([r.chip for r in usage], dtype=np.int64)
    tiles = np.array([r.tile_x * 65536 + r.tile_y for r in usage], dtype=np.int64)
    host = sum(int(np.prod(s)) for s in net.inputs.values()) + sum(
        net.size_of(src) for src in net.outputs.values() if src not in net.inputs
    )
    per_core = {str(k): v for k, v in counts.per_core.items()}
    payload = {str(k): v for k, v in counts.payload.items()}
    batch = max(counts.batch, 1)
    return Activity(per_core, batch, chips, tiles, host, payload_factor(spec), payload)


def payload_factor(spec: TargetSpec) -> float:
    """What a message carrying a graded payload costs in bare messages: its MESSAGE_BITS plus
    the chip's `spike_payload_bits` over MESSAGE_BITS (1 where the chip declares none). The
    engine counts which messages carry one (`EventCounts.payload`): those of multi-spike and
    sigma-delta populations and of inputs with values above 1."""
    bits = int(getattr(spec.format, "spike_payload_bits", 0) or 0)
    return (MESSAGE_BITS + bits) / MESSAGE_BITS


def _totals(
    counts: EventCounts, est: Estimate, batch: int, layers: list[dict[str, Any]], net: IntNetwork
) -> EnergyTotals:
    pc = counts.per_core
    total = lambda k: int(pc[k].sum()) if k in pc else 0  # noqa: E731
    e, d, h, s, lat = est.energy_j, est.dynamic_j, est.host_j, est.static_j, est.latency_s
    spiking = [r for r in layers if net.population(r["name"]).spiking]
    updates = sum(r["neuron_updates"] for r in spiking)
    sparsity = 1.0 - sum(r["spikes"] for r in spiking) / updates if updates else 0.0
    return EnergyTotals(
        spikes=total("spikes"),
        input_spikes=counts.input_spikes,
        synops=total("synops"),
        synops_per_inference=total("synops") / batch,
        neuron_updates=total("updates_active") + total("updates_idle"),
        neuron_updates_active=total("updates_active"),
        neuron_updates_idle=total("updates_idle"),
        activation_sparsity=sparsity,
        messages_local=total("msgs_local"),
        messages_remote=total("msgs_remote"),
        messages_input=total("msgs_input"),
        messages_chip=total("msgs_chip"),
        hops=total("hops_ew") + total("hops_ns"),
        dynamic_energy_j=d.nominal * batch,
        host_energy_j=h.nominal * batch,
        static_energy_j=s.nominal * batch,
        energy_j=e.nominal * batch,
        energy_per_inference_j=e.nominal,
        energy_per_inference_low_j=e.low,
        energy_per_inference_high_j=e.high,
        dynamic_per_inference_j=d.nominal,
        dynamic_per_inference_low_j=d.low,
        dynamic_per_inference_high_j=d.high,
        host_per_inference_j=h.nominal,
        static_per_inference_j=s.nominal,
        static_per_inference_low_j=s.low,
        static_per_inference_high_j=s.high,
        latency_s=lat.nominal,
        latency_low_s=lat.low,
        latency_high_s=lat.high,
        chip_latency_s=est.chip_latency_s.nominal,
        chip_latency_low_s=est.chip_latency_s.low,
        chip_latency_high_s=est.chip_latency_s.high,
        dynamic_by_event_j={str(k): b.nominal for k, b in est.parts_j.items()},
        chips_used=est.chips_used,
        chip_link_per_inference_j=est.chip_link_j.nominal,
        chip_link_per_inference_low_j=est.chip_link_j.low,
        chip_link_per_inference_high_j=est.chip_link_j.high,
        chip_barrier_step_s=est.chip_barrier_s.nominal,
        chip_barrier_step_low_s=est.chip_barrier_s.low,
        chip_barrier_step_high_s=est.chip_barrier_s.high,
    )


def energy_report(
    net: IntNetwork, counts: EventCounts, spec: TargetSpec, usage: list[CoreUsage]
) -> EnergyReport:
    """Turn counted events into energy and latency with the target's sourced figures."""
    act = activity_of(net, counts, spec, usage)
    est = estimate(spec, act)
    batch = act.batch
    pc = counts.per_core
    steps = next(iter(pc.values())).shape[0] if pc else 0

    def joules(d: dict[str, Any], payload: dict[str, Any]) -> float:
        return sum(event_energy(spec, d, "nominal", act.payload_factor, payload).values())

    layers: list[dict[str, Any]] = []
    for pop in net.populations:
        if not net.projections_into(pop.name):
            continue
        d = {str(k): v for k, v in counts.per_layer[pop.name].items()}
        sent = d if pop.graded else {}  # a graded population's messages all carry its payload
        layers.append(
            {
                "name": pop.name,
                "kind": pop.kind,
                "spikes": d["spikes"],
                "synops": d["synops"],
                "neuron_updates": d["updates_active"] + d["updates_idle"],
                "energy_j": joules(d, sent),
                "energy_per_inference_j": joules(d, sent) / batch,
            }
        )
    cores = []
    totals_core = {str(k): v.sum(axis=0) for k, v in pc.items()}
    payload_core = {k: v.sum(axis=0) for k, v in act.payload.items()}
    for i, row in enumerate(usage):
        cd: dict[str, Any] = {k: float(v[i]) for k, v in totals_core.items()}
        cp = {k: float(v[i]) for k, v in payload_core.items()}
        cores.append(
            {
                "core": row.core,
                "tile_x": row.tile_x,
                "tile_y": row.tile_y,
                "chip": row.chip,
                "layers": list(row.layers),
                "spikes": int(cd["spikes"]),
                "synops": int(cd["synops"]),
                "neuron_updates": int(cd["updates_active"] + cd["updates_idle"]),
                "energy_j": joules(cd, cp),
                "utilisation": row.utilisation,
            }
        )
    totals = _totals(counts, est, batch, layers, net)
    ann = ann_baseline(net.synapses, layer_sizes_of(net)).to_dict()
    figures = {k: f.to_dict() for k, f in sorted(spec.figures.items())}
    return EnergyReport(
        target=spec.name,
        steps=steps,
        batch=counts.batch,
        totals=totals,
        layers=layers,
        cores=cores,
        ann=ann,
        mesh=mesh_of(spec),
        figures=figures,
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
