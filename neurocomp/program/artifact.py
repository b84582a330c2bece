"""A compiled program: integer network, mapping, target, and the reports that made it.

Its folder format lives in program/folder.py (save, load) and program/schema.py (program.json);
its notebook views in program/views.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from ..analysis.energy import EnergyReport, energy_report
from ..backends.base import RunResult
from ..backends.registry import engine as _engine
from ..backends.registry import engines_for
from ..backends.sanafe import SanafeReport, run_sanafe
from ..errors import InputError
from ..inputs import check_chip_inputs, check_flag, check_input_names
from ..ir.integer import IntNetwork
from ..mapping import ChipMapping
from ..target.spec import TargetSpec
from . import folder, views
from .npz import write_npz
from .schema import CompileSummary, ProgramError

__all__ = ["Program", "ProgramError", "load_program", "write_npz"]


@dataclass(kw_only=True)
class Program:
    """What `compile` produces. Times are in steps of `dt` seconds; energies in joules."""

    target: TargetSpec
    net: IntNetwork
    mapping: ChipMapping
    dt: float | None
    reset: str
    pipeline: str
    pass_reports: list[dict[str, Any]] = field(default_factory=list)
    summary: CompileSummary

    # -- running ------------------------------------------------------------------------------
    def run(self, x: Any, record: bool = False, count: bool = True) -> RunResult:
        """Bit-accurate run on the target's integer semantics, counting events per core
        (`count`) and, with `record`, keeping every population's spikes and voltages."""
        record, count = check_flag("run", "record", record), check_flag("run", "count", count)
        x = self._inputs(x)
        return _engine("reference").run(
            self.net, x, self.target.format, mapping=self.mapping if count else None, record=record
        )

    @property
    def engines(self) -> tuple[str, ...]:
        """Engines that can run this program: neurocomp's own, and the target's backend."""
        return engines_for(self.target)

    def outputs(self, x: Any, engine: str = "reference", record: bool = False) -> RunResult:
        """Run on `engine`; outputs (T, batch, *shape) and, with `record`, every population's
        spikes and integer voltages (T, batch, n)."""
        record = check_flag("outputs", "record", record)
        if engine not in self.engines:
            raise InputError(
                f"engine '{engine}' is not available for target "
                f"'{self.target.name}'; engines: {', '.join(self.engines)}"
            )
        x = self._inputs(x)
        return _engine(engine).run(self.net, x, self.target.format, record=record)

    def _inputs(self, x: Any) -> Any:
        """x as the engines take it (one array, or a dict by input name: any mapping, an npz
        file's too), checked: input spikes (T >= 1, batch >= 1, ...) of values this chip can
        take, and no array for an input the program does not have (InputError)."""
        if isinstance(x, Mapping):
            x = dict(x.items())
            check_input_names(self.net.inputs, x)
            xs = {str(k): np.asarray(v) for k, v in x.items()}
        else:
            xs = {"x": np.asarray(x)}
        check_chip_inputs(xs, self.target)
        return x

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
            return run_sanafe(self, self._inputs(x))
        if engine != "reference":
            raise InputError(f"energy engine '{engine}': must be 'reference' or 'sanafe'")
        result = self.run(x)
        if result.counts is None:
            raise ProgramError("the program has no mapping to count events against")
        return energy_report(self.net, result.counts, self.target, self.mapping.usage(self.target))

    # -- views --------------------------------------------------------------------------------
    def plot(self) -> Any:
        """Matplotlib figure of the mapping (no run needed): cores per layer, and core
        utilisation (largest used / limit over the core's resources) as a heatmap over the mesh."""
        return views.plot(self)

    def _repr_html_(self) -> str:
        return views.html(self)

    # -- saving -------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """What program.json holds (see neurocomp.program.schema.Manifest)."""
        return folder.manifest(self).model_dump()

    def arrays(self) -> dict[str, np.ndarray]:
        """What arrays.npz holds."""
        return folder.arrays(self.net)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the program folder atomically; an existing program there is replaced."""
        return folder.save_program(self, directory)


def load_program(directory: str | os.PathLike[str]) -> Program:
    """Read a program folder written by `Program.save`, checked before anything is built."""
    m, spec, net, mapping = folder.read_folder(directory)
    return Program(
        target=spec,
        net=net,
        mapping=mapping,
        dt=m.dt,
        reset=m.reset,
        pipeline=m.pipeline,
        pass_reports=list(m.passes),
        summary=m.summary,
    )
