"""What each NIR exporter means beyond NIR's equations, as data, and the repairs it needs.

NIR files record neither the time step, the discretisation, the reset mode nor how many spikes a
neuron may send per step, and each framework's exporter encodes its own update in NIR's fields
differently (measured against the frameworks, tests/interop/):

========  ===========================================  =======  ==========  =========  =========
name      neuron update the file stands for            reset    max spikes  threshold  dt
========  ===========================================  =======  ==========  =========  =========
nir       NIR's equations, forward Euler               zero     1           v > thr    given
snntorch  NIR's equations (r = tau/dt)                 subtract 1           v > thr    1e-4 s
norse     NIR's; CubaLIF input is a current jump       zero     1           v > thr    1e-3 s
sinabs    alpha = exp(-dt/tau), input * (1 - alpha)    subtract no cap      v >= thr   1 (steps)
rockpool  alpha = exp(-dt/tau), r = tau*alpha/dt       subtract 65536       v >= thr   from r
spyx      beta = r, tau = dt/(1-beta), spike first     subtract 1           v > thr    tau*(1-r)
========  ===========================================  =======  ==========  =========  =========

`Convention.neuron` turns one NIR neuron node into the discrete `NeuronParams` its framework
runs; every departure from NIR's own reading is reported in a warning naming the layer.
`detect` recognises an exporter where the file makes it certain (Rockpool's node names) or
where the parameters only look like one (then it only warns).
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import DtError, NeurocompWarning, ParameterError
from ..ir.network import NeuronParams, ResetMode
from .reader import NEURON_TYPES, RawGraph

FrameworkName = Literal["nir", "snntorch", "norse", "sinabs", "rockpool", "spyx"]
FRAMEWORKS: tuple[str, ...] = ("nir", "snntorch", "norse", "sinabs", "rockpool", "spyx")
ROCKPOOL_MAX_SPIKES = 2**16  # Rockpool's default max_spikes_per_dt
_UNSET = object()

Params = dict[str, np.ndarray]
Discretise = Callable[[str, str, Params, "float | None", ResetMode], NeuronParams]


@dataclass(frozen=True)
class Convention:
    """One exporter's conventions: its defaults and how its neuron nodes are to be read."""

    name: str
    reset: ResetMode
    max_spikes: int | None
    inclusive: bool = False  # spikes at v >= threshold
    spike_first: bool = False
    time_unit: str = "s"


CONVENTIONS: dict[str, Convention] = {
    "nir": Convention("nir", "zero", 1),
    "snntorch": Convention("snntorch", "subtract", 1),
    "norse": Convention("norse", "zero", 1),
    "sinabs": Convention("sinabs", "subtract", None, inclusive=True, time_unit="steps"),
    "rockpool": Convention("rockpool", "subtract", ROCKPOOL_MAX_SPIKES, inclusive=True),
    "spyx": Convention("spyx", "subtract", 1, spike_first=True, time_unit="steps"),
}


def convention(name: str) -> Convention:
    """The convention called `name`; ParameterError listing the known ones otherwise."""
    if name not in CONVENTIONS:
        raise ParameterError("<network>", "framework", name, f"must be one of {FRAMEWORKS}")
    return CONVENTIONS[name]


# ------------------------------------------------------------------------------------------------
# Detection
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """A framework recognised in a file: `certain` (from names) or only a parameter pattern."""

    framework: str
    certain: bool
    reason: str


_ROCKPOOL_NAME = re.compile(r"^\d+_(LinearTorch|LIFTorch|LIFNeuronTorch|ExpSynTorch)$")
_SPYX_NAME = re.compile(r"^layer_\d+")


def _leaky(graph: RawGraph) -> dict[str, tuple[str, Params]]:
    out = {}
    for name, node in graph.nodes.items():
        if node.type in ("LIF", "CubaLIF", "LI"):
            p = {
                k: np.asarray(v, dtype=np.float64)
                for k, v in node.params.items()
                if isinstance(v, (np.ndarray, float, int))
            }
            out[name] = (node.type, p)
    return out


def _tau(kind: str, p: Params) -> np.ndarray:
    return p["tau_mem"] if kind == "CubaLIF" else p["tau"]


def detect(graph: RawGraph) -> Detection | None:
    """The exporter the file comes from, where its names or parameters tell. Advisory: a
    malformed file detects nothing (lowering then reports what is wrong with it)."""
    try:
        return _detect(graph)
    except Exception:  # noqa: BLE001 - advisory on an unchecked graph: lowering reports it
        return None


def _detect(graph: RawGraph) -> Detection | None:
    stored = graph.metadata.get("framework")
    if isinstance(stored, str) and stored in CONVENTIONS:  # written by neurocomp's from_torch
        return Detection(stored, True, f"the file's metadata says framework = '{stored}'")
    names = [n for n in graph.nodes if _ROCKPOOL_NAME.match(n.rsplit(".", 1)[-1])]
    if names:
        return Detection("rockpool", True, f"node names such as '{names[0]}' are Rockpool's")
    leaky = _leaky(graph)
    if not leaky:
        return _sinabs_if(graph)
    try:
        taus = {n: (_tau(k, p), p["r"]) for n, (k, p) in leaky.items()}
    except KeyError:
        return None
    if not all(
        t.size and t.shape == r.shape and np.isfinite(t).all() and np.isfinite(r).all()
        for t, r in taus.values()
    ):
        return None  # malformed: lowering reports it
    if all(np.all(r == 1) for _, r in taus.values()) and all(
        np.all(t >= 1) and np.allclose(t, np.round(t)) for t, _ in taus.values()
    ):
        return Detection(
            "sinabs",
            False,
            "every time constant is a whole number >= 1 with r = 1 (Sinabs "
            "writes time constants in steps)",
        )
    spyx = [t * (1 - r) for t, r in taus.values() if np.all((r > 0) & (r < 1))]
    if len(spyx) == len(taus):
        flat = np.concatenate([d.ravel() for d in spyx])
        if np.allclose(flat, flat[0], rtol=1e-4):
            named = any(_SPYX_NAME.match(n) for n in graph.nodes)
            return Detection(
                "spyx",
                False,
                f"every leaky node has r = 1 - dt/tau for one dt = "
                f"{float(f'{flat[0]:.6g}')}"
                + (" and nodes are named layer_N" if named else "")
                + " (Spyx writes r = beta)",
            )
    ratios = np.concatenate([(t / r).ravel() for t, r in taus.values() if np.all(r > 0)])
    if ratios.size == sum(t.size for t, _ in taus.values()) and np.allclose(
        ratios, ratios[0], rtol=1e-5
    ):
        return None  # snnTorch's r = tau/dt for one dt: NIR's equations, dt inferred from it
    found = [_rockpool_dt(t, r) for t, r in taus.values()]
    rock = [d for d in found if d is not None]
    if len(rock) == len(found) and np.allclose(rock, rock[0], rtol=1e-4):
        return Detection(
            "rockpool", False, "every leaky node has r = tau * exp(-dt/tau) / dt for one dt"
        )
    return None


def _sinabs_if(graph: RawGraph) -> Detection | None:
    """IF-only graphs as Sinabs writes them: layers named by their index, r = 1, and the zero
    biases its exporter adds to every Linear and Conv."""
    nodes = {n: v for n, v in graph.nodes.items() if v.type not in ("Input", "Output")}
    neurons = [v for v in nodes.values() if v.type in NEURON_TYPES]
    if not neurons or any(v.type != "IF" for v in neurons):
        return None
    if not all(re.fullmatch(r"\d+", n) for n in nodes):
        return None
    if not all(np.all(np.asarray(v.params["r"], dtype=np.float64) == 1) for v in neurons):
        return None
    weighted = [v for v in nodes.values() if v.type in ("Affine", "Conv1d", "Conv2d")]
    if not weighted or any(
        np.any(np.asarray(v.params.get("bias", 0.0), dtype=np.float64) != 0) for v in weighted
    ):
        return None
    return Detection(
        "sinabs",
        False,
        "IF layers named by their index with r = 1 and all-zero biases (how "
        "Sinabs writes IAF networks; Sinabs' IAF sends several spikes per step and resets by "
        "subtraction by default)",
    )


def _rockpool_dt(tau: np.ndarray, r: np.ndarray) -> float | None:
    """The dt with r = tau * exp(-dt/tau) / dt (Rockpool's export), when one dt fits all."""
    if not (tau.size and tau.shape == r.shape and np.all(tau > 0) and np.all(r > 0)):
        return None
    if not (np.isfinite(tau).all() and np.isfinite(r).all()):
        return None
    t, q = tau.ravel()[:64], r.ravel()[:64]  # solve on a few neurons, check on all below
    lo, hi = np.full(t.shape, 1e-12), np.full(t.shape, 1e3)  # f is decreasing in dt
    with np.errstate(over="ignore", under="ignore"):
        for _ in range(120):
            mid = np.sqrt(lo * hi)
            high = t * np.exp(-mid / t) / mid > q
            lo, hi = np.where(high, mid, lo), np.where(high, hi, mid)
        guess = float(f"{float(np.median(np.sqrt(lo * hi))):.6g}")
        fits = np.allclose(tau * np.exp(-guess / tau) / guess, r, rtol=1e-4)
    return guess if fits and guess < 0.99e3 else None


# ------------------------------------------------------------------------------------------------
# Choosing a convention and its defaults
# ------------------------------------------------------------------------------------------------


@dataclass
class Choice:
    """The convention a load uses, its dt, reset and spike cap, and what it reported."""

    convention: Convention
    dt: float | None
    reset: ResetMode
    max_spikes: int | None
    notes: list[str] = field(default_factory=list)


def _warn(msg: str, notes: list[str]) -> None:
    notes.append(msg)
    warnings.warn(msg, NeurocompWarning, stacklevel=4)


def choose(
    graph: RawGraph,
    framework: str | None,
    dt: float | None,
    reset: str | None,
    max_spikes: object = _UNSET,
) -> Choice:
    """The convention for `graph`: the one named, else one the file makes certain (with a
    warning), else NIR's own (with a warning when the parameters look like an exporter's)."""
    notes: list[str] = []
    found = detect(graph)
    if framework is None:
        if found is not None and found.certain:
            framework = found.framework
            _warn(
                f"framework not given: {found.reason}, so its conventions are applied (pass "
                f"framework='{found.framework}' to say so, framework='nir' for NIR's equations)",
                notes,
            )
        else:
            if found is not None:
                _warn(
                    f"this file looks like a {found.framework} export: {found.reason}; it is read "
                    f"with NIR's equations, which {found.framework} does not follow - pass "
                    f"framework='{found.framework}' (--framework {found.framework}) to apply its "
                    "conventions, or framework='nir' to silence this",
                    notes,
                )
            framework = "nir"
    elif found is not None and found.certain and found.framework != framework:
        _warn(f"framework='{framework}' given, but {found.reason}", notes)
    conv = convention(framework)
    if reset is not None and reset not in ("zero", "subtract"):
        raise ParameterError("<network>", "reset", reset, "must be one of ('zero', 'subtract')")
    stored = graph.metadata.get("reset")
    chosen_reset: ResetMode
    if reset is not None:
        chosen_reset = "subtract" if reset == "subtract" else "zero"
    elif stored in ("zero", "subtract"):  # written by neurocomp's from_torch(path=)
        chosen_reset = "subtract" if stored == "subtract" else "zero"
    else:
        chosen_reset = conv.reset
        if conv.name != "nir" and _spiking(graph):
            _warn(
                f"{conv.name}: NIR does not record the reset; using {conv.name}'s default "
                f"reset '{conv.reset}' (pass reset= to change it)",
                notes,
            )
    cap = conv.max_spikes if max_spikes is _UNSET else max_spikes
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise ParameterError("<network>", "max_spikes", cap, "must be an int >= 1 or None")
    if max_spikes is _UNSET and conv.max_spikes != 1 and _spiking(graph):
        limit = "no limit" if cap is None else f"up to {cap}"
        _warn(
            f"{conv.name}: NIR does not record how many spikes a neuron sends per step; using "
            f"{conv.name}'s default ({limit}; pass max_spikes=1 for single-spike layers)",
            notes,
        )
    return Choice(conv, _dt(graph, conv, dt, notes), chosen_reset, cap, notes)


def _spiking(graph: RawGraph) -> bool:
    return any(n.type in ("LIF", "CubaLIF", "IF", "Threshold") for n in graph.nodes.values())


def _dt(graph: RawGraph, conv: Convention, dt: float | None, notes: list[str]) -> float | None:
    if dt is not None or conv.name in ("nir", "snntorch"):
        return dt  # lower() checks it, or infers snnTorch's
    leaky = _leaky(graph)
    if not leaky:
        return None
    if conv.name == "sinabs":
        return 1.0  # Sinabs time constants are in steps
    if conv.name == "norse":
        _warn("norse: dt not given, using Norse's default dt = 1e-3 s", notes)
        return 1e-3
    taus = [(_tau(k, p), p.get("r")) for k, p in leaky.values()]
    if any(r is None for _, r in taus):
        return None
    if conv.name == "spyx":
        try:
            flat = np.concatenate([(t * (1 - r)).ravel() for t, r in taus])  # type: ignore[operator]
        except ValueError:  # parameter shapes disagree: lowering names the node
            return None
        guess = float(f"{float(np.median(flat)):.6g}") if flat.size else 0.0
        if np.allclose(flat, guess, rtol=1e-4) and guess > 0:
            _warn(f"spyx: dt = {guess} (tau * (1 - r), as Spyx's export writes it)", notes)
            return guess
        raise DtError("spyx: tau * (1 - r) differs between nodes: pass dt (Spyx's export dt)")
    found = [_rockpool_dt(t, r) for t, r in taus]  # type: ignore[arg-type]
    if all(d is not None for d in found) and len(set(found)) == 1:
        _warn(f"rockpool: dt = {found[0]} s solved from r = tau * exp(-dt/tau) / dt", notes)
        return found[0]
    raise DtError("rockpool: no single dt fits r = tau * exp(-dt/tau) / dt: pass dt in seconds")


# ------------------------------------------------------------------------------------------------
# Neuron nodes under each convention
# ------------------------------------------------------------------------------------------------


def discretiser(choice: Choice, euler: Discretise) -> Discretise:
    """A `lower` discretiser applying `choice` to each neuron node, NIR's Euler step otherwise."""
    conv = choice.convention
    reported: set[str] = set()

    def note(name: str, kind: str, what: str) -> None:
        key = f"{name}:{what}"
        if key not in reported:
            reported.add(key)
            _warn(f"{conv.name}: layer '{name}' ({kind}): {what}", choice.notes)

    def run(name: str, kind: str, p: Params, dt: float | None, reset: ResetMode) -> NeuronParams:
        special = _SPECIAL.get(conv.name)
        params = special(name, kind, p, dt, reset, note) if special else None
        if params is None:
            params = euler(name, kind, p, dt, reset)
        if kind not in NEURON_TYPES or not params.spiking:
            return params
        return _with_spiking(params, choice, name, kind, note)

    return run


Note = Callable[[str, str, str], None]


def _with_spiking(
    p: NeuronParams, choice: Choice, name: str, kind: str, note: Note
) -> NeuronParams:
    conv = choice.convention
    if conv.inclusive:
        note(name, kind, f"spikes at v >= threshold ({conv.name} compares with >=)")
    spike_first = conv.spike_first and kind in ("LIF", "CubaLIF", "IF")  # not PSU_LIF's
    if spike_first:
        note(name, kind, "spike decided from v before the step's update (as Spyx does)")
        if p.reset != "subtract":
            raise ParameterError(name, "reset", p.reset, "spyx neurons reset by subtraction")
    return dataclasses.replace(
        p,
        max_spikes=choice.max_spikes,
        inclusive=conv.inclusive,
        spike_first=spike_first,
    )


def _exp(dt: float, tau: np.ndarray, name: str, key: str) -> np.ndarray:
    if np.any(tau <= 0):
        raise ParameterError(name, key, float(tau[tau <= 0].flat[0]), "must be > 0")
    return np.exp(-dt / tau)


def _need_dt(name: str, kind: str, dt: float | None) -> float:
    if dt is None:
        raise DtError(f"node '{name}' ({kind}) needs dt: pass dt")
    return dt


def _decaying_lif(
    p: Params, a: np.ndarray, gain: np.ndarray, bias: np.ndarray, reset: ResetMode, **current: Any
) -> NeuronParams:
    """A LIF (or, with du/u_gain, CubaLIF) decaying by `a` per step, with the file's own reset
    value and threshold: the part the exporters' LIF conventions share."""
    zero = np.zeros_like(a)
    return NeuronParams(
        dv=1 - a,
        v_gain=gain,
        v_bias=bias,
        v_reset=p.get("v_reset", zero).copy(),
        v_threshold=p["v_threshold"].copy(),
        reset=reset,
        **current,
    )


def _sinabs(
    name: str, kind: str, p: Params, dt: float | None, reset: ResetMode, note: Note
) -> NeuronParams | None:
    zero = np.zeros_like(next(iter(p.values())))
    if kind == "LIF":
        a = _exp(_need_dt(name, kind, dt), p["tau"], name, "tau")
        note(
            name,
            kind,
            "decay alpha = exp(-dt/tau) with input scaled by 1 - alpha (Sinabs "
            "norm_input=True, its default); Sinabs drops tau_syn from its export - a layer "
            "trained with tau_syn needs from_torch(module, framework='sinabs')",
        )
        return _decaying_lif(p, a, (1 - a) * p["r"], (1 - a) * p["v_leak"], reset)
    if kind == "CubaLIF":  # only from from_torch: Sinabs' own export drops tau_syn
        d = _need_dt(name, kind, dt)
        a, b = _exp(d, p["tau_mem"], name, "tau_mem"), _exp(d, p["tau_syn"], name, "tau_syn")
        note(
            name,
            kind,
            "i = alpha_syn * (i + x), v = alpha * v + (1 - alpha) * r * i with "
            "alpha = exp(-dt/tau) (Sinabs LIF with tau_syn)",
        )
        return _decaying_lif(
            p, a, (1 - a) * p["r"], (1 - a) * p["v_leak"], reset, du=1 - b, u_gain=b * p["w_in"]
        )
    if kind == "LI":
        a = _exp(_need_dt(name, kind, dt), p["tau"], name, "tau")
        note(name, kind, "decay alpha = exp(-dt/tau), input not scaled (Sinabs ExpLeak)")
        return NeuronParams(
            dv=1 - a, v_gain=p["r"].copy(), v_bias=p["v_leak"].copy(), v_reset=zero.copy()
        )
    return None


def _rockpool(
    name: str, kind: str, p: Params, dt: float | None, reset: ResetMode, note: Note
) -> NeuronParams | None:
    zero = np.zeros_like(next(iter(p.values())))
    if kind == "LIF":
        a = _exp(_need_dt(name, kind, dt), p["tau"], name, "tau")
        note(
            name,
            kind,
            "v decays by exp(-dt/tau) and adds its input unscaled (Rockpool "
            "LIFNeuronTorch; r = tau*exp(-dt/tau)/dt encodes that); Rockpool's export drops "
            "the bias (writes v_leak = 0): from_torch restores it",
        )
        return _decaying_lif(p, a, np.ones_like(a), p["v_leak"].copy(), reset)
    if kind == "CubaLIF":
        d = _need_dt(name, kind, dt)
        a, b = _exp(d, p["tau_mem"], name, "tau_mem"), _exp(d, p["tau_syn"], name, "tau_syn")
        note(
            name,
            kind,
            "current i = exp(-dt/tau_syn) * (i + x), v = exp(-dt/tau_mem) * v + i "
            "(Rockpool LIFTorch); Rockpool's export drops the bias and the recurrent weights of "
            "has_rec=True layers: from_torch(module, framework='rockpool') restores them",
        )
        return _decaying_lif(
            p,
            a,
            np.ones_like(a),
            p["v_leak"].copy(),
            reset,
            du=1 - b,
            u_gain=b * p.get("w_in", np.ones_like(b)),
        )
    if kind == "LI":
        b = _exp(_need_dt(name, kind, dt), p["tau"], name, "tau")
        note(name, kind, "i = exp(-dt/tau) * (i + x) (Rockpool ExpSynTorch)")
        return NeuronParams(dv=1 - b, v_gain=b, v_bias=zero.copy(), v_reset=zero.copy())
    return None


def _spyx(
    name: str, kind: str, p: Params, dt: float | None, reset: ResetMode, note: Note
) -> NeuronParams | None:
    zero = np.zeros_like(next(iter(p.values())))
    if kind == "LIF":
        beta = np.clip(p["r"], 0, 1)
        note(
            name,
            kind,
            "v = beta * v + x with beta = r (Spyx writes r = beta, "
            "tau = dt/(1 - beta)): NIR's reading scales the input by (1 - beta) * beta",
        )
        return NeuronParams(
            dv=1 - beta,
            v_gain=np.ones_like(beta),
            v_bias=zero.copy(),
            v_reset=zero.copy(),
            v_threshold=p["v_threshold"].copy(),
            reset=reset,
        )
    if kind == "LI":  # the membrane of a PSU_LIF (LI + Threshold): V = beta * V + x
        d = _need_dt(name, kind, dt)
        beta = np.clip(1 - d / p["tau"], 0, 1)
        note(name, kind, "v = beta * v + r * x with beta = 1 - dt/tau (Spyx PSU_LIF)")
        return NeuronParams(
            dv=1 - beta, v_gain=p["r"].copy(), v_bias=zero.copy(), v_reset=zero.copy()
        )
    if kind == "CubaLIF":
        d = _need_dt(name, kind, dt)
        beta = np.clip(p["r"], 0, 1)
        alpha = np.clip(1 - d / p["tau_syn"], 0, 1)
        note(
            name,
            kind,
            "i = alpha * i + x, v = beta * (v - s * threshold) + i with "
            "beta = r, alpha = 1 - dt/tau_syn (Spyx CuBaLIF)",
        )
        return NeuronParams(
            dv=1 - beta,
            v_gain=np.ones_like(beta),
            v_bias=zero.copy(),
            v_reset=zero.copy(),
            v_threshold=p["v_threshold"].copy(),
            du=1 - alpha,
            u_gain=np.ones_like(alpha),
            v_step=beta * p["v_threshold"],
            reset=reset,
        )
    return None


def _norse(
    name: str, kind: str, p: Params, dt: float | None, reset: ResetMode, note: Note
) -> NeuronParams | None:
    if kind != "CubaLIF" or not np.all(p.get("w_in", np.ones(1)) == 1):
        return None
    d = _need_dt(name, kind, dt)
    du, dv = d / p["tau_syn"], d / p["tau_mem"]
    note(name, kind, "w_in = 1 read as Norse's current jump i += x (u_gain 1, not dt/tau_syn)")
    zero = np.zeros_like(du)
    return NeuronParams(
        dv=dv,
        v_gain=dv * p["r"],
        v_bias=dv * p["v_leak"],
        v_reset=p.get("v_reset", zero).copy(),
        v_threshold=p["v_threshold"].copy(),
        du=du,
        u_gain=np.ones_like(du),
        reset=reset,
    )


_SPECIAL: dict[str, Callable[..., NeuronParams | None]] = {
    "sinabs": _sinabs,
    "rockpool": _rockpool,
    "spyx": _spyx,
    "norse": _norse,
}


# ------------------------------------------------------------------------------------------------
# Graph repairs before lowering
# ------------------------------------------------------------------------------------------------


def strip_batch_dims(graph: RawGraph, framework: str) -> list[str]:
    """Drop a leading batch dimension of 1 from Input/Output shapes and Flatten input types
    where the file's neuron and weight shapes show it is one (Rockpool, Sinabs). In place."""
    fixed: list[str] = []
    for name, node in graph.nodes.items():
        key = {"Input": "shape", "Output": "shape", "Flatten": "input_type"}.get(node.type)
        if key is None or key not in node.params:
            continue
        try:
            msg = _strip_one(graph, name, node, key, framework)
        except Exception:  # noqa: BLE001 - advisory on an unchecked graph
            continue  # malformed (any way a fuzzer finds): lowering reports what is wrong
        if msg:
            fixed.append(msg)
    return fixed


def _strip_one(graph: RawGraph, name: str, node: Any, key: str, framework: str) -> str | None:
    value = node.params[key]
    if isinstance(value, dict):  # {"input": shape}
        inner = next(iter(value))
        shape = np.asarray(value[inner]).ravel()
    else:
        inner, shape = None, np.asarray(value).ravel()
    if shape.size < 2 or int(shape[0]) != 1 or not _batch_fits(graph, name, shape[1:]):
        return None
    new = shape[1:].copy()
    node.params[key] = {inner: new} if inner is not None else new
    return (
        f"{framework}: node '{name}' ({node.type}): leading batch dimension of "
        f"{tuple(int(d) for d in shape)} dropped"
    )


def repair_spyx(graph: RawGraph) -> list[str]:
    """Undo two departures of Spyx's exporter from what Spyx runs. In place.

    - A recurrent layer's subgraph routes the layer's input through w_rec as well
      (input -> w_rec <-> lif); Spyx adds the input to v directly: rewired into the neuron.
    - spyx.nn.Flatten flattens channels-last (H, W, C) tensors, NIR's Flatten (C, H, W) ones:
      the columns of the weights after it are reordered to NIR's order.
    """
    fixed: list[str] = []
    edges = graph.edges
    for a, b in list(edges):
        w, lif = a, b
        if (
            graph.nodes[w].type not in ("Linear", "Affine")
            or graph.nodes[lif].type not in ("LIF", "CubaLIF", "IF")
            or (lif, w) not in edges
        ):
            continue
        into = [e for e in edges if e[1] == w and e[0] != lif]
        if into:
            edges[:] = [e for e in edges if e not in into] + [(e[0], lif) for e in into]
            fixed.append(
                f"spyx: recurrent layer '{lif}': the input Spyx's export sends through "
                f"'{w}' goes to the neuron directly, as Spyx runs it"
            )
    for name, node in graph.nodes.items():
        if node.type != "Flatten":
            continue
        value = node.params.get("input_type")
        shape = np.asarray(next(iter(value.values())) if isinstance(value, dict) else value)
        if shape.size != 3:
            continue
        c, h, w_ = (int(d) for d in shape.ravel())
        for a, b in edges:
            nxt = graph.nodes[b]
            if a == name and nxt.type in ("Linear", "Affine"):
                wt = np.asarray(nxt.params["weight"])
                nxt.params["weight"] = (
                    wt.reshape(-1, h, w_, c).transpose(0, 3, 1, 2).reshape(wt.shape)
                )
                fixed.append(
                    f"spyx: '{b}' after Flatten '{name}': weight columns reordered "
                    "from Spyx's channels-last (H, W, C) flattening to NIR's (C, H, W)"
                )
    return fixed


def _batch_fits(graph: RawGraph, name: str, rest: np.ndarray) -> bool:
    """Whether a neighbour of `name` expects `rest` (the shape without its leading 1)."""
    want = int(np.prod(rest))
    for a, b in graph.edges:
        other = b if a == name else a if b == name else None
        if other is None:
            continue
        node = graph.nodes[other]
        p = node.params
        if node.type in ("Affine", "Linear"):
            w = np.asarray(p.get("weight"))
            if w.ndim == 2 and w.shape[1 if other == b else 0] == want:
                return True
        elif node.type in NEURON_TYPES:
            arr = next((np.asarray(v) for v in p.values() if isinstance(v, np.ndarray)), None)
            if arr is not None and arr.size == want and arr.ndim >= 1:
                return True
        elif node.type in ("Conv1d", "Conv2d") and other == b:
            w = np.asarray(p.get("weight"))
            if w.ndim >= 3 and len(rest) == w.ndim - 1 and int(rest[0]) == w.shape[1]:
                return True
        elif node.type == "Flatten" and other == b and len(rest) >= 1:
            return True
    return False


__all__ = [
    "CONVENTIONS",
    "FRAMEWORKS",
    "Choice",
    "Convention",
    "Detection",
    "choose",
    "convention",
    "detect",
    "discretiser",
    "repair_spyx",
    "strip_batch_dims",
]
