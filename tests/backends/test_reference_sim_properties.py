"""The vectorised bit-accurate simulator equals a slow, obviously correct per-neuron loop."""

from __future__ import annotations

from itertools import combinations
from typing import NamedTuple

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from neurocomp.backends import jit
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


class Plan(NamedTuple):
    """The choices that select the compiled scan's variant (`jit._Switches`). numba compiles
    one variant per combination (about 4 s each on a cold cache), and free draws seldom repeat
    one: 80 free examples compiled 28 (105 s). Under a plan every compiled population is the
    plan's one variant; sizes, depth, weights, decays, thresholds, biases, delays, state width,
    steps, batch and input values stay free."""

    current: bool  # CubaLIF (a current stage) or LIF, every population
    spiking: bool  # the output population spikes (earlier ones always do)
    zero_reset: bool
    floor: bool
    current_saturates: bool
    saturates: bool
    shift: bool  # weight and threshold shift 6 (else 0)
    wrap: bool  # activation_bits 8, a weight -128 and an input 1: the drive's wrap compiled in
    binary: bool  # the input as uint8 (a binary source, as spikes are), else int64
    decay_bits: int


def _covering() -> list[tuple[int, ...]]:
    """A strength-2 binary covering array of 6 rows and 10 columns: every pair of columns
    shows 00, 01, 10 and 11 in some row. Its columns: the 3-element subsets of rows 1-5 as
    indicator vectors (row 0 all zeros); two distinct 3-subsets of a 5-set meet (11) and each
    has an element the other lacks (10, 01)."""
    cols = [tuple(int(r in ones) for r in range(6)) for ones in combinations(range(1, 6), 3)]
    return [tuple(c[r] for c in cols) for r in range(6)]


SWITCHES = 9  # Plan's boolean fields
# six plans: every pair of the nine switches in all four combinations (pairwise coverage),
# each decay width in two of them
PLANS = [
    Plan(*map(bool, row[:SWITCHES]), decay_bits=(4, 8, 12)[r % 3])
    for r, row in enumerate(_covering())
]


def test_plans_cover_every_pair_of_switches():
    switches = [plan[:SWITCHES] for plan in PLANS]
    for a, b in combinations(range(SWITCHES), 2):
        assert {(s[a], s[b]) for s in switches} == {(0, 0), (0, 1), (1, 0), (1, 1)}, (a, b)


@st.composite
def programs(draw, plan: Plan | None = None):
    """A random integer network, input and chip semantics; under `plan`, the choices it names
    are taken from it, and a population whose compiled scan would be another variant (an
    earlier one spikes where the plan's output does not; a binary source where the plan's is
    not, or the reverse) gets a recurrent loop, which runs it in numpy (`_run_layerwise`)."""

    def pick(name: str, strategy: st.SearchStrategy) -> object:
        return draw(strategy) if plan is None else getattr(plan, name)

    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in = draw(st.integers(1, 5))
    depth = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 5)) for _ in range(depth)]
    decay_bits = pick("decay_bits", st.sampled_from([4, 8, 12]))
    unit = 1 << decay_bits
    pops, projs, prev, prev_n = [], [], "in", n_in
    for k, n in enumerate(sizes):
        spiking = pick("spiking", st.booleans()) or k < depth - 1
        current = pick("current", st.booleans())
        zero = pick("zero_reset", st.booleans())
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
                reset="zero" if zero else "subtract",
            )
        )
        w = rng.integers(-128, 128, (n, prev_n)) * (rng.random((n, prev_n)) < 0.7)
        if plan is not None and plan.wrap:
            w[0, 0] = -128  # a drive bound of 128 or more: the wrap is compiled in
        projs.append(
            IntProjection(
                f"w{k}",
                prev,
                f"p{k}",
                sparse.csr_matrix(w),
                rng.integers(-10, 11, n) if draw(st.booleans()) else None,
            )
        )
        other = plan is not None and (
            spiking != plan.spiking or (k > 0 or plan.binary) != plan.binary
        )
        if other or draw(st.booleans()):
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
    if plan is not None and plan.wrap:
        x[0, 0, 0] = 1  # an input's largest entry 1, not 0: the drive bound reaches 128
    if plan is not None and plan.binary:
        x = x.astype(np.uint8)
    shift = 6 if pick("shift", st.booleans()) else 0
    if plan is None:
        activation = draw(st.sampled_from([0, 8, 16]))
    else:
        activation = 8 if plan.wrap else draw(st.sampled_from([0, 16]))
    sem = Semantics(
        decay_rounding="floor" if pick("floor", st.booleans()) else "toward_zero",
        state_bits=draw(st.sampled_from([8, 12, 24])),
        overflow="saturate" if pick("saturates", st.booleans()) else "wrap",
        current_overflow="saturate" if pick("current_saturates", st.booleans()) else "wrap",
        weight_shift=shift,
        threshold_shift=shift,
        synapse_delay=draw(st.sampled_from([0, 1])),
        activation_bits=activation,
    )
    return net, x, sem


def _check(case) -> None:
    """The vectorised run's output equals the per-neuron loop's, bit for bit."""
    net, x, sem = case
    fast = run(net, x, sem).outputs["out"]
    slow = slow_run(net, x, sem)
    last = net.populations[-1]
    if last.threshold is None:
        fast = np.round(fast / last.scale * 2**sem.weight_shift).astype(np.int64)
    np.testing.assert_array_equal(fast.reshape(slow.shape), slow)


# Many examples under the fixed plans: the data vary freely and the compiled variants are the
# plans' six (compiled once, ~25 s cold, then loaded from numba's disk cache), and an example
# then costs ~8 ms. Many, since one under a plan finds less than a free one: with the spike
# test mutated to >=, 2 of 300 examples failed here against 6 of 300 free ones (the 80 free
# examples this test once drew would expect 1.6 failures; these 1500, about 10).
@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(PLANS).flatmap(lambda plan: programs(plan)))
def test_vectorised_equals_per_neuron_loop(case):
    _check(case)


# Every choice free, as the test above once drew them all (mixed CubaLIF/LIF layers, any
# combination of switches, not only the plans' pairs): few examples, since most compile a new
# variant (80 such examples took 105 s and 28 compilations; 10, 37 s), a different few every
# run.
@settings(max_examples=5, deadline=None)
@given(programs())
def test_vectorised_equals_per_neuron_loop_any_variant(case):
    _check(case)


# The numpy scan (no numba, or NEUROCOMP_NO_JIT), which the runs above leave to populations
# with recurrent loops: every choice free, nothing compiled, so many examples are cheap.
@settings(max_examples=300, deadline=None)
@given(programs())
def test_numpy_scan_equals_per_neuron_loop(case):
    was = jit.AVAILABLE
    try:
        jit.AVAILABLE = False
        _check(case)
    finally:
        jit.AVAILABLE = was
