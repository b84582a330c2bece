"""The compile summary's output lag: how many steps a chip's outputs trail the float network
(Loihi 2's synaptic delay, one step per feed-forward layer); comparisons aligned by it."""

from __future__ import annotations

import nir
import numpy as np

import neurocomp as nc
from neurocomp.ir.timing import align

from graphs import chain


def _mlp() -> nir.NIRGraph:
    rng = np.random.default_rng(0)

    def linear(n_out: int, n_in: int) -> nir.Linear:
        return nir.Linear(weight=rng.normal(0.35, 0.6, (n_out, n_in)))

    def if_(n: int) -> nir.IF:
        return nir.IF(r=np.ones(n), v_threshold=np.ones(n), v_reset=np.zeros(n))

    return chain(
        ("w1", linear(24, 16)),
        ("a", if_(24)),
        ("w2", linear(16, 24)),
        ("b", if_(16)),
        ("w3", linear(8, 16)),
        ("c", if_(8)),
        input_shape=(16,),
        out=(8,),
    )


def test_loihi2_outputs_lag_one_step_per_layer_and_align() -> None:
    net = nc.load(_mlp())
    x = (np.random.default_rng(1).random((80, 4, 16)) < 0.3).astype(float)
    y = nc.simulate(net, x)
    assert y.sum() > 50
    found = {}
    for target in ("reference", "loihi2"):
        prog = nc.compile(net, target=target, calibration=x)
        lag = prog.summary["output_lag_steps"]["output"]
        chip = prog.simulate(x)
        found[target] = (lag, align(y, chip, 0).mismatches, align(y, chip, lag))
    ref_lag, _, ref = found["reference"]
    l2_lag, l2_unaligned, l2 = found["loihi2"]
    assert (ref_lag, l2_lag) == (0, 3)  # three feed-forward layers, one step each
    # Aligned, Loihi 2 differs from the float run about as much as the reference chip does
    # (8-bit quantization); unaligned, far more.
    assert l2.mismatches <= 2 * ref.mismatches + 0.02 * l2.float_spikes
    assert l2_unaligned > 3 * max(l2.mismatches, 1)


def test_summary_counts_like_with_like() -> None:
    rng = np.random.default_rng(2)
    conv = nir.Conv2d(
        input_shape=np.array([6, 6]),
        weight=rng.normal(0, 1, (3, 2, 3, 3)),
        stride=1,
        padding=1,
        dilation=1,
        groups=1,
        bias=np.zeros(3),
    )
    graph = chain(
        ("conv", conv),
        (
            "a",
            nir.IF(
                r=np.ones((3, 6, 6)), v_threshold=np.ones((3, 6, 6)), v_reset=np.zeros((3, 6, 6))
            ),
        ),
        input_shape=(2, 6, 6),
        out=(3, 6, 6),
    )
    prog = nc.compile(nc.load(graph), target="reference")
    s = prog.summary
    assert s["weights_input"] == 3 * 2 * 3 * 3  # the kernel, once
    # connections inside the padded border: per axis 6 + 2 * 5 taps of 3 land (16 of 18)
    assert s["synapses_input"] == 3 * 2 * 16 * 16 == s["synapses"]
