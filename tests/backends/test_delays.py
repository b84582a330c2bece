"""NIR Delay nodes as synaptic delays: folded per synapse, stored in the chip's delay field
(refused beyond it, with the steps needed and available), simulated by neurocomp's engine and by
Lava's DelaySparse with identical spikes."""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurocomp as nc
from neurocomp.backends.lava_compat import lava_available

from graphs import chain
from nir_oracle import Oracle

DT = 1e-4


def _lif(n: int, rng: np.random.Generator) -> nir.LIF:
    return nir.LIF(
        tau=np.full(n, 2e-3),
        r=np.full(n, 10.0),
        v_leak=np.zeros(n),
        v_threshold=rng.uniform(0.8, 1.2, n),
        v_reset=np.zeros(n),
    )


def delayed(pre_steps: np.ndarray, post_steps: np.ndarray, seed: int = 0) -> nir.NIRGraph:
    """input -> Delay (per input) -> Linear -> LIF -> Linear -> Delay (per neuron) -> LIF."""
    rng = np.random.default_rng(seed)
    n_in, n_h, n_o = pre_steps.size, 6, post_steps.size
    return chain(
        ("d_in", nir.Delay(delay=pre_steps * DT)),
        ("fc1", nir.Linear(weight=rng.normal(0, 1.5, (n_h, n_in)))),
        ("h", _lif(n_h, rng)),
        ("fc2", nir.Linear(weight=rng.normal(0, 1.5, (n_o, n_h)))),
        ("d_out", nir.Delay(delay=post_steps * DT)),
        ("o", _lif(n_o, rng)),
        input_shape=(n_in,),
        out=(n_o,),
    )


def _compile(graph: nir.NIRGraph, target: str) -> nc.Program:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        return nc.compile(nc.load(graph, dt=DT), target=target)


def _one_spike(delay_steps: int, target: str) -> list[int]:
    """Steps at which a neuron driven by one input spike at step 2 through a delay fires."""
    g = chain(
        ("d", nir.Delay(delay=np.array([delay_steps * DT]))),
        ("fc", nir.Linear(weight=np.array([[4.0]]))),
        ("o", nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1))),
        input_shape=(1,),
        out=(1,),
    )
    x = np.zeros((20, 1, 1), np.uint8)
    x[2] = 1
    prog = _compile(g, target)
    return np.flatnonzero(prog.simulate(x).ravel()).tolist()


def test_a_delayed_spike_arrives_its_delay_after_the_chips_own_latency():
    assert _one_spike(0, "reference") == [2]
    assert _one_spike(5, "reference") == [7]
    assert _one_spike(0, "loihi2") == [3]  # Lava's Sparse: one step
    assert _one_spike(5, "loihi2") == [8]  # DelaySparse delay 5: five steps more


def test_float_and_chip_agree_on_delayed_networks():
    g = delayed(np.array([0, 2, 5, 9]), np.array([1, 4, 0]))
    net = nc.load(g, dt=DT)
    x = (np.random.default_rng(1).random((80, 4, 4)) < 0.4).astype(np.uint8)
    fl = nc.simulate(net, x)
    chip = _compile(g, "reference").simulate(x)
    assert fl.sum() > 20
    assert np.abs(fl.sum(0) - chip.sum(0)).sum() <= 0.1 * fl.sum()


def test_delays_beyond_the_field_are_refused_with_needed_and_available():
    g = delayed(np.array([0, 70, 1, 2]), np.array([1, 0, 0]))
    for target in ("reference", "loihi2"):
        with pytest.raises(nc.ResourceLimitError) as info:
            _compile(g, target)
        (v,) = [v for v in info.value.violations if v.resource == "synaptic delay"]
        assert (v.layer, v.needed, v.available) == ("h", "70 steps", "63 steps")
        assert "6 bits" in v.detail


def _synapse_bits(prog: nc.Program) -> int:
    return sum(u["synapse_bits"][0] for u in prog.mapping.usage_table(prog.target))


def test_delay_bits_are_charged_only_to_delayed_synapse_lists():
    plain = _synapse_bits(_compile(delayed(np.zeros(4), np.zeros(3)), "reference"))
    first = _synapse_bits(_compile(delayed(np.array([0, 2, 5, 9]), np.zeros(3)), "reference"))
    assert plain < first <= plain + 4 * 64  # fc1's 4 axons (6 synapses each): a word more each


def test_delays_survive_the_program_folder(tmp_path):
    prog = _compile(delayed(np.array([0, 2, 5, 9]), np.array([1, 4, 0])), "reference")
    x = (np.random.default_rng(2).random((40, 2, 4)) < 0.4).astype(np.uint8)
    back = nc.load_program(prog.save(tmp_path / "p"))
    np.testing.assert_array_equal(back.simulate(x), prog.simulate(x))
    assert prog.simulate(x).sum() > 5


@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")
def test_lava_delay_sparse_gives_identical_spikes():
    prog = _compile(delayed(np.array([0, 2, 5, 9]), np.array([1, 4, 0]), seed=3), "loihi2")
    x = (np.random.default_rng(4).random((50, 3, 4)) < 0.4).astype(np.uint8)
    ours = prog.outputs(x, "reference", record=True)
    lava = prog.outputs(x, "lava", record=True)
    total = 0
    for name in ours.spikes:
        np.testing.assert_array_equal(ours.spikes[name], lava.spikes[name], err_msg=name)
        np.testing.assert_array_equal(ours.v[name], lava.v[name], err_msg=name)
        total += int(ours.spikes[name].sum())
    assert total > 30


@settings(max_examples=15, deadline=None)
@given(
    st.integers(0, 2**31),
    st.lists(st.integers(0, 7), min_size=3, max_size=3),
    st.lists(st.integers(0, 7), min_size=2, max_size=2),
)
def test_folded_delays_match_the_nir_oracle(seed, pre, post):
    """Delays before and after the weights, folded into synapses, against the independent NIR
    interpreter (float, exact spikes)."""
    graph = delayed(np.array(pre), np.array(post), seed=seed % 1000)
    x = (np.random.default_rng(seed).random((40, 2, 3)) < 0.5).astype(np.float64)
    (want,) = Oracle(graph, dt=DT).run(x).values()
    folded = nc.transform(nc.load(graph, dt=DT), "fold").network
    np.testing.assert_array_equal(nc.simulate(folded, x), want)
