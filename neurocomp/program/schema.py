"""program.json: the one typed definition of a program folder's manifest, for writing and reading.

Writing builds a `Manifest` and dumps it; reading parses the text into a `Manifest` (strict
types, ranges, forbidden extra keys, a format-version check), then `check_structure` holds the
cross references (index bounds, unique names) and `check_arrays` the arrays.npz headers against
it, before anything is built from either file.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from ..errors import NeurocompError
from ..target.spec import NEURON_MODELS

FORMAT_VERSION = 1
MAX_NEURONS = 1 << 31  # per population and in total: far above any chip board
MAX_NAME = 1000

# Items strict (no "1" for 1, no 1.0, no true); JSON arrays taken for tuples.
Count = Annotated[int, Strict(), Field(ge=0, le=1 << 62)]
Size = Annotated[int, Strict(), Field(ge=1, le=MAX_NEURONS)]
Name = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_NAME)]
Shape = Annotated[tuple[Size, ...], Strict(False), Field(min_length=1, max_length=8)]
Used = Annotated[tuple[Count, Count], Strict(False)]  # (used, limit)


class ProgramError(NeurocompError):
    """A program folder that cannot be read or written."""


class _Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class PopulationEntry(_Record):
    name: Name
    kind: Name
    shape: Shape
    reset: Literal["zero", "subtract"]
    spiking: bool
    current: bool
    max_spikes: Annotated[int, Strict(), Field(ge=1, le=1 << 32)] | None = 1
    inclusive: bool = False
    sigma_delta: Literal["relu", "unit"] | None = None  # written only for sigma-delta neurons
    state_exp: Annotated[int, Strict(), Field(ge=0, le=7)] = 0

    @model_serializer(mode="wrap")
    def _only_sigma_delta_fields(self, handler: Any) -> Any:
        """Other programs' program.json stays byte for byte what it was."""
        out = handler(self)
        if self.sigma_delta is None:
            out.pop("sigma_delta", None)
            out.pop("state_exp", None)
        return out

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in NEURON_MODELS:
            raise ValueError(f"unknown neuron kind; known: {', '.join(NEURON_MODELS)}")
        return kind

    @property
    def size(self) -> int:
        return math.prod(self.shape)


Pair = Annotated[tuple[Count, Count], Strict(False)]


class ConvEntry(_Record):
    """A projection's shared convolution kernel (arrays.npz: proj/NAME/kernel)."""

    kernel_shape: Annotated[tuple[Size, Size, Size, Size], Strict(False)]
    in_shape: Annotated[tuple[Size, Size, Size], Strict(False)]
    out_shape: Annotated[tuple[Size, Size, Size], Strict(False)]
    stride: Pair
    padding: Pair
    dilation: Pair
    groups: Size


class ProjectionEntry(_Record):
    name: Name
    pre: Name
    post: Name
    recurrent: bool
    bias: bool
    shape: Annotated[tuple[Size, Size], Strict(False)]  # (post neurons, pre neurons)
    delay: bool = False  # arrays.npz holds a delay per stored synapse
    conv: ConvEntry | None = None


# population, start, stop, synapses, synapse_bits, input_axons, fan_in
BlockEntry = Annotated[tuple[Name, Count, Count, Count, Count, Count, Count], Strict(False)]


class CoreEntry(_Record):
    core: Count
    slot: Count
    blocks: Annotated[list[BlockEntry], Field(min_length=1)]


class CompileSummary(_Record):
    """What `compile` reports about a program (read by key as well: `summary["cores_used"]`)."""

    target: str
    chips: Size
    cores_used: Count
    cores_available: Count
    cores_lower_bound: Count
    neurons: Count
    synapses: Count
    synapses_input: Count
    weight_bits: int | None
    pipeline: str
    cores_per_layer: dict[str, Count]
    placement: str | None
    traffic_hops: float | int | None
    dt: float | None
    # Like with like: `synapses` (on the chip) and `synapses_input` (the input network) both
    # count connections once each projection is folded into one matrix; `weights_input` counts
    # the input network's weights (the trained parameters a NIR file stores; a conv kernel once).
    weights_input: Count | None = None
    # Steps each output lags the float network on this target (its synapse delay per
    # feed-forward layer); None where routes of different lengths meet.
    output_lag_steps: dict[str, Count | None] = Field(default_factory=dict)
    # No packing of the blocks this mapping's split made fits fewer cores (an LP/MILP bound
    # over them; `cores_lower_bound` holds for every split).
    cores_lower_bound_packing: Count | None = None
    # The configuration LP's bound for every split (neurocomp.mapping.bound; at least
    # `cores_lower_bound`) and how it was reached ("configuration LP", or "simple (...)" where
    # the LP was skipped or failed and the simple bound stands).
    cores_lower_bound_lp: Count | None = None
    cores_lower_bound_lp_method: str | None = None

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in type(self).model_fields else default

    def keys(self) -> list[str]:
        return list(type(self).model_fields)

    def __contains__(self, key: object) -> bool:
        return key in type(self).model_fields

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


class ResourceRow(_Record):
    """One core's use of its resources, (used, limit) each (a `CoreUsage` in JSON)."""

    core: Count
    tile_x: Count
    tile_y: Count
    chip: Count
    layers: list[Name]
    neurons: Used
    synapse_bits: Used
    input_axons: Used
    output_axons: Used
    fan_in: Used
    synapses: Count


class Manifest(_Record):
    """Everything of a program but its arrays."""

    format_version: int
    target: dict[str, Any]  # a TargetSpec: validated by neurocomp.target.spec_from_dict
    dt: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None
    reset: Literal["zero", "subtract"]
    pipeline: str
    decay_bits: Annotated[int, Field(ge=1, le=24)]
    inputs: dict[Name, Shape]
    outputs: dict[Name, Name]
    populations: list[PopulationEntry]
    projections: list[ProjectionEntry]
    cores: list[CoreEntry]
    lower_bound: dict[str, Count]
    placement: dict[str, Any]
    passes: list[dict[str, Any]]
    summary: CompileSummary
    resources: list[ResourceRow]

    @model_validator(mode="before")
    @classmethod
    def _version_first(cls, data: Any) -> Any:
        # A program of another format version is refused as such, not field by field.
        if isinstance(data, dict) and data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"format_version = {data.get('format_version')!r}: this neurocomp reads "
                f"program format {FORMAT_VERSION}"
            )
        return data


def parse_manifest(text: str, where: str) -> Manifest:
    """program.json text -> Manifest; every problem a ProgramError naming field and value."""
    try:
        return Manifest.model_validate_json(text)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"]) or "program.json"
        value = repr(err.get("input"))
        if len(value) > 80:
            value = value[:77] + "..."
        raise ProgramError(
            f"{where}: {field}: {err['msg']} (value {value}; {exc.error_count()} problem(s))"
        ) from None


def _fail(where: str, field: str, value: Any, limit: str) -> ProgramError:
    return ProgramError(f"{where}: {field} = {value!r}: {limit}")


def _check_names(m: Manifest, where: str) -> dict[str, int]:
    """Sources (inputs and populations) by name -> size; names unique."""
    sizes: dict[str, int] = {k: math.prod(v) for k, v in m.inputs.items()}
    for i, p in enumerate(m.populations):
        if p.name in sizes:
            raise _fail(where, f"populations[{i}].name", p.name, "must be unique")
        sizes[p.name] = p.size
    if sum(p.size for p in m.populations) > MAX_NEURONS:
        raise _fail(where, "populations", "neurons", f"at most {MAX_NEURONS} in total")
    if not m.populations:
        raise _fail(where, "populations", [], "a program has at least one population")
    return sizes


def _check_projections(m: Manifest, sizes: dict[str, int], where: str) -> None:
    pops = {p.name for p in m.populations}
    seen: set[str] = set()
    for i, pr in enumerate(m.projections):
        at = f"projections[{i}]"
        if pr.name in seen:
            raise _fail(where, f"{at}.name", pr.name, "must be unique")
        seen.add(pr.name)
        if pr.pre not in sizes:
            raise _fail(where, f"{at}.pre", pr.pre, "must name an input or a population")
        if pr.post not in pops:
            raise _fail(where, f"{at}.post", pr.post, "must name a population")
        want = (sizes[pr.post], sizes[pr.pre])
        if tuple(pr.shape) != want:
            raise _fail(where, f"{at}.shape", list(pr.shape), f"must be {list(want)}")
    for name, src in m.outputs.items():
        if src not in sizes:
            raise _fail(where, f"outputs.{name}", src, "must name an input or a population")


def _check_cores(m: Manifest, sizes: dict[str, int], where: str) -> None:
    """Cores numbered 0..n-1, distinct slots, every neuron in exactly one block."""
    covered = {p.name: 0 for p in m.populations}
    for i, c in enumerate(m.cores):
        if c.core != i:
            raise _fail(where, f"cores[{i}].core", c.core, f"must be {i} (cores in order)")
        for j, (pop, start, stop, *_rest) in enumerate(c.blocks):
            at = f"cores[{i}].blocks[{j}]"
            if pop not in covered:
                raise _fail(where, f"{at}[0]", pop, "must name a population")
            if not start < stop <= sizes[pop]:
                raise _fail(
                    where, f"{at}[1:3]", [start, stop], f"must be 0 <= start < stop <= {sizes[pop]}"
                )
            covered[pop] += stop - start
    for pop, n in covered.items():
        if n != sizes[pop]:
            raise _fail(where, f"cores: neurons of '{pop}'", n, f"blocks must cover {sizes[pop]}")
    slots = [c.slot for c in m.cores]
    if len(set(slots)) != len(slots):
        raise _fail(where, "cores[].slot", slots, "must be distinct")


def check_structure(m: Manifest, where: str) -> None:
    """Cross references of a parsed manifest: names, shapes, index bounds."""
    sizes = _check_names(m, where)
    _check_projections(m, sizes, where)
    _check_cores(m, sizes, where)


def expected_arrays(m: Manifest) -> dict[str, tuple[str, tuple[int, ...] | None]]:
    """arrays.npz member -> (dtype, shape) the manifest implies (None: length from indptr)."""
    out: dict[str, tuple[str, tuple[int, ...] | None]] = {}
    for p in m.populations:
        n = (p.size,)
        for key in ("dv", "bias", "v_reset"):
            out[f"pop/{p.name}/{key}"] = ("<i8", n)
        out[f"pop/{p.name}/scale"] = ("<f8", n)
        if p.spiking:
            out[f"pop/{p.name}/threshold"] = ("<i8", n)
        if p.current:
            out[f"pop/{p.name}/du"] = ("<i8", n)
    for pr in m.projections:
        key = f"proj/{pr.name}"
        out[f"{key}/indptr"] = ("<i8", (pr.shape[0] + 1,))
        out[f"{key}/indices"] = ("<i8", None)
        out[f"{key}/data"] = ("<i8", None)
        if pr.bias:
            out[f"{key}/bias"] = ("<i8", (pr.shape[0],))
        if pr.delay:
            out[f"{key}/delay"] = ("<i8", None)
        if pr.conv is not None:
            out[f"{key}/kernel"] = ("<i8", tuple(pr.conv.kernel_shape))
    return out
