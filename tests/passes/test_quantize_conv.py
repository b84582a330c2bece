"""quantize's "auto" granularity at 4 bits: a scale per output channel for convolution outputs,
one per layer for dense layers (digits programs byte for byte as before), 8 bits unchanged."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.passes.quantize import CONV_CHANNEL_BITS

from conftest import EXAMPLES
from graphs import every_primitive


def _load(path: Path) -> nc.Network:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        return nc.load(path, dt=1e-4)


@pytest.fixture(scope="module")
def conv_net() -> nc.Network:
    """examples/conv_digits: Conv2d 1->8 3x3 into population '1' (8, 8, 8), then AvgPool 2,
    Flatten and Linear 128->10 into population '5' (10,)."""
    return _load(EXAMPLES / "conv_digits" / "conv_digits.nir")


def _scales(net: nc.Network, text: str) -> tuple[dict[str, np.ndarray], dict]:
    res = nc.transform(net, text)
    scales = {p.name: p.quant.scale for p in res.network.populations}
    return scales, res.reports[-1]


def _per_channel(s: np.ndarray) -> np.ndarray:
    """The one scale of each output channel (asserting the channel's neurons share it)."""
    flat = s.reshape(s.shape[0], -1)
    np.testing.assert_array_equal(flat, np.broadcast_to(flat[:, :1], flat.shape))
    return flat[:, 0]


def test_conv_output_gets_a_scale_per_channel_at_4_bits(conv_net):
    assert CONV_CHANNEL_BITS == 4
    s, rep = _scales(conv_net, "quantize{weight_bits=4}")
    channel, _ = _scales(conv_net, "quantize{weight_bits=4,granularity=channel}")
    layer, _ = _scales(conv_net, "quantize{weight_bits=4,granularity=layer}")
    conv = _per_channel(s["1"])
    assert np.unique(conv).size == 8  # the 8 kernels' scales differ
    np.testing.assert_array_equal(s["1"], channel["1"])
    # the dense layer keeps one scale, the one granularity=layer gives
    assert np.unique(s["5"]).size == 1
    np.testing.assert_array_equal(s["5"], layer["5"])
    assert rep["granularity"] == "mixed"
    assert {r["layer"]: r["granularity"] for r in rep["layers"]} == {"1": "channel", "5": "layer"}


def test_conv_behind_a_pooling_counts_as_a_conv():
    # conv -> IF (4, 8, 8) -> SumPool + conv2 (folded into one matrix without a conv record)
    graph, _ = every_primitive(np.random.default_rng(5))["Conv2d"]
    net = nc.load(graph, dt=1e-4)
    s, rep = _scales(net, "quantize{weight_bits=4}")
    channel, _ = _scales(net, "quantize{weight_bits=4,granularity=channel}")
    assert rep["granularity"] == "channel"
    assert [p.name for p in net.populations] == ["if", "if2"]
    for pop in ("if", "if2"):
        assert np.unique(_per_channel(s[pop])).size > 1
        np.testing.assert_array_equal(s[pop], channel[pop])


@pytest.mark.parametrize("bits", [5, 8])
def test_above_4_bits_conv_keeps_one_scale_per_layer(conv_net, bits):
    s, rep = _scales(conv_net, f"quantize{{weight_bits={bits}}}")
    layer, _ = _scales(conv_net, f"quantize{{weight_bits={bits},granularity=layer}}")
    assert rep["granularity"] == "layer" and "granularity" not in rep["layers"][0]
    for name in s:
        assert np.unique(s[name]).size == 1
        np.testing.assert_array_equal(s[name], layer[name])


def test_explicit_granularity_is_kept_on_conv(conv_net):
    s, rep = _scales(conv_net, "quantize{weight_bits=4,granularity=layer}")
    assert rep["granularity"] == "layer" and np.unique(s["1"]).size == 1


def _arrays_digest(folder: Path) -> str:
    h = hashlib.sha256()
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        for key in sorted(z.files):
            a = z[key]
            h.update(f"{key} {a.dtype.str} {a.shape}".encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


# The digits MLP's 4-bit programs (integers and per-neuron scales in arrays.npz) as compiled by
# the code before convolutions got per-channel scales at 4 bits (main at 82d2470): dense-only
# programs must stay byte for byte what they were.
DIGITS_4BIT = {
    "prune{sparsity=0.9},quantize{weight_bits=4}": (
        "a4e60f8152b95d0c767e112dfa90b8a1684fe2096d5790ac0ebeaabd1365dae7"
    ),
    "quantize{weight_bits=4}": "ff8b55040739c15ad5c99beffbecbfb77a922b543dfe7f7d7a7c0c1149cd998d",
}


def test_digits_4_bit_programs_are_unchanged(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(EXAMPLES / "digits" / "digits.nir")
    for i, (passes, digest) in enumerate(DIGITS_4BIT.items()):
        default = nc.compile(net, passes=passes).save(tmp_path / f"d{i}")
        layer = passes.replace("weight_bits=4", "weight_bits=4,granularity=layer")
        explicit = nc.compile(net, passes=layer).save(tmp_path / f"l{i}")
        assert _arrays_digest(default) == _arrays_digest(explicit) == digest, passes
