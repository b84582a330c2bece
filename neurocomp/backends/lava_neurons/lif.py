"""`NcLIF`: Lava's bit-accurate LIF with subtractive reset, a bias into the synaptic current,
the >= threshold test and graded (multi-spike) output.

Lava 0.10's `LIF` resets v to 0 after a spike and adds its bias to v only. Networks trained with
reset by subtraction (Sinabs, Rockpool and Spyx default to it) or with a bias into the synaptic
current (an Affine bias before a CubaLIF) need both. This process is Lava's `LIF` with two
additions, and its model is `PyLifModelBitAcc`'s arithmetic (`AbstractPyLifModelFixed`, the same
24-bit u and v, 12-bit decays with the +1 offset on du, 6-bit alignment shifts), per step::

    a   = a_in                                  (int16: Sparse's output of the previous step)
    a   = wrap16(a + u_bias)   from the second step on (the bias travels with the synapses,
                                                which deliver from the second step)
    u   = wrap24(decay(u, du + 1) + (a << 6))
    v   = clip24(decay(v, dv) + u + (bias_mant << bias_exp))
    s   = v > vth << 6           (inclusive=True: v >= vth << 6)
    s   = min(cap, max(1, v // (vth << 6))) where s   (max_spikes != 1: graded spikes, the
                                 count is the payload, sent as an integer; cap 0: no cap)
    v   = 0 where s              (subtract=False: exactly Lava's LIF)
    v   = v - s * (vth << 6)     (subtract=True)

The graded count is `neurocomp.ir.graded.spike_counts`' arithmetic; Sparse, Dense and Conv
with `num_message_bits` > 0 multiply their weights by it (Lava's graded-spike path).

This is a CPU model for Lava's simulation (tags "fixed_pt", "bit_accurate_loihi"). There is no
Loihi 2 microcode for it yet: on a Loihi 2 system Lava runs it on the host CPU, not on a neuro
core. Its imports are absolute, because Lava's compiler also loads this file on its own.
"""

from __future__ import annotations

import typing as ty

import numpy as np

from neurocomp.backends.lava_compat import import_lava

import_lava()  # lava-nc 0.10 on Python 3.11: this file may be imported before Lava is

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.ports import PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.lif.models import AbstractPyLifModelFixed  # noqa: E402
from lava.proc.lif.process import AbstractLIF  # noqa: E402

_A_BITS = 16  # LIF's a_in port is int16


class NcLIF(AbstractLIF):
    """Lava's LIF plus `u_bias` (per neuron, in synaptic-input units, added to a_in before the
    << 6 alignment), `subtract` (reset by subtracting the threshold instead of to 0),
    `inclusive` (spike at v >= threshold) and `max_spikes` (1: binary spikes; k > 1: graded
    spikes of up to k; 0: graded, no cap)."""

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        du: int = 0,
        dv: int = 0,
        bias_mant: ty.Any = 0,
        bias_exp: ty.Any = 0,
        vth: int = 10,
        u_bias: ty.Any = 0,
        subtract: bool = False,
        inclusive: bool = False,
        max_spikes: int = 1,
        name: str | None = None,
        **kwargs: ty.Any,
    ) -> None:
        super().__init__(
            shape=shape,
            u=0,
            v=0,
            du=du,
            dv=dv,
            bias_mant=bias_mant,
            bias_exp=bias_exp,
            name=name,
            log_config=None,
            subtract=bool(subtract),
            inclusive=bool(inclusive),
            max_spikes=int(max_spikes),
            **kwargs,
        )
        self.vth = Var(shape=(1,), init=vth)
        self.u_bias = Var(shape=shape, init=u_bias)


def _wrap(x: np.ndarray, bits: int) -> np.ndarray:
    m = 1 << (bits - 1)
    return ((x.astype(np.int64) + m) & ((1 << bits) - 1)) - m


@implements(proc=NcLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyNcLIFModelBitAcc(AbstractPyLifModelFixed):
    """Bit-accurate model of `NcLIF` (Lava's CPU simulation; see the module docstring)."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)
    u_bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=16)

    def __init__(self, proc_params: ty.Any) -> None:
        super().__init__(proc_params)
        self.subtract = bool(proc_params["subtract"])
        self.inclusive = bool(proc_params.get("inclusive", False))
        self.max_spikes = int(proc_params.get("max_spikes", 1))
        self.effective_vth = 0

    def scale_threshold(self) -> None:
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.isthrscaled = True

    def spiking_activation(self) -> np.ndarray:
        """Spikes: bool (binary), or int64 counts (graded)."""
        vth = np.int64(self.effective_vth)
        v = self.v.astype(np.int64)
        crossed = v >= vth if self.inclusive else v > vth
        if self.max_spikes == 1:
            return crossed
        k = np.maximum(v // (vth if vth > 0 else 1), 1)
        if self.max_spikes > 1:
            k = np.minimum(k, self.max_spikes)
        return np.where(crossed, k, 0)

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        fired = spike_vector > 0
        if not self.subtract:
            self.v[fired] = 0
        elif self.max_spikes == 1:
            self.v[fired] -= self.effective_vth
        else:
            self.v[:] = self.v - spike_vector * np.int64(self.effective_vth)

    def run_spk(self) -> None:
        a_in = self.a_in.recv()
        if self.time_step > 1:  # synapses (and their bias) deliver from the second step on
            a_in = _wrap(a_in + self.u_bias.astype(np.int64), _A_BITS)
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        self.subthr_dynamics(activation_in=np.asarray(a_in, dtype=np.int32))
        self.s_out_buff = self.spiking_activation()
        self.reset_voltage(spike_vector=self.s_out_buff)
        self.s_out.send(self.s_out_buff)
