"""Chip descriptions: TOML files validated into a `TargetSpec`.

A chip is data. Shipped chips live in the top-level `targets/` folder (installed as the package
`neurocomp.target_files`); `--target path/to/chip.toml` loads any other. Every limit is defined
once, here in the spec, and every stage reads it from there.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
import tomllib
from dataclasses import MISSING, asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import NeurocompError
from .figures import Figure, FigureError, parse_figure

NEURON_MODELS = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I", "Threshold", "Identity", "SigmaDelta")
# Bounds checked before anything is built from a chip description.
MAX_CORES = 2**20  # tiles_x * tiles_y * cores_per_tile * chips_per_board (Hala Point: 147456)
MAX_TOML_BYTES = 2**20  # a chip description file larger than this is refused unread
MAX_DEPTH = 16  # nesting of tables and arrays
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")  # a chip's name is an identifier


class TargetError(NeurocompError):
    """A chip description that cannot be used: unknown name, bad file, invalid value."""


@dataclass(frozen=True)
class Mesh:
    tiles_x: int
    tiles_y: int
    cores_per_tile: int
    chips_per_board: int = 1

    @property
    def cores_per_chip(self) -> int:
        return self.tiles_x * self.tiles_y * self.cores_per_tile


@dataclass(frozen=True)
class CoreLimits:
    """Per-core resources: the limits mapping splits populations against."""

    neurons: int
    synapse_memory_bits: int
    input_axons: int
    output_axons: int
    fan_in: int


@dataclass(frozen=True)
class SynapseFormat:
    """Bits a synapse list costs: per input axon, ceil((header + n * entry) / word) words."""

    word_bits: int
    header_bits: int
    index_bits: int
    delay_bits: int = 0
    # True: a convolution's kernel is stored once per core (its taps' weights, not a synapse per
    # connection), and its input axons are still one per presynaptic neuron
    shared_conv_weights: bool = False


@dataclass(frozen=True)
class NumberFormat:
    """Integer formats and the arithmetic the chip does with them.

    Synaptic input and the threshold are shifted left by `weight_shift` / `threshold_shift` bits
    into the state's scale (Loihi aligns them with 6 bits); `synapse_delay` steps pass between a
    spike and its arrival (Lava's Dense/Sparse: 1); `activation_bits` > 0 wraps the summed
    synaptic input to that many signed bits before the shift; `spike_payload_bits` > 0 lets a
    spike carry an unsigned integer payload of that width (graded spikes: a multi-spike neuron
    sends its spike count, each synapse adds weight * payload), 0 allows binary spikes only.
    """

    weight_bits: int
    state_bits: int
    decay_bits: int
    decay_rounding: str
    threshold_bits: int
    bias_bits: int
    overflow: str
    neuron_models: tuple[str, ...]
    current_overflow: str = ""  # "" = same as overflow
    weight_shift: int = 0
    threshold_shift: int = 0
    synapse_delay: int = 0
    activation_bits: int = 0
    subtract_reset: bool = True
    reset_to_value: bool = True  # False: a spike always resets v to 0
    current_bias: bool = True  # False: no per-step bias into the synaptic current
    # True: a projection's bias onto neurons without a current stage is stored as the neurons'
    # own bias (present from the first step), even where a current bias exists
    bias_to_neuron: bool = False
    spike_payload_bits: int = 0  # graded spikes: unsigned payload width; 0: binary spikes only


@dataclass(frozen=True)
class EnergyModel:
    """Joules per event (a message: per spike and destination core), static watts per chip.
    Nominal values; their sources and bands are in `TargetSpec.figures`."""

    synop_j: float
    neuron_update_active_j: float
    neuron_update_idle_j: float
    spike_local_j: float
    hop_ew_j: float
    hop_ns_j: float
    static_power_w: float
    spike_j: float = 0.0  # per spike a neuron emits (output-axon lookup)


@dataclass(frozen=True)
class TimingModel:
    """Seconds per event (a core's work in a step is the sum of its events), the barrier for the
    chip's tiles (`barrier_s`: all of them, `barrier_tile_s`: one; default the same) and the
    embedded processors' management per step."""

    synop_s: float
    neuron_update_active_s: float
    neuron_update_idle_s: float
    spike_local_s: float
    hop_ew_s: float
    hop_ns_s: float
    barrier_s: float
    spike_s: float = 0.0
    barrier_tile_s: float = -1.0  # -1: same as barrier_s
    step_overhead_s: float = 0.0


@dataclass(frozen=True)
class BoardModel:
    """Figures of the board around the chips: a message over a chip-to-chip link (or read out to
    the host), the barrier across two chips (default: the chip's own) and what it adds per
    doubling of the chips in use, and every value streamed between host and chip each step (an
    input channel in, an output neuron out)."""

    chip_link_j: float = 0.0
    chip_link_s: float = 0.0
    chip_barrier_s: float = -1.0  # -1: same as timing.barrier_s
    chip_barrier_doubling_s: float = 0.0
    host_value_j: float = 0.0
    host_value_s: float = 0.0


@dataclass(frozen=True)
class TargetSpec:
    name: str
    description: str
    time_step_s: float
    mesh: Mesh
    core: CoreLimits
    synapse_format: SynapseFormat
    format: NumberFormat
    energy: EnergyModel
    timing: TimingModel
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # The engine a program for this chip also runs on besides neurocomp's own bit-accurate one
    # ("reference": none); see neurocomp.backends.registry.
    backend: str = "reference"
    board: BoardModel = field(default_factory=BoardModel)
    figures: dict[str, Figure] = field(default_factory=dict)  # "energy.synop_j" -> its source

    @property
    def chips(self) -> int:
        return self.mesh.chips_per_board

    @property
    def cores_available(self) -> int:
        return self.mesh.cores_per_chip * self.mesh.chips_per_board

    def with_chips(self, chips: int) -> TargetSpec:
        """The same chip on a board of `chips` chips."""
        check_chips(chips, self.mesh.cores_per_chip)
        mesh = Mesh(self.mesh.tiles_x, self.mesh.tiles_y, self.mesh.cores_per_tile, chips)
        return TargetSpec(**{**self.__dict__, "mesh": mesh})

    def to_dict(self) -> dict[str, Any]:
        """The saved form (program.json): the backend, as in the TOML, among the extra keys;
        the energy, timing and board figures with their provenance."""
        d = asdict(self)
        d["format"]["neuron_models"] = list(self.format.neuron_models)
        backend = d.pop("backend")
        if backend != "reference":
            d["extra"] = {**d["extra"], "backend": backend}
        del d["figures"]
        for dotted, fig in self.figures.items():
            section, key = dotted.split(".")
            d[section][key] = fig.to_dict()
        return d


def check_chips(chips: object, cores_per_chip: int = 1) -> int:
    """`chips` (--chips) checked: an integer >= 1 whose board has at most MAX_CORES cores."""
    if isinstance(chips, bool) or not isinstance(chips, int):
        raise TargetError(
            f"--chips {chips!r}: must be an integer (got {type(chips).__name__}), at least 1"
        )
    most = max(1, MAX_CORES // max(cores_per_chip, 1))
    if chips < 1:
        raise TargetError(f"--chips {chips}: a board has at least one chip")
    if chips > most:
        raise TargetError(
            f"--chips {chips}: at most {most} chips of {cores_per_chip} cores "
            f"({MAX_CORES} cores on a board)"
        )
    return chips


def _check_mesh(source: str, mesh: Mesh) -> None:
    cores = mesh.cores_per_chip * mesh.chips_per_board
    if cores > MAX_CORES:
        raise TargetError(
            f"{source}: [mesh] tiles_x x tiles_y x cores_per_tile x chips_per_board = "
            f"{cores} cores, more than the {MAX_CORES} neurocomp maps"
        )


def _check_board(source: str, figures: dict[str, Figure]) -> None:
    """A barrier across chips waits for each chip's own barrier: never shorter, at any end."""
    chips, chip = figures["board.chip_barrier_s"], figures["timing.barrier_s"]
    for end in ("low", "nominal", "high"):
        if chips.at(end) < chip.at(end):
            raise TargetError(
                f"{source}: [board] chip_barrier_s ({end}) = {chips.at(end):g} s: must be at "
                f"least [timing] barrier_s ({end}) = {chip.at(end):g} s (a barrier across "
                "chips includes each chip's own)"
            )


def _check_saveable(source: str, data: dict[str, Any]) -> None:
    """Refuse values a program folder cannot save (JSON): dates and times, NaN, deep nesting."""
    todo: list[tuple[str, Any, int]] = [(k, v, 1) for k, v in data.items()]
    while todo:
        where, value, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise TargetError(f"{source}: '{where}' is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            todo.extend((f"{where}.{k}", v, depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            todo.extend((f"{where}[{i}]", v, depth + 1) for i, v in enumerate(value))
        elif isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
            raise TargetError(
                f"{source}: {where} = {value.isoformat()}: dates and times cannot be "
                "saved with a program; write them as a string"
            )
        elif isinstance(value, float) and not math.isfinite(value):
            raise TargetError(f"{source}: {where} = {value}: must be finite")
        elif not isinstance(value, (str, int, float)):
            raise TargetError(f"{source}: {where}: a {type(value).__name__} cannot be saved")


def _check_names(source: str, data: dict[str, Any]) -> None:
    for key in ("name", "description"):
        if not isinstance(data.get(key), str) or not data.get(key):
            raise TargetError(f"{source}: '{key}' must be a non-empty string")
    if not NAME_PATTERN.fullmatch(data["name"]):
        raise TargetError(
            f"{source}: name = {data['name'][:70]!r}: must be 1-64 letters, digits or _ . + - "
            "(starting with a letter or digit)"
        )
    text = data["description"]
    if len(text) > 500 or not text.isprintable():
        raise TargetError(
            f"{source}: 'description' must be one printable line of <= 500 characters"
        )


_SECTIONS: dict[str, type] = {
    "mesh": Mesh,
    "core": CoreLimits,
    "synapse_format": SynapseFormat,
    "format": NumberFormat,
    "energy": EnergyModel,
    "timing": TimingModel,
    "board": BoardModel,
}
_FIGURE_SECTIONS = ("energy", "timing", "board")
_OPTIONAL_SECTIONS = ("board",)
# figures that default to another one when a file leaves them out
_DEFAULT_TO = {
    "timing.barrier_tile_s": "timing.barrier_s",
    "board.chip_barrier_s": "timing.barrier_s",
}
_INT_RANGES = {
    "tiles_x": (1, 4096),
    "tiles_y": (1, 4096),
    "cores_per_tile": (1, 1024),
    "chips_per_board": (1, 1 << 20),
    "neurons": (1, 1 << 30),
    "synapse_memory_bits": (1, 1 << 50),
    "input_axons": (1, 1 << 30),
    "output_axons": (1, 1 << 30),
    "fan_in": (1, 1 << 30),
    "word_bits": (1, 4096),
    "header_bits": (0, 4096),
    "index_bits": (0, 64),
    "delay_bits": (0, 64),
    "weight_bits": (2, 32),  # a sign and at least one magnitude bit
    "state_bits": (4, 62),
    "decay_bits": (1, 24),
    "threshold_bits": (2, 62),
    "bias_bits": (2, 62),
    "weight_shift": (0, 30),
    "threshold_shift": (0, 30),
    "synapse_delay": (0, 1),
    "activation_bits": (0, 62),
    "spike_payload_bits": (0, 32),
}
BACKENDS = ("lava",)  # engines a program can also run on, besides neurocomp's own ("reference")
_CHOICES = {
    "decay_rounding": ("toward_zero", "floor"),
    "overflow": ("saturate", "wrap"),
    "current_overflow": ("", "saturate", "wrap"),
}
_BOOLS = (
    "subtract_reset",
    "reset_to_value",
    "current_bias",
    "bias_to_neuron",
    "shared_conv_weights",
)


def _check_value(where: str, key: str, value: Any, kind: type) -> Any:
    if key in _BOOLS:
        if not isinstance(value, bool):
            raise TargetError(f"{where}.{key} = {value!r}: must be true or false")
        return value
    if kind is int or key in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TargetError(f"{where}.{key} = {value!r}: must be an integer")
        lo, hi = _INT_RANGES.get(key, (0, 1 << 62))
        if not lo <= value <= hi:
            raise TargetError(f"{where}.{key} = {value}: must be in [{lo}, {hi}]")
        return value
    if key in _CHOICES:
        if value not in _CHOICES[key]:
            raise TargetError(f"{where}.{key} = {value!r}: must be one of {_CHOICES[key]}")
        return value
    if key == "neuron_models":
        if not isinstance(value, list) or not all(v in NEURON_MODELS for v in value):
            raise TargetError(f"{where}.{key} = {value!r}: entries must be from {NEURON_MODELS}")
        return tuple(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TargetError(f"{where}.{key} = {value!r}: must be a number")
    if not math.isfinite(value) or value < 0:
        raise TargetError(f"{where}.{key} = {value}: must be finite and >= 0")
    return float(value)


def spec_from_dict(data: dict[str, Any], source: str = "<dict>") -> TargetSpec:
    """Validate a parsed TOML document into a TargetSpec; errors name the file and the key."""
    if not isinstance(data, dict):
        raise TargetError(f"{source}: a chip description is a table, got {type(data).__name__}")
    _check_saveable(source, data)
    _check_names(source, data)
    time_step = _check_value(source, "time_step_s", data.get("time_step_s", 0.0), float)
    parts: dict[str, Any] = {}
    figures: dict[str, Figure] = {}
    for section, cls in _SECTIONS.items():
        table = data.get(section, {} if section in _OPTIONAL_SECTIONS else None)
        if not isinstance(table, dict):
            raise TargetError(f"{source}: missing section [{section}]")
        parts[section] = _section(source, section, cls, table, figures)
    _fill_defaults(parts, figures)
    _check_mesh(source, parts["mesh"])
    _check_board(source, figures)
    top = ("name", "description", "time_step_s", "backend")
    extra = {k: v for k, v in data.items() if k not in (*top, *_SECTIONS)}
    # Extra tables document the chip ([cross_check]); an extra plain key is most likely a typo.
    typos = sorted(k for k, v in extra.items() if not isinstance(v, dict))
    if typos:
        raise TargetError(f"{source}: unknown top-level key(s) {typos}; known: {sorted(top)}")
    backend = data.get("backend", "reference")
    if "backend" in data and backend not in BACKENDS:
        raise TargetError(f"{source}: backend = {backend!r}: must be one of {BACKENDS}")
    return TargetSpec(
        name=data["name"],
        description=data["description"],
        time_step_s=time_step,
        source=source,
        extra=extra,
        backend=backend,
        figures=figures,
        **parts,
    )


def _section(
    source: str, section: str, cls: type, table: dict[str, Any], figures: dict[str, Figure]
) -> Any:
    """One section's dataclass; its figures (energy, timing, board) recorded in `figures`."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise TargetError(
            f"{source}: [{section}] has unknown key(s) {unknown}; known: {sorted(fields)}"
        )
    values = {}
    for key, f in fields.items():
        if key not in table:
            if f.default is MISSING:
                raise TargetError(f"{source}: [{section}] is missing '{key}'")
            dotted = f"{section}.{key}"
            if section in _FIGURE_SECTIONS and dotted not in _DEFAULT_TO:
                figures[dotted] = Figure(float(f.default))
            continue
        if section in _FIGURE_SECTIONS:
            figures[f"{section}.{key}"] = _figure(f"{source} [{section}]", key, table[key])
            values[key] = figures[f"{section}.{key}"].value
            continue
        kind = int if f.type in ("int", int) else float
        values[key] = _check_value(f"{source} [{section}]", key, table[key], kind)
    return cls(**values)


def _figure(where: str, key: str, raw: Any) -> Figure:
    try:
        return parse_figure(where, key, raw)
    except FigureError as exc:
        raise TargetError(str(exc)) from None


def _fill_defaults(parts: dict[str, Any], figures: dict[str, Figure]) -> None:
    """Figures a file leaves out that default to another (one tile's barrier: the chip's)."""
    for dotted, other in _DEFAULT_TO.items():
        if dotted in figures:
            continue
        section, key = dotted.split(".")
        figures[dotted] = figures[other]
        parts[section] = dataclasses.replace(parts[section], **{key: figures[other].value})


def shipped_targets() -> dict[str, Path]:
    """Name -> path of every chip description shipped with neurocomp."""
    folder = resources.files("neurocomp.target_files")
    out = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".toml"):
            out[entry.name[:-5]] = Path(str(entry))
    return dict(sorted(out.items()))


def load_target(target: str | Path | TargetSpec, chips: int | None = None) -> TargetSpec:
    """A shipped chip by name, or a TOML file by path; `chips` overrides chips per board."""
    if isinstance(target, TargetSpec):
        spec = target
    else:
        text = str(target)
        shipped = shipped_targets()
        # A shipped chip is named by where it lives in the repository, not by this machine's
        # install path: program.json records the source, and must be the same bytes anywhere.
        source = f"targets/{text}.toml" if text in shipped else text
        if text in shipped:
            path = shipped[text]
        elif text.endswith(".toml") or Path(text).exists():
            path = Path(text)
        else:
            raise TargetError(
                f"unknown target '{text[:80]}'; shipped targets: "
                f"{', '.join(shipped)} (or give a path to a .toml file)"
            )
        spec = spec_from_dict(_read_toml(path), source)
    return spec.with_chips(chips) if chips is not None else spec


def _read_toml(path: Path) -> dict[str, Any]:
    """A chip description file parsed: a regular, readable, small file of valid TOML."""
    if not path.exists():
        raise TargetError(f"{path}: no such chip description file")
    if not path.is_file():
        raise TargetError(f"{path}: not a regular file, so not a chip description")
    try:
        size = path.stat().st_size
        if size > MAX_TOML_BYTES:
            raise TargetError(f"{path}: {size} bytes, more than the {MAX_TOML_BYTES} read")
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise TargetError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise TargetError(f"{path}: not valid TOML ({exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise TargetError(f"{path}: nested deeper than the TOML reader allows") from None
