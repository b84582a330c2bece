"""A compiled program: integer network, mapping, target, and the reports that made it.

Saved as a folder: `program.json` (everything but arrays, keys sorted) and `arrays.npz` (integer
parameters and synapses, written with fixed zip timestamps), so the same input gives the same
bytes. Saving goes through a temporary folder renamed into place: no half-written program.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
from scipy import sparse

from ..analysis.energy import (
    EnergyReport,
    core_utilisation,
    draw_utilisation,
    energy_report,
    mesh_of,
)
from ..errors import InputError, NeurocompError
from ..mapping import Mapping
from ..mapping.pack import Core, count_output_axons, neuron_cores
from ..mapping.place import slot_coords
from ..mapping.split import Block
from ..target.spec import TargetSpec, spec_from_dict
from .lowering import IntNetwork, IntPopulation, IntProjection
from .reference_sim import RunResult, Semantics, run
from .sanafe import SanafeReport

FORMAT_VERSION = 1
LAVA_LOADER = "run_lava.py"
PROGRAM_FILES = ("program.json", "arrays.npz", LAVA_LOADER)
LAVA_LOADER_TEXT = '''"""Rebuild this program's Lava processes and run them (written by neurocomp).

    python run_lava.py spikes.npz            # Lava's bit-accurate CPU simulation (fixed_pt)
    python run_lava.py spikes.npz --loihi2   # on a Loihi 2 system (needs Intel's lava-loihi)

spikes.npz holds `x`: binary input spikes (T, batch, *input_shape). Outputs go to
lava_outputs.npz. With --loihi2 the same processes run under Loihi2HwCfg; Intel's lava-loihi
package (available to INRC members) supplies the chip process models.
"""

import sys
from pathlib import Path

import numpy as np

import neurocomp as nc
from neurocomp.backends.lava import LavaNetwork, _binary
from neurocomp.backends.lava_compat import import_lava


def main() -> None:
    here = Path(__file__).resolve().parent
    prog = nc.load_program(here)
    data = dict(np.load(sys.argv[1]))
    names = list(prog.net.inputs)
    x = {n: data[n] for n in names} if all(n in data for n in names) else data["x"]
    xs = _binary(prog.net, x)
    batch = next(iter(xs.values())).shape[1]
    lava_net = LavaNetwork(prog.net, batch)
    if "--loihi2" in sys.argv:
        run_configs = import_lava("lava.magma.core.run_configs")
        lava_net.run_cfg = run_configs.Loihi2HwCfg()
    res = lava_net.run(xs)
    np.savez(here / "lava_outputs.npz", **{k: v for k, v in res["spikes"].items()})
    print("wrote", here / "lava_outputs.npz")


if __name__ == "__main__":
    main()
'''


class ProgramError(NeurocompError):
    """A program folder that cannot be read or written."""


@dataclass
class Program:
    """What `compile` produces. Times are in steps of `dt` seconds; energies in joules."""

    target: TargetSpec
    net: IntNetwork
    mapping: Mapping
    dt: float | None
    reset: str
    pipeline: str
    pass_reports: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    # -- running ------------------------------------------------------------------------------
    def run(self, x: Any, record: bool = False, count: bool = True) -> RunResult:
        """Bit-accurate run on the target's integer semantics, counting events per core."""
        return run(
            self.net,
            x,
            Semantics.of(self.target.format),
            mapping=self.mapping if count else None,
            record=record,
            chip_tiles_x=self.target.mesh.tiles_x,
        )

    @property
    def engines(self) -> tuple[str, ...]:
        """Engines that can run this program: neurocomp's own, and Lava for Lava targets."""
        return (
            ("reference", "lava") if self.target.extra.get("backend") == "lava" else ("reference",)
        )

    def outputs(self, x: Any, engine: str = "reference", record: bool = False) -> RunResult:
        """Run on `engine`; outputs (T, batch, *shape) and, with `record`, every population's
        spikes and integer voltages (T, batch, n)."""
        if engine not in self.engines:
            raise InputError(
                f"engine '{engine}' is not available for target "
                f"'{self.target.name}'; engines: {', '.join(self.engines)}"
            )
        if engine == "reference":
            return self.run(x, record=record, count=False)
        from .lava import run_lava

        res = run_lava(self.net, x, record=record)
        outs = {}
        shift = 1 << self.target.format.weight_shift
        for name, src in self.net.outputs.items():
            shape = self.net.shape_of(src)
            if src in self.net.inputs:
                outs[name] = np.asarray(x if not isinstance(x, dict) else x[src])
                continue
            pop = self.net.population(src)
            data = res["spikes"][src] if pop.spiking else res["v"][src] * (pop.scale / shift)
            outs[name] = data.reshape(data.shape[0], data.shape[1], *shape)
        return RunResult(
            outs, None, {k: v.astype(np.uint8) for k, v in res["spikes"].items()}, res["v"]
        )

    def simulate(self, x: Any, engine: str = "reference", output: str | None = None) -> np.ndarray:
        """Outputs (T, batch, *output_shape) of the program on input spikes x (T, batch, ...).

        engine: "reference" (neurocomp's bit-accurate simulator, the default) or, for Lava
        targets, "lava" (Lava's own bit-accurate CPU simulation of the emitted processes)."""
        outs = self.outputs(x, engine).outputs
        if output is None:
            if len(outs) != 1:
                raise InputError(f"the program has outputs {sorted(outs)}: pass output=")
            return next(iter(outs.values()))
        if output not in outs:
            raise InputError(f"no output '{output}'; outputs are {sorted(outs)}")
        return outs[output]

    @overload
    def energy(self, x: Any, engine: Literal["reference"] = "reference") -> EnergyReport: ...

    @overload
    def energy(self, x: Any, engine: Literal["sanafe"]) -> SanafeReport: ...

    def energy(self, x: Any, engine: str = "reference") -> EnergyReport | SanafeReport:
        """Run on x and report spikes, synaptic ops, neuron updates, hops, joules and latency
        per inference, nominal and banded, from the target's sourced figures.

        engine: "reference" (neurocomp's event model) or "sanafe" (the same mapped program in
        SANA-FE, an independent simulator with Loihi figures fitted to silicon: its event
        counts, dynamic joules and chip seconds per inference; see neurocomp/backends/sanafe.py).
        """
        if engine == "sanafe":
            from .sanafe import run_sanafe

            return run_sanafe(self, x)
        if engine != "reference":
            raise InputError(f"energy engine '{engine}': must be 'reference' or 'sanafe'")
        result = self.run(x)
        if result.counts is None:
            raise ProgramError("the program has no mapping to count events against")
        return energy_report(
            self.net, result.counts, self.target, self.mapping.usage_table(self.target)
        )

    def plot(self) -> Any:
        """Matplotlib figure of the mapping (no run needed): cores per layer, and core
        utilisation (largest used / limit over the core's resources) as a heatmap over the mesh."""
        from ..analysis.plots import DisplayFigure

        fig = DisplayFigure(figsize=(11, 4))
        ax1, ax2 = fig.subplots(1, 2)
        per_layer = self.summary.get("cores_per_layer", {})
        ax1.bar(list(per_layer), list(per_layer.values()))
        ax1.set_ylabel("cores")
        ax1.set_title(
            f"cores per layer ({self.summary.get('cores_used')} used, lower bound "
            f"{self.summary.get('cores_lower_bound')})"
        )
        ax1.tick_params(axis="x", rotation=45)
        cores = [
            {**r, "utilisation": core_utilisation(r)} for r in self.mapping.usage_table(self.target)
        ]
        draw_utilisation(fig, ax2, cores, mesh_of(self.target))
        fig.tight_layout()
        return fig

    def _repr_html_(self) -> str:
        from ..analysis.html import table

        rows = [
            [
                r["core"],
                ", ".join(r["layers"]),
                f"{r['neurons'][0]}/{r['neurons'][1]}",
                f"{r['synapse_bits'][0]}/{r['synapse_bits'][1]}",
                f"{r['input_axons'][0]}/{r['input_axons'][1]}",
                f"{r['output_axons'][0]}/{r['output_axons'][1]}",
            ]
            for r in self.mapping.usage_table(self.target)
        ]
        s = self.summary
        return table(
            f"Program for {s.get('target')}: {s.get('cores_used')} of "
            f"{s.get('cores_available')} cores, {s.get('synapses')} synapses",
            ["core", "layers", "neurons", "synapse bits", "input axons", "output axons"],
            rows,
            f"pipeline: {self.pipeline}",
        )

    # -- saving -------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        pops = [
            {
                "name": p.name,
                "kind": p.kind,
                "shape": list(p.shape),
                "reset": p.reset,
                "spiking": p.spiking,
                "current": p.du is not None,
            }
            for p in self.net.populations
        ]
        projs = [
            {
                "name": p.name,
                "pre": p.pre,
                "post": p.post,
                "recurrent": p.recurrent,
                "bias": p.bias is not None,
                "shape": list(p.weight.shape),
            }
            for p in self.net.projections
        ]
        cores = [
            {
                "core": c.index,
                "slot": int(self.mapping.slots[c.index]),
                "blocks": [
                    [
                        b.population,
                        b.start,
                        b.stop,
                        b.synapses,
                        b.synapse_bits,
                        b.input_axons,
                        b.fan_in,
                    ]
                    for b in c.blocks
                ],
            }
            for c in self.mapping.cores
        ]
        return _plain(
            {
                "format_version": FORMAT_VERSION,
                "target": self.target.to_dict(),
                "dt": self.dt,
                "reset": self.reset,
                "pipeline": self.pipeline,
                "decay_bits": self.net.decay_bits,
                "inputs": {k: list(v) for k, v in self.net.inputs.items()},
                "outputs": dict(self.net.outputs),
                "populations": pops,
                "projections": projs,
                "cores": cores,
                "lower_bound": self.mapping.lower_bound,
                "placement": self.mapping.placement,
                "passes": self.pass_reports,
                "summary": self.summary,
                "resources": self.mapping.usage_table(self.target),
            }
        )

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for p in self.net.populations:
            for key in ("dv", "du", "bias", "v_reset", "threshold", "scale"):
                arr = getattr(p, key)
                if arr is not None:
                    out[f"pop/{p.name}/{key}"] = arr
        for pr in self.net.projections:
            w = pr.weight.tocsr()
            w.sort_indices()
            out[f"proj/{pr.name}/indptr"] = w.indptr.astype(np.int64)
            out[f"proj/{pr.name}/indices"] = w.indices.astype(np.int64)
            out[f"proj/{pr.name}/data"] = w.data.astype(np.int64)
            if pr.bias is not None:
                out[f"proj/{pr.name}/bias"] = pr.bias.astype(np.int64)
        return out

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the program folder atomically; an existing program there is replaced."""
        target = Path(directory)
        if target.exists() and (
            not target.is_dir() or any(p.name not in PROGRAM_FILES for p in target.iterdir())
        ):
            raise ProgramError(
                f"{target}: exists and is not a neurocomp program folder; choose another -o"
            )
        missing = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
        if target.parent.exists():  # leftovers of an interrupted earlier save
            for stale in target.parent.glob(f".{target.name}.old-*"):
                shutil.rmtree(stale, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        try:
            text = json.dumps(self.manifest(), indent=1, sort_keys=True)
            (tmp / "program.json").write_text(text + "\n")
            write_npz(tmp / "arrays.npz", self.arrays())
            if "lava" in self.engines:
                (tmp / LAVA_LOADER).write_text(LAVA_LOADER_TEXT)
            if target.exists():
                target.rename(old)
            tmp.rename(target)
        except BaseException:
            if old.exists() and not target.exists():
                old.rename(target)  # put the previous program back
            shutil.rmtree(tmp, ignore_errors=True)
            for folder in missing:  # folders this call created, if still empty
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)
        return target


def _plain(x: Any) -> Any:
    """JSON-safe copy: numpy scalars and arrays to Python, tuples to lists, floats kept exact."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return str(x)
    return x


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed with fixed timestamps and sorted names: byte-identical output."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def load_program(directory: str | os.PathLike[str]) -> Program:
    """Read a program folder written by `Program.save`."""
    folder = Path(directory)
    if not (folder / "program.json").is_file() or not (folder / "arrays.npz").is_file():
        raise ProgramError(
            f"{folder}: not a neurocomp program folder (program.json and "
            "arrays.npz expected; create one with `neurocomp compile`)"
        )
    try:
        m = json.loads((folder / "program.json").read_text())
        with np.load(folder / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ProgramError(f"{folder}: corrupt program ({exc})") from None
    if m.get("format_version") != FORMAT_VERSION:
        raise ProgramError(
            f"{folder}: program format {m.get('format_version')}, this "
            f"neurocomp reads {FORMAT_VERSION}"
        )
    spec = spec_from_dict(_toml_shape(m["target"]), f"{folder}/program.json")
    pops = []
    for p in m["populations"]:
        a: dict[str, Any] = {
            k: arrays.get(f"pop/{p['name']}/{k}")
            for k in ("dv", "du", "bias", "v_reset", "threshold", "scale")
        }
        pops.append(
            IntPopulation(
                name=p["name"], kind=p["kind"], shape=tuple(p["shape"]), reset=p["reset"], **a
            )
        )
    projs = []
    for pr in m["projections"]:
        key = f"proj/{pr['name']}"
        w = sparse.csr_matrix(
            (arrays[f"{key}/data"], arrays[f"{key}/indices"], arrays[f"{key}/indptr"]),
            shape=tuple(pr["shape"]),
        )
        projs.append(
            IntProjection(
                pr["name"], pr["pre"], pr["post"], w, arrays.get(f"{key}/bias"), pr["recurrent"]
            )
        )
    net = IntNetwork(
        {k: tuple(v) for k, v in m["inputs"].items()},
        tuple(pops),
        tuple(projs),
        dict(m["outputs"]),
        int(m["decay_bits"]),
    )
    cores = [Core(c["core"], [Block(*b) for b in c["blocks"]]) for c in m["cores"]]
    dest = count_output_axons(net, cores)
    slots = np.array([c["slot"] for c in m["cores"]], dtype=np.int64)
    mapping = Mapping(
        cores,
        slots,
        slot_coords(spec)[slots],
        neuron_cores(net, cores),
        dest,
        m["lower_bound"],
        m["placement"],
    )
    return Program(
        spec, net, mapping, m["dt"], m["reset"], m["pipeline"], m["passes"], m["summary"]
    )


def _toml_shape(d: dict[str, Any]) -> dict[str, Any]:
    """A saved TargetSpec dict back into the TOML document layout spec_from_dict reads."""
    out = {k: v for k, v in d.items() if k not in ("source", "extra")}
    out.update(d.get("extra") or {})
    return out
