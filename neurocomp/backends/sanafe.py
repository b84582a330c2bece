"""SANA-FE (Boyle et al., TCAD 2025; PyPI `sanafe`) as an independent energy and latency engine.

The mapped program goes to SANA-FE core for core: every neuron on the SANA-FE core (same tile,
same core within the tile) where neurocomp placed it, every synapse as a SANA-FE connection.
SANA-FE's neuron models are floating point, so the spikes are not re-simulated: each neuron's
spikes come from neurocomp's bit-accurate run and are replayed by an input-model soma on the
neuron's core, beside a never-firing LIF soma that receives the neuron's synapses (SANA-FE
updates it every step, as Loihi updates every neuron). SANA-FE then counts synaptic events,
messages and hops itself and prices them, and times every step, with its Loihi figures
(sanafe/examples/loihi.yaml, fitted to Loihi 1 measurements), on a mesh of the target's size.
Input spikes are replayed on each core they reach (neurocomp's inputs do not live on a core), at
no soma cost. Samples run one after another; figures are per inference.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

NEVER = 1.0e30  # threshold of the receiving LIF somas: they never fire
SANAFE_LOIHI = "sanafe/examples/loihi.yaml (SANA-FE 2.2.9)"


@dataclass(frozen=True)
class SanafeReport:
    """What SANA-FE counted and estimated for a run: events (totals over the batch), dynamic
    energy by part and chip latency per inference (no static power, no host: SANA-FE models the
    chip's dynamic work)."""

    batch: int
    steps: int
    counts: dict[str, int]
    energy_per_inference_j: float
    parts_j: dict[str, float]
    latency_s: float
    source: str = SANAFE_LOIHI
    cores: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": "sanafe",
            "batch": self.batch,
            "steps": self.steps,
            **self.counts,
            "energy_per_inference_j": self.energy_per_inference_j,
            "parts_j": self.parts_j,
            "latency_s": self.latency_s,
            "cores": self.cores,
            "source": self.source,
        }


def _arch_yaml(spec: Any, folder: Path, units: int) -> Path:
    """SANA-FE's Loihi architecture with the target's mesh: same figures, tiles_x x tiles_y
    tiles of cores_per_tile cores; a replay soma (SANA-FE's input model) with Loihi's spike-out
    cost for neuron spikes, and a free one for input spikes."""
    import yaml

    text = resources.files("sanafe.examples").joinpath("loihi.yaml").read_text()
    d = yaml.safe_load(text)
    arch = d["architecture"]
    m = spec.mesh
    if spec.chips != 1:
        raise InputError("engine 'sanafe' models one chip; the program uses a board of "
                         f"{spec.chips} chips")  # fmt: skip
    arch["attributes"]["width"], arch["attributes"]["height"] = m.tiles_x, m.tiles_y
    tile = arch["tile"][0]
    tile["name"] = f"loihi_tile[0..{m.tiles_x * m.tiles_y - 1}]"
    core = tile["core"][0]
    core["name"] = f"loihi_core[0..{m.cores_per_tile - 1}]"
    # room for the replaying somas beside the neurons (capacity is neurocomp's to check)
    core["attributes"]["max_neurons_supported"] = 1 << 20
    lif = core["soma"][0]["attributes"]
    zero = {
        f"{p}_{k}": 0.0 for p in ("energy", "latency") for k in ("access_neuron", "update_neuron")
    }
    spike_out = {k: lif[k] for k in ("energy_spike_out", "latency_spike_out")}
    free = {"energy_spike_out": 0.0, "latency_spike_out": 0.0}
    core["soma"] = [
        core["soma"][0],
        {"name": f"replay[0..{units - 1}]", "attributes": {"model": "input", **zero, **spike_out}},
        {"name": f"inject[0..{units - 1}]", "attributes": {"model": "input", **zero, **free}},
    ]
    path = folder / "arch.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


def _hw_core(prog: Any, arch: Any) -> list[Any]:
    """The SANA-FE core of each of the program's cores (tile index x * tiles_y + y)."""
    m = prog.target.mesh
    out = []
    for core, slot in zip(prog.mapping.cores, prog.mapping.slots, strict=True):
        del core
        within = int(slot) % m.cores_per_chip
        tile, k = within // m.cores_per_tile, within % m.cores_per_tile
        tx, ty = tile % m.tiles_x, tile // m.tiles_x
        out.append(arch.tiles[tx * m.tiles_y + ty].cores[k])
    return out


def _spike_lists(spikes: np.ndarray) -> list[list[int]]:
    """(T, batch, n) -> per neuron the spikes of sample after sample, as 0/1 lists."""
    if spikes.size and int(spikes.max()) > 1:
        raise InputError(
            f"engine 'sanafe' replays binary spikes; got up to {int(spikes.max())} per step"
        )
    t, b, n = spikes.shape
    flat = np.transpose(spikes.reshape(t, b, n), (2, 1, 0)).reshape(n, t * b)
    return [row.astype(int).tolist() for row in flat]


def _build(prog: Any, x: Any, net_sf: Any, hw: list[Any], sanafe: Any) -> int:
    """Replay sources and receiving somas for every neuron, inputs per destination core;
    returns the number of steps (samples one after another)."""
    from .bit_accurate import integer_inputs

    net, mapping = prog.net, prog.mapping
    rec = prog.outputs(x, record=True)
    xs = integer_inputs(net, x)
    sinks = {}
    for pop in net.populations:
        g = net_sf.create_neuron_group(
            pop.name, pop.size, model_attributes={"threshold": NEVER},
            soma_hw_name="loihi_lif", default_synapse_hw_name="loihi_sparse_synapse",
        )  # fmt: skip
        for i, neuron in enumerate(g.neurons):
            neuron.set_attributes(model_attributes={"force_update_every_timestep": True})
            neuron.map_to_core(hw[mapping.neuron_core[pop.name][i]])
        sinks[pop.name] = g
    steps = 0
    free: dict[tuple[str, int], int] = {}
    for src, post_of in _fan_out(net).items():
        if src in net.inputs:
            steps = xs[src].shape[0] * xs[src].shape[1]
            _inputs(net_sf, src, xs[src], post_of, sinks, mapping, hw, free)
            continue
        spikes = rec.spikes.get(src)
        if spikes is None:
            continue
        lists = _spike_lists(spikes)
        g = net_sf.create_neuron_group(f"{src}.out", len(lists), soma_hw_name="replay[0]")
        for i, neuron in enumerate(g.neurons):
            core = int(mapping.neuron_core[src][i])
            unit = _next_unit(free, ("replay", core))
            neuron.set_attributes(
                soma_hw_name=f"replay[{unit}]", model_attributes={"spikes": lists[i]}
            )
            neuron.map_to_core(hw[core])
            for post, js in post_of[i].items():
                for j in js:
                    neuron.connect_to_neuron(sinks[post].neurons[j], {"weight": 1.0})
    return steps


def _fan_out(net: Any) -> dict[str, list[dict[str, list[int]]]]:
    """source -> per source neuron: post population -> the post neurons it has synapses to."""
    out: dict[str, list[dict[str, list[int]]]] = {}
    for pr in net.projections:
        n = net.size_of(pr.pre)
        lists = out.setdefault(pr.pre, [{} for _ in range(n)])
        csc = pr.weight.tocsc()
        for i in range(n):
            js = csc.indices[csc.indptr[i] : csc.indptr[i + 1]]
            if js.size:
                lists[i].setdefault(pr.post, []).extend(int(j) for j in js)
    return out


def _next_unit(free: dict[tuple[str, int], int], key: tuple[str, int]) -> int:
    """The next unused replay soma unit of a kind on a core (each holds one neuron)."""
    free[key] = free.get(key, -1) + 1
    return free[key]


def units_needed(prog: Any) -> int:
    """Replay soma units per core: its neurons, or the input channels reaching it."""
    per_core = np.zeros(len(prog.mapping.cores), dtype=np.int64)
    for own in prog.mapping.neuron_core.values():
        per_core = np.maximum(per_core, np.bincount(own, minlength=per_core.size))
    channels = sum(prog.net.size_of(name) for name in prog.net.inputs)
    return int(max(per_core.max(initial=1), channels, 1))


def _inputs(net_sf: Any, name: str, x: np.ndarray, post_of: list, sinks: dict, mapping: Any,
            hw: list[Any], free: dict[tuple[str, int], int]) -> None:  # fmt: skip
    """Each input channel replayed once on every core it reaches, wired to that core's targets."""
    lists = _spike_lists(x.reshape(x.shape[0], x.shape[1], -1))
    for c, targets in enumerate(post_of):
        by_core: dict[int, list[tuple[str, int]]] = {}
        for post, js in targets.items():
            for j in js:
                by_core.setdefault(int(mapping.neuron_core[post][j]), []).append((post, j))
        for core, dests in sorted(by_core.items()):
            unit = _next_unit(free, ("inject", core))
            g = net_sf.create_neuron_group(f"{name}.{c}@{core}", 1, soma_hw_name=f"inject[{unit}]")
            neuron = g.neurons[0]
            neuron.set_attributes(model_attributes={"spikes": lists[c]})
            neuron.map_to_core(hw[core])
            for post, j in dests:
                neuron.connect_to_neuron(sinks[post].neurons[j], {"weight": 1.0})


def run_sanafe(prog: Any, x: Any) -> SanafeReport:
    """Run the mapped program `prog` on input spikes x (T, batch, ...) in SANA-FE."""
    try:
        import sanafe
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InputError("engine 'sanafe' needs the sanafe package (pip install sanafe)") from exc
    import csv

    with tempfile.TemporaryDirectory() as tmp:
        arch = sanafe.load_arch(str(_arch_yaml(prog.target, Path(tmp), units_needed(prog))))
        net_sf = sanafe.Network()
        steps = _build(prog, x, net_sf, _hw_core(prog, arch), sanafe)
        chip = sanafe.SpikingChip(arch)
        chip.load(net_sf)
        perf = Path(tmp) / "perf.csv"
        res = chip.sim(steps, perf_trace=str(perf))
        rows = list(csv.DictReader(perf.open()))
    batch = next(iter(np.shape(v)[1] for v in ([x] if not isinstance(x, dict) else x.values())))
    counts = {
        "synaptic_events": sum(int(r["spikes"]) for r in rows),
        "messages": sum(int(r["packets"]) for r in rows),
        "hops": sum(int(r["hops"]) for r in rows),
        "fired": sum(int(r["fired"]) for r in rows),
        "updated": sum(int(r["updated"]) for r in rows),
    }
    parts = {k: float(v) / batch for k, v in res["energy"].items() if k != "total"}
    return SanafeReport(
        batch=batch,
        steps=steps // max(batch, 1),
        counts=counts,
        energy_per_inference_j=float(res["energy"]["total"]) / batch,
        parts_j=parts,
        latency_s=float(res["sim_time"]) / batch,
        cores=len(prog.mapping.cores),
    )
