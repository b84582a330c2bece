"""The vectorised bit-accurate simulator equals a slow, obviously correct per-neuron loop."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from neurocomp.backends.bit_accurate import Semantics, run
from neurocomp.ir.integer import IntNetwork, IntPopulation, IntProjection


def slow_run(net, x, sem):
    """Plain Python integers, one neuron at a time, straight from the chip's equations."""
    unit = 1 << net.decay_bits
    top = (1 << (sem.state_bits - 1)) - 1
    ws, ts = 2**sem.weight_shift, 2**sem.threshold_shift

    def decay(val, d):
        q = val * (unit - d)
        if sem.decay_rounding == "floor":
            return q // unit
        return q // unit if q >= 0 else -((-q) // unit)

    def over(val, mode):
        if mode == "saturate":
            return max(-top, min(top, val))
        m = top + 1  # Loihi wraps into (-m, m]
        while val > m:
            val -= 2 * m
        while val <= -m:
            val += 2 * m
        return val

    steps, batch = x.shape[:2]
    state = {p.name: [[0] * p.size for _ in range(batch)] for p in net.populations}
    cur = {p.name: [[0] * p.size for _ in range(batch)] for p in net.populations}
    prev_out = {p.name: [[0] * p.size for _ in range(batch)] for p in net.populations}
    out = []
    dense = {pr.name: pr.weight.toarray().tolist() for pr in net.projections}
    for t in range(steps):
        now = {"in": [[int(v) for v in x[t, b]] for b in range(batch)]}
        for p in net.populations:
            now[p.name] = [[0] * p.size for _ in range(batch)]
            for b in range(batch):
                for i in range(p.size):
                    drive = 0
                    for pr in net.projections_into(p.name):
                        delayed = pr.recurrent or sem.synapse_delay
                        if delayed and t == 0:
                            continue
                        src = prev_out[pr.pre][b] if delayed else now[pr.pre][b]
                        drive += sum(w * s for w, s in zip(dense[pr.name][i], src, strict=True))
                        if pr.bias is not None:
                            drive += int(pr.bias[i])
                    if sem.activation_bits:
                        m = 1 << (sem.activation_bits - 1)
                        drive = (drive + m) % (2 * m) - m
                    drive *= ws
                    if p.du is not None:
                        u = over(
                            decay(cur[p.name][b][i], int(p.du[i])) + drive, sem.current_overflow
                        )
                        cur[p.name][b][i] = u
                    else:
                        u = drive
                    v = over(
                        decay(state[p.name][b][i], int(p.dv[i])) + u + int(p.bias[i]) * ws,
                        sem.overflow,
                    )
                    if p.threshold is not None:
                        thr = int(p.threshold[i]) * ts
                        spike = int(v > thr)
                        if spike:
                            v = int(p.v_reset[i]) * ws if p.reset == "zero" else v - thr
                        now[p.name][b][i] = spike
                    else:
                        now[p.name][b][i] = v
                    state[p.name][b][i] = v
        prev_out = dict(now)
        out.append([now[net.populations[-1].name][b] for b in range(batch)])
    return np.array(out)


@st.composite
def programs(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in = draw(st.integers(1, 5))
    depth = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 5)) for _ in range(depth)]
    decay_bits = draw(st.sampled_from([4, 8, 12]))
    unit = 1 << decay_bits
    pops, projs, prev, prev_n = [], [], "in", n_in
    for k, n in enumerate(sizes):
        spiking = draw(st.booleans()) or k < depth - 1
        current = draw(st.booleans())
        pops.append(
            IntPopulation(
                name=f"p{k}",
                kind="CubaLIF" if current else "LIF",
                shape=(n,),
                dv=rng.integers(0, unit + 1, n),
                du=rng.integers(0, unit + 1, n) if current else None,
                bias=rng.integers(-20, 21, n),
                v_reset=rng.integers(-10, 11, n),
                threshold=rng.integers(-5, 200, n) if spiking else None,
                scale=np.ones(n),
                reset=draw(st.sampled_from(["zero", "subtract"])),
            )
        )
        w = rng.integers(-128, 128, (n, prev_n)) * (rng.random((n, prev_n)) < 0.7)
        projs.append(
            IntProjection(
                f"w{k}",
                prev,
                f"p{k}",
                sparse.csr_matrix(w),
                rng.integers(-10, 11, n) if draw(st.booleans()) else None,
            )
        )
        if draw(st.booleans()):
            r = rng.integers(-64, 64, (n, n))
            projs.append(
                IntProjection(
                    f"r{k}",
                    f"p{k}",
                    f"p{k}",
                    sparse.csr_matrix(r),
                    rng.integers(-5, 6, n) if draw(st.booleans()) else None,
                    recurrent=True,
                )
            )
        prev, prev_n = f"p{k}", n
    net = IntNetwork({"in": (n_in,)}, tuple(pops), tuple(projs), {"out": prev}, decay_bits)
    x = rng.integers(0, 2, (draw(st.integers(1, 12)), draw(st.integers(1, 3)), n_in))
    shift = draw(st.sampled_from([0, 6]))
    sem = Semantics(
        decay_rounding=draw(st.sampled_from(["toward_zero", "floor"])),
        state_bits=draw(st.sampled_from([8, 12, 24])),
        overflow=draw(st.sampled_from(["saturate", "wrap"])),
        current_overflow=draw(st.sampled_from(["saturate", "wrap"])),
        weight_shift=shift,
        threshold_shift=shift,
        synapse_delay=draw(st.sampled_from([0, 1])),
        activation_bits=draw(st.sampled_from([0, 8, 16])),
    )
    return net, x, sem


@settings(max_examples=80, deadline=None)
@given(programs())
def test_vectorised_equals_per_neuron_loop(case):
    net, x, sem = case
    fast = run(net, x, sem).outputs["out"]
    slow = slow_run(net, x, sem)
    last = net.populations[-1]
    if last.threshold is None:
        fast = np.round(fast / last.scale * 2**sem.weight_shift).astype(np.int64)
    np.testing.assert_array_equal(fast.reshape(slow.shape), slow)
