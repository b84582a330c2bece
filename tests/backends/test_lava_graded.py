"""Graded spikes on Loihi 2 through Lava: multi-spike populations run as neurocomp's NcLIF,
which sends its spike count as the payload of a graded spike, and Lava's Sparse and Conv
(num_message_bits = the target's spike_payload_bits) multiply their weights by it. Lava's own
simulation and neurocomp's bit-accurate engine must give the same counts and voltages; the
v >= threshold test runs the same way; inputs above 1 are graded inputs within the payload."""

from __future__ import annotations

import dataclasses
import warnings

import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurocomp as nc
from neurocomp.backends.lava import LavaNetwork
from neurocomp.backends.lava_compat import lava_available
from neurocomp.errors import InputError, ResourceLimitError
from neurocomp.ir.network import Network, NeuronParams, Population, Projection
from neurocomp.ir.ops import Dense
from neurocomp.target import load_target

from conftest import zoo_file
from graphs import chain
from lava_agree import engines_agree

pytestmark = pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")


def _net(max_spikes: int | None, inclusive: bool, reset: str, recurrent: bool = False) -> Network:
    """input (6) -> IF (5) [-> itself] -> LIF (4), random weights of both signs."""
    rng = np.random.default_rng(7)

    def layer(n: int, dv: float) -> NeuronParams:
        return NeuronParams(
            dv=np.full(n, dv),
            v_gain=np.ones(n),
            v_bias=rng.uniform(-0.2, 0.6, n),
            v_reset=np.zeros(n),
            v_threshold=rng.uniform(0.8, 1.5, n),
            reset=reset,  # type: ignore[arg-type]
            max_spikes=max_spikes,
            inclusive=inclusive,
        )

    projs = [
        Projection("w1", "in", "a", (Dense(rng.uniform(-0.6, 1.2, (5, 6))),)),
        Projection("w2", "a", "b", (Dense(rng.uniform(-0.8, 1.0, (4, 5))),)),
    ]
    if recurrent:
        rec = Dense(rng.uniform(-0.5, 0.3, (5, 5)))
        projs.append(Projection("rec", "a", "a", (rec,), recurrent=True))
    return Network(
        inputs={"in": (6,)},
        populations=(
            Population("a", (5,), "IF", layer(5, 0.0)),
            Population("b", (4,), "LIF", layer(4, 0.1)),
        ),
        projections=tuple(projs),
        outputs={"y": "b"},
    )


X = np.random.default_rng(1).integers(0, 4, (25, 2, 6))  # graded input: 0..3 per step


@pytest.mark.parametrize(
    "max_spikes, inclusive, reset, recurrent",
    [(4, False, "subtract", False), (None, True, "zero", True), (3, True, "subtract", True)],
)
def test_multi_spike_networks_equal_in_lava(max_spikes, inclusive, reset, recurrent) -> None:
    prog = nc.compile(_net(max_spikes, inclusive, reset, recurrent), target="loihi2")
    spikes = engines_agree(prog, X).spikes
    assert max(int(s.max()) for s in spikes.values()) > 1  # several spikes in one message


def test_graded_processes_carry_the_payload_width() -> None:
    prog = nc.compile(_net(4, False, "subtract"), target="loihi2")
    lava = LavaNetwork(prog.net, prog.target.format, 1, graded_inputs=frozenset({"in"}))

    def widths(lava_net: LavaNetwork) -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for p in lava_net.sparse:  # named "projection->post#group"
            out.setdefault(p.name.split("->")[0], set()).add(int(p.num_message_bits.get()))
        return out

    assert widths(lava) == {"w1": {24}, "w2": {24}}  # graded input and graded hidden layer
    binary = LavaNetwork(prog.net, prog.target.format, 1)  # binary input: a bool message
    assert widths(binary) == {"w1": {0}, "w2": {24}}


def test_inclusive_threshold_binary_equal_in_lava() -> None:
    """The >= test in NcLIF (Lava's LIF only has >); ties happen at the integer threshold."""
    prog = nc.compile(_net(1, True, "zero"), target="loihi2")
    assert engines_agree(prog, (X > 1).astype(np.uint8)).spikes["a"].sum() > 0


def test_graded_convolution_runs_as_lava_conv() -> None:
    rng = np.random.default_rng(4)
    conv = nir.Conv2d(
        input_shape=(6, 5), weight=rng.normal(0, 0.6, (3, 2, 3, 3)), stride=1, padding=1,
        dilation=1, groups=1, bias=np.zeros(3),
    )  # fmt: skip
    n = (3, 6, 5)
    neurons = nir.IF(r=np.ones(n), v_threshold=np.full(n, 0.7), v_reset=np.zeros(n))
    g = chain(("conv", conv), ("if", neurons), input_shape=(2, 6, 5), out=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(g, dt=1e-4, reset="subtract", max_spikes=5)
    prog = nc.compile(net, target="loihi2")
    kinds = [type(p).__name__ for p in LavaNetwork(prog.net, prog.target.format, 2).sparse]
    assert kinds == ["Conv"]
    x = rng.integers(0, 3, (12, 2, *g.nodes["input"].input_type["input"]))
    assert engines_agree(prog, x).spikes["if"].max() > 1


def test_graded_inputs_within_the_payload() -> None:
    prog = nc.compile(_net(4, False, "subtract"), target="loihi2")
    top = (1 << 24) - 1
    with pytest.raises(InputError, match="spike values 0..16777215"):
        prog.simulate(np.full((2, 1, 6), top + 1))
    from neurocomp.backends.lava import binary_inputs

    with pytest.raises(InputError, match=r"graded spikes 0..16777215 \(24-bit spike payload\)"):
        binary_inputs(prog.net, np.full((2, 1, 6), top + 1), 24)
    with pytest.raises(InputError, match=r"binary spikes \(0/1\)"):
        binary_inputs(prog.net, np.full((2, 1, 6), 2), 0)
    reference = nc.compile(_net(1, False, "subtract"), target="reference")
    with pytest.raises(InputError, match="binary spikes 0 or 1"):
        reference.simulate(X)


def test_no_payload_no_graded_spikes_through_lava() -> None:
    spec = load_target("loihi2")
    narrow = dataclasses.replace(
        spec, format=dataclasses.replace(spec.format, spike_payload_bits=2)
    )
    with pytest.raises(ResourceLimitError, match="spike payload needed 3 bits.*available 2 bits"):
        nc.compile(_net(4, False, "subtract"), target=narrow)
    none = dataclasses.replace(spec, format=dataclasses.replace(spec.format, spike_payload_bits=0))
    with pytest.raises(ResourceLimitError, match="spikes per step"):
        nc.compile(_net(4, False, "subtract"), target=none)


@pytest.mark.zoo
def test_multi_spike_counts_follow_float_as_well_as_binary() -> None:
    """Spike counts of the loihi2 program against the float simulation, Braille network with
    subtraction: multi-spike (cap 4) about as close as binary spikes."""
    x = (np.random.default_rng(12).random((200, 6, 12)) < 0.3).astype(np.uint8)
    err = {}
    for cap in (1, 4):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nc.NeurocompWarning)
            net = nc.load(zoo_file("braille_noDelay_noBias_subtract.nir"), max_spikes=cap)
        fl = nc.simulate(net, x).sum(axis=0)
        chip = nc.compile(net, target="loihi2").simulate(x).sum(axis=0)
        err[cap] = np.abs(fl - chip).sum() / fl.sum()
    assert err[4] <= err[1] + 0.02, err


def test_saved_graded_program_runs_in_lava(tmp_path) -> None:
    """A program folder's Lava loader takes graded input and writes the engine's counts."""
    from neurocomp.program.lava_run import run

    prog = nc.compile(_net(4, True, "subtract"), target="loihi2")
    prog.save(tmp_path / "p")
    assert "graded" in (tmp_path / "p" / "run_lava.py").read_text()
    np.savez(tmp_path / "x.npz", x=X)
    with np.load(run(tmp_path / "p", tmp_path / "x.npz")) as z:
        got = {k: z[k] for k in z.files}
    ours = prog.outputs(X, record=True).spikes
    assert set(got) == set(ours)
    for name in ours:
        np.testing.assert_array_equal(got[name], ours[name], err_msg=name)


@st.composite
def graded_cases(draw):
    """Random two-layer multi-spike networks: cap, threshold test, reset, recurrence, leak."""
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    cap = draw(st.sampled_from([2, 5, None]))
    reset = draw(st.sampled_from(["zero", "subtract"]))
    inclusive, recurrent = draw(st.booleans()), draw(st.booleans())
    n_in, n_h, n_o = (int(v) for v in rng.integers(1, 7, 3))

    def layer(n: int) -> NeuronParams:
        return NeuronParams(
            dv=rng.choice([0.0, 0.05, 0.3], n),
            v_gain=np.ones(n),
            v_bias=rng.uniform(-0.3, 0.5, n),
            v_reset=np.zeros(n),
            v_threshold=rng.choice([0.5, 1.0, 1.7], n),
            reset=reset,
            max_spikes=cap,
            inclusive=inclusive,
        )

    projs = [
        Projection("w1", "in", "h", (Dense(rng.uniform(-0.7, 1.0, (n_h, n_in))),)),
        Projection("w2", "h", "o", (Dense(rng.uniform(-0.7, 1.0, (n_o, n_h))),)),
    ]
    if recurrent:
        rec = Dense(rng.uniform(-0.4, 0.3, (n_h, n_h)))
        projs.append(Projection("rec", "h", "h", (rec,), recurrent=True))
    net = Network(
        inputs={"in": (n_in,)},
        populations=(
            Population("h", (n_h,), "LIF", layer(n_h)),
            Population("o", (n_o,), "LIF", layer(n_o)),
        ),
        projections=tuple(projs),
        outputs={"y": "o"},
    )
    x = rng.integers(0, draw(st.integers(2, 6)), (20, 2, n_in))
    return net, x


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graded_cases())
def test_random_multi_spike_networks_equal_in_lava(case) -> None:
    net, x = case
    engines_agree(nc.compile(net, target="loihi2"), x)
