"""Resource errors: for every limit of every shipped target, a network that exceeds it fails with
a ResourceLimitError whose violation names the layer, the resource, needed and available.

Each case either uses the shipped chip file as it is, or a copy in tmp_path with exactly one
value changed (a smaller chip, so that the network stays small). tests/mapping/test_mapping.py
checks the reference chip's core limits by resource name; here every [core] and [format] key of
both shipped files is covered with exact needed/available values, and test_every_limit_is_tested
fails when a target file gains a key this file does not know about.
"""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path
from typing import Any

import nir
import numpy as np
import pytest
from robust_util import TARGETS

import neurocomp as nc
from neurocomp.lowering import to_integers
from neurocomp.target import load_target

SHIPPED = ("reference", "loihi2")

# [section] key -> test that exceeds it. Keys that are arithmetic, not capacity (how a value is
# rounded, shifted, delayed or wrapped), cannot be exceeded by a network and are listed apart.
EXCEEDABLE = {
    ("mesh", "tiles_x"): "test_cores",
    ("mesh", "tiles_y"): "test_cores",
    ("mesh", "cores_per_tile"): "test_cores",
    ("mesh", "chips_per_board"): "test_cores",
    ("core", "neurons"): "test_neurons_per_core",
    ("core", "synapse_memory_bits"): "test_synapse_memory",
    ("core", "input_axons"): "test_input_axons",
    ("core", "output_axons"): "test_output_axons",
    ("core", "fan_in"): "test_fan_in",
    ("format", "weight_bits"): "test_weight_width",
    ("format", "state_bits"): "test_reset_voltage_width",
    ("format", "threshold_bits"): "test_threshold_width",
    ("format", "bias_bits"): "test_bias_width",
    ("format", "neuron_models"): "test_neuron_model",
    ("format", "subtract_reset"): "test_subtract_reset",
    ("format", "reset_to_value"): "test_reset_to_value",
    ("format", "current_bias"): "test_current_bias",
    ("format", "decay_bits"): "test_lava_decays",  # Lava: dv <= 4095, du >= 1 (of 2**12)
    ("format", "spike_payload_bits"): "test_spike_payload",
}
SEMANTICS = {
    ("format", "decay_rounding"),
    ("format", "overflow"),
    ("format", "current_overflow"),
    ("format", "weight_shift"),
    ("format", "threshold_shift"),
    ("format", "synapse_delay"),
    ("format", "activation_bits"),
    ("format", "bias_to_neuron"),
}


def test_every_limit_is_tested():
    for name in SHIPPED:
        doc = tomllib.loads((TARGETS / f"{name}.toml").read_text())
        for section in ("mesh", "core", "format"):
            for key in doc[section]:
                assert (section, key) in EXCEEDABLE or (section, key) in SEMANTICS, (
                    f"{name}.toml [{section}] {key}: add a test that exceeds it"
                )
    assert all(globals().get(t) for t in EXCEEDABLE.values())


def chip(tmp_path: Path, base: str, **changes: Any) -> str:
    """A copy of a shipped target with `section__key=value` changes, as a TOML path."""
    lines = (TARGETS / f"{base}.toml").read_text().splitlines()
    section = ""
    todo = {tuple(k.split("__")): v for k, v in changes.items()}
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("["):
            section = s.strip("[]").split("]")[0]
        key = s.split("=")[0].strip()
        if (section, key) in todo:
            value = todo.pop((section, key))
            text = value if isinstance(value, str) else str(value).lower()
            lines[i] = f"{key} = {text}"
    assert not todo, f"not in {base}.toml: {todo}"
    path = tmp_path / f"{base}-small.toml"
    path.write_text("\n".join(lines) + "\n")
    load_target(str(path))  # still a valid chip
    return str(path)


def lif(n: int, **over: Any) -> nir.LIF:
    p = dict(
        tau=np.full(n, 5e-3),
        r=np.full(n, 5e-3 / 1e-4),
        v_leak=np.zeros(n),
        v_threshold=np.ones(n),
        v_reset=np.zeros(n),
    )
    p.update(
        {k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy() for k, v in over.items()}
    )
    return nir.LIF(**p)


def weights(n_out: int, n_in: int, seed: int = 0) -> np.ndarray:
    """Dense weights none of which quantizes to zero: |w| in [0.5, 1]."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.0, (n_out, n_in)) * rng.choice((-1.0, 1.0), (n_out, n_in))


def dense(n_in: int, n_hidden: int, hidden: Any = None, bias: Any = None) -> nir.NIRGraph:
    """input (n_in) -> fc (dense, no zero weights) -> h (LIF n_hidden) -> output."""
    w = weights(n_hidden, n_in)
    fc = nir.Linear(weight=w) if bias is None else nir.Affine(weight=w, bias=np.asarray(bias))
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc": fc,
        "h": hidden if hidden is not None else lif(n_hidden),
        "output": nir.Output(output_type={"output": np.array([n_hidden])}),
    }
    edges = [("input", "fc"), ("fc", "h"), ("h", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def fan_out(k: int) -> nir.NIRGraph:
    """One neuron 'b' projecting to k separate populations (k destination blocks)."""
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type={"input": np.array([4])}),
        "fc": nir.Linear(weight=weights(1, 4)),
        "b": lif(1),
    }
    edges = [("input", "fc"), ("fc", "b")]
    for i in range(k):
        nodes[f"w{i}"] = nir.Linear(weight=weights(2, 1, i))
        nodes[f"o{i}"] = lif(2)
        nodes[f"out{i}"] = nir.Output(output_type={"output": np.array([2])})
        edges += [("b", f"w{i}"), (f"w{i}", f"o{i}"), (f"o{i}", f"out{i}")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def compiles(model: Any, target: str, **kw: Any) -> None:
    """Compiling model for target succeeds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nc.compile(nc.load(model, dt=1e-4, **kw), target=target)


def violations(model: Any, target: str, **kw: Any) -> dict[tuple[str, str], nc.Violation]:
    """(layer, resource) -> violation of compiling model for target; fails if it compiles."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = model if isinstance(model, nc.Network) else nc.load(model, dt=1e-4, **kw)
        with pytest.raises(nc.ResourceLimitError) as info:
            nc.compile(net, target=target)
    err = info.value
    for v in err.violations:  # the message lists each one as the CLI prints it
        assert f"layer '{v.layer}': {v.resource} needed {v.needed}, available {v.available}" in (
            str(err)
        )
    return {(v.layer, v.resource): v for v in err.violations}


def expect(
    found: dict[tuple[str, str], nc.Violation], layer: str, resource: str, needed, available
):
    assert (layer, resource) in found, sorted(found)
    v = found[(layer, resource)]
    assert (v.needed, v.available) == (needed, available), v


# -- [core] and [mesh] ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", SHIPPED)
def test_fan_in(tmp_path, target):
    expect(violations(dense(300, 4), chip(tmp_path, target, core__fan_in=100)), "h",
           "fan-in per neuron", 300, 100)  # fmt: skip


@pytest.mark.parametrize("target", SHIPPED)
def test_fan_in_and_input_axons_of_the_shipped_chip(target):
    """No edit: 4100 inputs into one neuron exceed both chips' 4096 (fan-in and input axons)."""
    found = violations(dense(4100, 2), target)
    expect(found, "h", "fan-in per neuron", 4100, 4096)
    expect(found, "h", "input axons for one neuron", 4100, 4096)


@pytest.mark.parametrize("target", SHIPPED)
def test_input_axons(tmp_path, target):
    found = violations(dense(300, 4), chip(tmp_path, target, core__input_axons=200))
    expect(found, "h", "input axons for one neuron", 300, 200)
    assert ("h", "fan-in per neuron") not in found


@pytest.mark.parametrize("target", SHIPPED)
def test_synapse_memory(tmp_path, target):
    # One neuron with 300 inputs: 300 synapse lists of one 64-bit word each (header + weight +
    # index bits < 64 on both chips).
    found = violations(dense(300, 4), chip(tmp_path, target, core__synapse_memory_bits=2048))
    expect(found, "h", "synapse memory for one neuron", f"{300 * 64} bits", "2048 bits")


@pytest.mark.parametrize("target", SHIPPED)
def test_output_axons(tmp_path, target):
    # Two neurons per core: the three 2-neuron destinations need three cores however they are
    # packed (with room for all of them, one core would do: output axons count cores).
    found = violations(fan_out(3), chip(tmp_path, target, core__output_axons=2, core__neurons=2))
    v = found[("b", "output axons for one neuron")]
    assert v.available == 2 and v.needed == 3, v


@pytest.mark.parametrize("target", SHIPPED)
def test_neurons_per_core(tmp_path, target):
    """One neuron per core: 200 neurons need 200 cores of the 128 a chip has."""
    found = violations(dense(8, 200), chip(tmp_path, target, core__neurons=1))
    v = found[("h", "cores")]
    assert v.available == 128 and v.needed == 200, v


@pytest.mark.parametrize("target", SHIPPED)
def test_cores(tmp_path, target):
    """A 2-core chip (1 x 1 tiles of 2 cores) and a layer larger than two cores hold (each
    neuron has its own input axon here, so a core holds min(neurons, input axons) of them)."""
    lim = load_target(target).core
    per_core = min(lim.neurons, lim.input_axons)
    small = chip(tmp_path, target, mesh__tiles_x=1, mesh__tiles_y=1, mesh__cores_per_tile=2)
    n = 2 * per_core + 10
    rng = np.random.default_rng(0)
    g = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n])}),
            "s": nir.Scale(scale=rng.uniform(0.5, 1.0, n)),
            "big": lif(n),
            "output": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("input", "s"), ("s", "big"), ("big", "output")],
        type_check=False,
    )
    v = violations(g, small)[("big", "cores")]
    assert v.needed == 3 and v.available == 2, v
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert nc.compile(g, target=small, chips=2, dt=1e-4).summary["cores_used"] == 3


# -- [format] ------------------------------------------------------------------------------------


def _quantized(model: nir.NIRGraph, passes: str) -> nc.Network:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nc.transform(nc.load(model, dt=1e-4), passes).network


@pytest.mark.parametrize("target", SHIPPED)
def test_weight_width(tmp_path, target):
    """compile refuses a pipeline wider than the chip; the integer check names the layer."""
    narrow = chip(tmp_path, target, format__weight_bits=4)
    with pytest.raises(nc.PassError, match=f"weight_bits = 8 exceeds target '{target}' maximum 4"):
        nc.compile(dense(6, 3), target=narrow, passes="quantize{weight_bits=8}", dt=1e-4)
    intnet, found = to_integers(
        _quantized(dense(6, 3), "quantize{weight_bits=8}"), load_target(narrow)
    )
    found_d = {(v.layer, v.resource): v for v in found}
    expect(found_d, "h", "weight width", "8 bits", "4 bits")
    assert "'fc'" in found_d[("h", "weight width")].detail


@pytest.mark.parametrize("target", SHIPPED)
def test_threshold_width(tmp_path, target):
    """A quantized network whose thresholds need more bits than the chip's register."""
    bits = load_target(target).format.threshold_bits
    g = dense(6, 3, hidden=lif(3, v_threshold=[1e9, 1.0, 1.0]))
    net = _quantized(g, "quantize{weight_bits=8}")  # no threshold limit in this pipeline
    _, found = to_integers(net, load_target(target))
    v = {(v.layer, v.resource): v for v in found}[("h", "threshold width")]
    assert v.available == f"{bits} bits" and int(v.needed.split()[0]) > bits, v
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nc.compile(g, target=target, dt=1e-4)  # compile's quantize fits the register instead


def test_threshold_sign():
    found = violations(dense(6, 3, hidden=lif(3, v_threshold=[0.5, -0.2, 0.5])), "reference")
    v = found[("h", "threshold sign")]
    assert v.needed < 0 and v.available == ">= 0", v


@pytest.mark.parametrize("target", SHIPPED)
def test_bias_width(tmp_path, target):
    """Neuron and projection biases beyond the chip's bias register (quantized without a limit)."""
    bits = load_target(target).format.bias_bits
    g = dense(6, 3, bias=[1e9, 0.0, 0.0])
    _, found = to_integers(_quantized(g, "quantize{weight_bits=8}"), load_target(target))
    v = {(v.layer, v.resource): v for v in found}[("h", "bias width")]
    assert v.available == f"{bits} bits" and int(v.needed.split()[0]) > bits, v
    g = dense(6, 3, hidden=lif(3, v_leak=[1e9, 0.0, 0.0]))  # v_leak: the neuron's own bias
    _, found = to_integers(_quantized(g, "quantize{weight_bits=8}"), load_target(target))
    v = {(v.layer, v.resource): v for v in found}[("h", "bias width")]
    assert v.available == f"{bits} bits" and int(v.needed.split()[0]) > bits, v


@pytest.mark.parametrize("target", SHIPPED)
def test_reset_voltage_width(target):
    """A reset voltage far below the threshold does not fit the state register (24 bits)."""
    found = violations(dense(6, 3, hidden=lif(3, v_reset=[-1e12, 0.0, 0.0])), target)
    v = found[("h", "reset voltage width")]
    assert v.available == "24 bits" and int(v.needed.split()[0]) > 24, v


def test_neuron_model(tmp_path):
    # loihi2 as shipped: no Threshold neurons, no identity readout population.
    g = dense(6, 3, hidden=nir.Threshold(threshold=np.full(3, 0.5)))
    found = violations(g, "loihi2")
    models = "LIF, CubaLIF, IF, LI, CubaLI, I, SigmaDelta"
    expect(found, "h", "neuron model", "Threshold", models)
    readout = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([4])}),
            "fc": nir.Linear(weight=weights(3, 4)),
            "output": nir.Output(output_type={"output": np.array([3])}),
        },
        edges=[("input", "fc"), ("fc", "output")],
        type_check=False,
    )
    expect(violations(readout, "loihi2"), "output", "neuron model", "Identity", models)
    # reference without LIF
    no_lif = chip(tmp_path, "reference", format__neuron_models='["IF", "Identity"]')
    expect(violations(dense(6, 3), no_lif), "h", "neuron model", "LIF", "IF, Identity")


def test_subtract_reset(tmp_path):
    zero_only = chip(tmp_path, "loihi2", format__subtract_reset=False)
    found = violations(dense(6, 3), zero_only, reset="subtract")
    expect(found, "h", "reset mode", "subtract", "zero only (reset to 0)")
    compiles(dense(6, 3), "loihi2", reset="subtract")  # NcLIF subtracts


def test_reset_to_value():
    found = violations(dense(6, 3, hidden=lif(3, v_reset=[-0.5, 0.0, 0.0])), "loihi2")
    v = found[("h", "reset voltage")]
    assert v.available == "0 only" and v.needed == pytest.approx(-0.5, rel=0.05), v


def test_current_bias(tmp_path):
    cuba = nir.CubaLIF(
        tau_syn=np.full(3, 2e-3),
        tau_mem=np.full(3, 5e-3),
        r=np.ones(3),
        v_leak=np.zeros(3),
        v_threshold=np.ones(3),
        v_reset=np.zeros(3),
        w_in=np.ones(3),
    )
    net = dense(6, 3, hidden=cuba, bias=[0.3, 0.0, 0.0])
    found = violations(net, chip(tmp_path, "loihi2", format__current_bias=False))
    expect(found, "h", "bias into the synaptic current", "on 1 neurons", 0)
    assert "projection 'fc'" in str(found[("h", "bias into the synaptic current")])
    compiles(net, "loihi2")  # NcLIF's u_bias


def test_lava_decays():
    """Lava's LIF keeps at least 1/4096 of v (dv <= 4095) and decays the current by at least
    1/4096 (du >= 1): tau == dt and tau_syn >> dt exceed the 12-bit decay registers."""
    expect(violations(dense(6, 3, hidden=lif(3, tau=1e-4, r=1.0)), "loihi2"), "h",
           "voltage decay (dv)", 4096, 4095)  # fmt: skip
    cuba = nir.CubaLIF(
        tau_syn=np.full(3, 10.0),
        tau_mem=np.full(3, 5e-3),
        r=np.ones(3),
        v_leak=np.zeros(3),
        v_threshold=np.ones(3),
        v_reset=np.zeros(3),
        w_in=np.ones(3),
    )
    expect(violations(dense(6, 3, hidden=cuba), "loihi2"), "h", "current decay (du)", 0, ">= 1")


def test_spike_payload(tmp_path):
    """Multi-spike neurons (up to 8 spikes per step) as graded spikes: a 2-bit payload holds 3.
    (loihi2's Lava engine refuses graded spikes as well; the payload violation is named.)"""
    narrow = chip(tmp_path, "loihi2", format__spike_payload_bits=2)
    found = violations(dense(6, 3), narrow, max_spikes=8, reset="zero")
    expect(found, "h", "spike payload", "4 bits (up to 8 spikes per step)", "2 bits")
    found = violations(dense(6, 3), "reference", max_spikes=8)  # binary spikes only
    expect(found, "h", "spikes per step", "up to 8", found[("h", "spikes per step")].available)
    assert "spike_payload_bits = 0" in found[("h", "spikes per step")].available
