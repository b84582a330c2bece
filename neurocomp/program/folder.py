"""A program folder: writing and reading `program.json` + `arrays.npz` (+ `run_lava.py`).

program.json (everything but arrays, keys sorted) is a `Manifest` (program/schema.py);
arrays.npz holds the integer parameters and synapses, written with fixed zip timestamps, so the
same input gives the same bytes. Saving goes through a temporary folder renamed into place: no
half-written program. Reading validates both files against each other before building anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from scipy import sparse

from ..errors import NeurocompError
from ..files import replace_folder
from ..ir.integer import IntConv, IntNetwork, IntPopulation, IntProjection
from ..ir.ops import aligned_delays
from ..lowering.integers import stored_violations
from ..mapping import Mapping
from ..mapping.pack import Core, count_output_axons, neuron_cores
from ..mapping.place import slot_coords
from ..mapping.split import Block
from ..target.spec import TargetSpec, spec_from_dict
from .npz import read_npz, write_npz
from .schema import (
    FORMAT_VERSION,
    CompileSummary,
    Manifest,
    ProgramError,
    ResourceRow,
    check_structure,
    expected_arrays,
    parse_manifest,
)


class Saved(Protocol):
    """What a program folder is written from (a `Program`)."""

    target: TargetSpec
    net: IntNetwork
    mapping: Mapping
    dt: float | None
    reset: str
    pipeline: str
    pass_reports: list[dict[str, Any]]
    summary: CompileSummary

    @property
    def engines(self) -> tuple[str, ...]: ...


LAVA_LOADER = "run_lava.py"
PROGRAM_FILES = ("program.json", "arrays.npz", LAVA_LOADER)
# What a program folder for a Lava target carries: the real loader is neurocomp.program.lava_run.
LAVA_LOADER_TEXT = '''"""Rebuild this program's Lava processes and run them (written by neurocomp).

    python run_lava.py spikes.npz            # Lava's bit-accurate CPU simulation (fixed_pt)
    python run_lava.py spikes.npz --loihi2   # on a Loihi 2 system (needs Intel's lava-loihi)

The same as `python -m neurocomp.program.lava_run THIS_FOLDER spikes.npz [--loihi2]`: it builds
the program's LavaNetwork and runs it (with --loihi2 under Loihi2HwCfg; Intel's lava-loihi
package, available to INRC members, supplies the chip process models). spikes.npz holds `x`:
binary input spikes (T, batch, *input_shape). Outputs go to lava_outputs.npz here.
Layers with reset by subtraction or a bias into the synaptic current run neurocomp's own Lava
neuron NcLIF (neurocomp.backends.lava_neurons.lif): a CPU model, with no Loihi 2 microcode.
"""

import sys
from pathlib import Path

from neurocomp.program.lava_run import main

if __name__ == "__main__":
    sys.exit(main([str(Path(__file__).resolve().parent), *sys.argv[1:]]))
'''


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


def manifest(prog: Saved) -> Manifest:
    """The program's `Manifest` (what program.json holds)."""
    net, mapping = prog.net, prog.mapping
    pops = [
        {
            "name": p.name,
            "kind": p.kind,
            "shape": list(p.shape),
            "reset": p.reset,
            "spiking": p.spiking,
            "current": p.du is not None,
            "max_spikes": p.max_spikes,
            "inclusive": p.inclusive,
            # only sigma-delta neurons write these: other programs' bytes stay as they were
            **({"sigma_delta": p.sigma_delta, "state_exp": p.state_exp} if p.sigma_delta else {}),
        }
        for p in net.populations
    ]
    projs = [
        {
            "name": p.name,
            "pre": p.pre,
            "post": p.post,
            "recurrent": p.recurrent,
            "bias": p.bias is not None,
            "shape": list(p.weight.shape),
            **({"delay": True} if p.delay is not None else {}),
            **({"conv": _conv_entry(p.conv)} if p.conv is not None else {}),
        }
        for p in net.projections
    ]
    cores = [
        {
            "core": c.index,
            "slot": int(mapping.slots[c.index]),
            "blocks": [
                [b.population, b.start, b.stop, b.synapses, b.synapse_bits, b.input_axons, b.fan_in]
                for b in c.blocks
            ],
        }
        for c in mapping.cores
    ]
    doc = {
        "format_version": FORMAT_VERSION,
        "target": prog.target.to_dict(),
        "dt": prog.dt,
        "reset": prog.reset,
        "pipeline": prog.pipeline,
        "decay_bits": net.decay_bits,
        "inputs": {k: list(v) for k, v in net.inputs.items()},
        "outputs": dict(net.outputs),
        "populations": pops,
        "projections": projs,
        "cores": cores,
        "lower_bound": mapping.lower_bound,
        "placement": mapping.placement,
        "passes": prog.pass_reports,
        "summary": prog.summary.to_dict(),
        "resources": [u.to_dict() for u in mapping.usage(prog.target)],
    }
    return Manifest.model_validate_json(json.dumps(_plain(doc)))


def lava_loader_text(net: IntNetwork) -> str:
    """run_lava.py for `net`: binary programs keep the original text (and their bytes)."""
    if not any(p.spiking and p.max_spikes != 1 for p in net.populations):
        return LAVA_LOADER_TEXT
    return LAVA_LOADER_TEXT.replace(
        "binary input spikes (T, batch, *input_shape).",
        "input spikes (T, batch, *input_shape),\nbinary or graded (values within the target's "
        "spike payload). Multi-spike layers run NcLIF\nsending graded spikes (their counts).",
    )


def manifest_text(prog: Saved) -> str:
    """program.json's text: the manifest, keys sorted, one space of indent."""
    return json.dumps(_plain(manifest(prog).model_dump()), indent=1, sort_keys=True) + "\n"


def _conv_entry(c: IntConv) -> dict[str, Any]:
    return {
        "kernel_shape": list(c.kernel.shape),
        "in_shape": list(c.in_shape),
        "out_shape": list(c.out_shape),
        "stride": list(c.stride),
        "padding": list(c.padding),
        "dilation": list(c.dilation),
        "groups": c.groups,
    }


def arrays(net: IntNetwork) -> dict[str, np.ndarray]:
    """arrays.npz's members: per-neuron parameters, and each projection as CSR (int64)."""
    out: dict[str, np.ndarray] = {}
    for p in net.populations:
        for key in ("dv", "du", "bias", "v_reset", "threshold", "scale"):
            arr = getattr(p, key)
            if arr is not None:
                out[f"pop/{p.name}/{key}"] = arr
    for pr in net.projections:
        w = pr.weight.tocsr()
        w.sort_indices()
        out[f"proj/{pr.name}/indptr"] = w.indptr.astype(np.int64)
        out[f"proj/{pr.name}/indices"] = w.indices.astype(np.int64)
        out[f"proj/{pr.name}/data"] = w.data.astype(np.int64)
        if pr.bias is not None:
            out[f"proj/{pr.name}/bias"] = pr.bias.astype(np.int64)
        if pr.delay is not None:  # one delay per stored synapse, in the order of data
            out[f"proj/{pr.name}/delay"] = aligned_delays(w, pr.delay)
        if pr.conv is not None:
            out[f"proj/{pr.name}/kernel"] = pr.conv.kernel.astype(np.int64)
    return out


def save_program(prog: Saved, directory: str | os.PathLike[str]) -> Path:
    """Write the program folder atomically through `files.replace_folder`: locked against
    concurrent writers, leftovers of killed runs removed, a symlink followed; an existing
    program there is replaced, any other folder is refused (OutputError)."""

    def write(tmp: Path) -> None:
        (tmp / "program.json").write_text(manifest_text(prog))
        write_npz(tmp / "arrays.npz", arrays(prog.net))
        if "lava" in prog.engines:
            (tmp / LAVA_LOADER).write_text(lava_loader_text(prog.net))

    return replace_folder(directory, write, PROGRAM_FILES)


def _check_csr(m: Manifest, arr: dict[str, np.ndarray], where: str) -> None:
    pop_synapses = {p.name: 0 for p in m.populations}
    for pr in m.projections:
        key = f"proj/{pr.name}"
        indptr, indices, data = arr[f"{key}/indptr"], arr[f"{key}/indices"], arr[f"{key}/data"]
        nnz = int(indptr[-1])
        if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or nnz != indices.size != data.size:
            raise ProgramError(
                f"{where}: {key}/indptr: not a CSR row pointer for {indices.size} synapses"
            )
        if indices.size != data.size or indices.size != nnz:
            raise ProgramError(f"{where}: {key}: indices and data must both hold {nnz} entries")
        if nnz and (indices.min() < 0 or indices.max() >= pr.shape[1]):
            raise ProgramError(
                f"{where}: {key}/indices: values in [{indices.min()}, {indices.max()}]; "
                f"must be in [0, {pr.shape[1] - 1}]"
            )
        delay = arr.get(f"{key}/delay")
        if delay is not None and (delay.size != nnz or (nnz and delay.min() < 0)):
            raise ProgramError(f"{where}: {key}/delay: must hold {nnz} delays >= 0")
        pop_synapses[pr.post] += nnz
    blocks = {p: 0 for p in pop_synapses}
    for c in m.cores:
        for b in c.blocks:
            blocks[b[0]] += b[3]
    if blocks != pop_synapses or sum(blocks.values()) != m.summary.synapses:
        raise ProgramError(
            f"{where}: synapses per population {pop_synapses} disagree with program.json "
            f"({blocks}, {m.summary.synapses} in all): arrays of another program?"
        )


def check_arrays(m: Manifest, arr: dict[str, np.ndarray], where: str) -> None:
    """arrays.npz against the manifest: the members, their dtypes and shapes, CSR bounds."""
    want = expected_arrays(m)
    if set(arr) != set(want):
        extra, missing = sorted(set(arr) - set(want)), sorted(set(want) - set(arr))
        raise ProgramError(
            f"{where}: members {missing[:3]} missing, {extra[:3]} unexpected: "
            "arrays of another program?"
        )
    for name, (dtype, shape) in want.items():
        a = arr[name]
        flat = a.ndim == 1 or name.endswith("/kernel")  # a kernel keeps its 4 axes
        if a.dtype.str != dtype or (shape is not None and a.shape != shape) or not flat:
            raise ProgramError(
                f"{where}: {name}: {a.dtype.str} {a.shape}; program.json needs "
                f"{dtype} {shape or '(n,)'}"
            )
        if a.dtype.kind == "f" and not (np.all(np.isfinite(a)) and np.all(a > 0)):
            raise ProgramError(f"{where}: {name}: values must be finite and > 0")
    _check_csr(m, arr, where)


def _network(m: Manifest, arr: dict[str, np.ndarray]) -> IntNetwork:
    pops = [
        IntPopulation(
            name=p.name,
            kind=p.kind,
            shape=tuple(p.shape),
            reset=p.reset,
            dv=arr[f"pop/{p.name}/dv"],
            bias=arr[f"pop/{p.name}/bias"],
            v_reset=arr[f"pop/{p.name}/v_reset"],
            scale=arr[f"pop/{p.name}/scale"],
            threshold=arr.get(f"pop/{p.name}/threshold"),
            du=arr.get(f"pop/{p.name}/du"),
            max_spikes=p.max_spikes,
            inclusive=p.inclusive,
            sigma_delta=p.sigma_delta,
            state_exp=p.state_exp,
        )
        for p in m.populations
    ]
    projs = []
    for pr in m.projections:
        key = f"proj/{pr.name}"
        w = sparse.csr_matrix(
            (arr[f"{key}/data"], arr[f"{key}/indices"], arr[f"{key}/indptr"]),
            shape=tuple(pr.shape),
        )
        delay = None
        if pr.delay:
            delay = sparse.csr_matrix((arr[f"{key}/delay"], w.indices, w.indptr), shape=w.shape)
        conv = None
        if pr.conv is not None:
            c = pr.conv
            conv = IntConv(
                arr[f"{key}/kernel"], c.in_shape, c.out_shape, c.stride, c.padding, c.dilation,
                c.groups,
            )  # fmt: skip
        projs.append(
            IntProjection(
                pr.name, pr.pre, pr.post, w, arr.get(f"{key}/bias"), pr.recurrent, delay, conv
            )
        )
    return IntNetwork(
        {k: tuple(v) for k, v in m.inputs.items()},
        tuple(pops),
        tuple(projs),
        dict(m.outputs),
        m.decay_bits,
    )


def _mapping(m: Manifest, net: IntNetwork, spec: TargetSpec, where: str) -> Mapping:
    cores = [Core(c.core, [Block(*b) for b in c.blocks]) for c in m.cores]
    slots = np.array([c.slot for c in m.cores], dtype=np.int64)
    coords = slot_coords(spec)
    if slots.size and slots.max() >= len(coords):
        raise ProgramError(
            f"{where}: cores[].slot up to {slots.max()}; the board has {len(coords)} core slots"
        )
    return Mapping(
        cores=cores,
        slots=slots,
        coords=coords[slots],
        neuron_core=neuron_cores(net, cores),
        destinations=count_output_axons(net, cores),
        lower_bound=dict(m.lower_bound),
        placement=dict(m.placement),
        core_chip=slots // spec.mesh.cores_per_chip,
        bound_method=m.summary.cores_lower_bound_lp_method or "",
    )


def _toml_shape(d: dict[str, Any]) -> dict[str, Any]:
    """A saved TargetSpec dict back into the TOML document layout spec_from_dict reads."""
    out = {k: v for k, v in d.items() if k not in ("source", "extra")}
    extra = d.get("extra") or {}
    if not isinstance(extra, dict):
        raise ProgramError("program.json: target.extra must be an object")
    out.update(extra)
    return out


def read_folder(
    directory: str | os.PathLike[str],
) -> tuple[Manifest, TargetSpec, IntNetwork, Mapping]:
    """Parse and check a program folder; the pieces a `Program` is made of."""
    folder = Path(directory)
    if not (folder / "program.json").is_file() or not (folder / "arrays.npz").is_file():
        raise ProgramError(
            f"{folder}: not a neurocomp program folder (program.json and "
            "arrays.npz expected; create one with `neurocomp compile`)"
        )
    where = f"{folder}/program.json"
    try:
        text = (folder / "program.json").read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProgramError(f"{where}: cannot be read ({exc})") from None
    m = parse_manifest(text, where)
    check_structure(m, where)
    arr = read_npz(folder / "arrays.npz", f"{folder}/arrays.npz")
    check_arrays(m, arr, f"{folder}/arrays.npz")
    try:
        spec = spec_from_dict(_toml_shape(m.target), where)
    except NeurocompError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise ProgramError(f"{where}: target: {exc}") from None
    stored = {k: v for k, v in m.target.items() if k != "source"}
    if _plain({k: v for k, v in spec.to_dict().items() if k != "source"}) != stored:
        raise ProgramError(f"{where}: target: keys missing or not as written by neurocomp")
    net = _network(m, arr)
    if net.decay_bits != spec.format.decay_bits:
        raise ProgramError(
            f"{where}: decay_bits = {net.decay_bits}; target '{spec.name}' has "
            f"{spec.format.decay_bits}"
        )
    bad = stored_violations(net, spec.format)
    if bad:
        raise ProgramError(f"{where}: values the target cannot hold: {bad[0]}")
    mapping = _mapping(m, net, spec, where)
    _check_summary(m, net, mapping, spec, where)
    return m, spec, net, mapping


def _check_summary(
    m: Manifest, net: IntNetwork, mapping: Mapping, spec: TargetSpec, where: str
) -> None:
    """The stored summary and resources table against what the program itself gives."""
    s = m.summary
    for field, stored, actual in (
        ("summary.cores_used", s.cores_used, mapping.cores_used),
        ("summary.neurons", s.neurons, net.neurons),
        ("summary.synapses", s.synapses, net.synapses),
        ("summary.chips", s.chips, spec.chips),
        ("summary.cores_available", s.cores_available, spec.cores_available),
    ):
        if stored != actual:
            raise ProgramError(f"{where}: {field} = {stored}; the program has {actual}")
    if [r.model_dump() for r in m.resources] != [
        ResourceRow.model_validate_json(json.dumps(_plain(u.to_dict()))).model_dump()
        for u in mapping.usage(spec)
    ]:
        raise ProgramError(f"{where}: resources disagree with the cores and the target")
