"""neurocomp's own Lava neuron (`NcLIF`): with reset to zero and no current bias it is Lava's
LIF spike for spike and voltage for voltage; with subtraction and a current bias it follows the
fixed-point equations of its docstring (checked against a separate NumPy transcription)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from neurocomp.backends.lava_compat import import_lava, lava_available

pytestmark = pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")

T, N_IN, N = 30, 24, 16
DU, DV, VTH = 300, 400, 60


def _case(seed: int):
    rng = np.random.default_rng(seed)
    x = (rng.random((T, N_IN)) < 0.3).astype(np.int32)
    w = rng.integers(-120, 121, (N, N_IN))
    w[rng.random(w.shape) < 0.4] = 0
    return x, w, rng.integers(-50, 200, N), rng.integers(-300, 300, N)


def _run(x, w, bias, cls_name: str, message_bits: int = 0, **kw):
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor
    from lava.proc.sparse.process import Sparse

    from neurocomp.backends.lava_neurons.lif import NcLIF

    cls = {"LIF": LIF, "NcLIF": NcLIF}[cls_name]
    src = Source(data=x.T)
    graded = {"num_message_bits": message_bits} if message_bits else {}
    syn = Sparse(weights=sparse.csr_matrix(2 * w), weight_exp=-1, num_weight_bits=8, **graded)
    lif = cls(shape=(N,), du=DU, dv=DV, vth=VTH, bias_mant=bias, bias_exp=6, **kw)
    src.s_out.connect(syn.s_in)
    syn.a_out.connect(lif.a_in)
    sink = Sink(shape=(N,), buffer=T)
    lif.s_out.connect(sink.a_in)
    mon = Monitor()
    mon.probe(lif.v, T)
    lif.run(condition=RunSteps(num_steps=T), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    try:
        s = sink.data.get().T.astype(np.int64)
        v = mon.get_data()[lif.name]["v"].astype(np.int64)
    finally:
        lif.stop()
    return s, v


def _numpy(x, w, bias, u_bias, subtract: bool, cap: int = 1, inclusive: bool = False):
    """The docstring's equations, written out separately from the model (cap 0: no cap)."""

    def decay(q):
        return np.sign(q) * (np.abs(q) >> 12)

    m = 1 << 23
    u = np.zeros(N, np.int64)
    v = np.zeros(N, np.int64)
    prev = np.zeros(N_IN, np.int64)
    spikes, volts = [], []
    for t in range(T):
        a = w @ prev + (u_bias if t > 0 else 0)
        a = ((a + (1 << 15)) & 0xFFFF) - (1 << 15)
        u = decay(u * (4096 - DU - 1)) + (a << 6)
        u = ((u + m - 1) % (2 * m)) - (m - 1)
        v = np.clip(decay(v * (4096 - DV)) + u + (bias << 6), -(m - 1), m - 1)
        s = (v >= (VTH << 6) if inclusive else v > (VTH << 6)).astype(np.int64)
        if cap != 1:
            k = np.maximum(v // (VTH << 6), 1)
            s = s * (np.minimum(k, cap) if cap else k)
        v = v - s * (VTH << 6) if subtract else np.where(s > 0, 0, v)
        spikes.append(s)
        volts.append(v)
        prev = x[t].astype(np.int64)
    return np.array(spikes), np.array(volts)


@pytest.mark.parametrize("seed", [0, 2])
def test_reset_to_zero_is_lavas_lif(seed):
    x, w, bias, _ = _case(seed)
    s_lava, v_lava = _run(x, w, bias, "LIF")
    s_ours, v_ours = _run(x, w, bias, "NcLIF", subtract=False)
    np.testing.assert_array_equal(s_ours, s_lava)
    np.testing.assert_array_equal(v_ours, v_lava)
    assert s_lava.sum() > 20


def test_subtract_and_current_bias_follow_the_equations():
    x, w, bias, u_bias = _case(1)
    s, v = _run(x, w, bias, "NcLIF", subtract=True, u_bias=u_bias)
    s_np, v_np = _numpy(x, w, bias, u_bias, subtract=True)
    np.testing.assert_array_equal(s, s_np)
    np.testing.assert_array_equal(v, v_np)
    s_zero, _ = _numpy(x, w, bias, u_bias, subtract=False)
    assert s.sum() > 20 and not np.array_equal(s, s_zero)  # subtraction made a difference


@pytest.mark.parametrize("cap, subtract", [(3, True), (0, False)])
def test_graded_spikes_and_inclusive_test_follow_the_equations(cap, subtract):
    """Graded input (0..3 per step through Sparse with num_message_bits) into NcLIF sending
    counts, with the >= test."""
    x, w, bias, _ = _case(3)
    x = x * np.random.default_rng(3).integers(1, 4, x.shape).astype(np.int32)
    w = w // 2  # keep the graded synaptic input within int16
    kw = {"subtract": subtract, "max_spikes": cap, "inclusive": True}
    s, v = _run(x, w, bias, "NcLIF", message_bits=24, **kw)
    s_np, v_np = _numpy(x, w, bias, 0, subtract=subtract, cap=cap, inclusive=True)
    np.testing.assert_array_equal(s, s_np)
    np.testing.assert_array_equal(v, v_np)
    assert s.max() > 1  # counts above one
