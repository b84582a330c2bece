"""Conv.nonzeros counts the entries of Conv.matrix without building it (compile's summary)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from neurocomp.ir.ops import Conv


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 2), st.integers(1, 3), st.booleans(), st.integers(0, 2**32 - 1))
def test_conv_nonzeros_equal_the_explicit_matrix(nd, cin, grouped, seed):
    rng = np.random.default_rng(seed)
    groups = cin if grouped else 1
    cout = groups * int(rng.integers(1, 3))
    kernel = tuple(int(k) for k in rng.integers(1, 4, nd))
    w = rng.normal(size=(cout, cin // groups, *kernel))
    w *= rng.random(w.shape) < 0.7  # some zero taps: not synapses
    conv = Conv(
        w,
        tuple(int(s) for s in rng.integers(1, 3, nd)),
        tuple(int(p) for p in rng.integers(0, 2, nd)),
        tuple(int(d) for d in rng.integers(1, 3, nd)),
        groups,
    )
    shape = (cin, *(int(n) for n in rng.integers(7, 10, nd)))
    assert conv.nonzeros(shape) == conv.matrix(shape).nnz


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2), st.integers(1, 3), st.booleans(), st.integers(0, 2**32 - 1))
def test_conv_matrix_applies_the_convolution(nd, cin, grouped, seed):
    """The explicit matrix (filled channel by channel in CSR order) times the flattened input
    is the convolution itself, and it is in canonical CSR form."""
    rng = np.random.default_rng(seed)
    groups = cin if grouped else 1
    cout = groups * int(rng.integers(1, 3))
    kernel = tuple(int(k) for k in rng.integers(1, 4, nd))
    w = rng.normal(size=(cout, cin // groups, *kernel)) * (
        rng.random((cout, cin // groups, *kernel)) < 0.7
    )
    conv = Conv(
        w,
        tuple(int(s) for s in rng.integers(1, 3, nd)),
        tuple(int(p) for p in rng.integers(0, 2, nd)),
        tuple(int(d) for d in rng.integers(1, 3, nd)),
        groups,
    )
    shape = (cin, *(int(n) for n in rng.integers(7, 10, nd)))
    m = conv.matrix(shape)
    x = rng.normal(size=shape)
    np.testing.assert_allclose(m @ x.reshape(-1), conv.apply(x[None])[0].reshape(-1), atol=1e-9)
    assert m.has_canonical_format
