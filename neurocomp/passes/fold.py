"""fold: every projection becomes one explicit synapse matrix, and neuron gains move into it.

After folding, a projection is a single `Matrix` (post x pre, CSR) with a bias, and every neuron
has unit input gains (`v_gain = u_gain = 1`): the integer form chips store. Outputs are unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import sparse

from ..ir.network import Network, NeuronParams, Population, Projection
from ..ir.ops import Conv, Delay, Matrix, Op, Shape
from .base import PassContext, PassError, PassResult, register


def _delays(ops: tuple[Op, ...], in_shape: Shape, name: str) -> tuple[Any, Any, int]:
    """Delays of a chain as (per pre neuron or None, per post neuron or None, steps for all): a
    Delay before every linear operator delays its pre neuron's synapses, one after them its post
    neuron's; a uniform one delays every synapse. Anything else has no per-synapse form."""
    linear = [i for i, op in enumerate(ops) if not isinstance(op, Delay)]
    pre = post = None
    common = 0
    for i, op in enumerate(ops):
        if not isinstance(op, Delay) or not op.steps.any():
            continue
        steps = op.steps.reshape(-1).astype(np.int64)
        if np.all(steps == steps[0]):
            common += int(steps[0])
        elif not linear or i < linear[0]:
            pre = steps if pre is None else pre + steps
        elif i > linear[-1]:
            post = steps if post is None else post + steps
        else:
            raise PassError(
                f"projection '{name}': a Delay between two linear operators that differs per "
                "element has no per-synapse form; move it before or after them"
            )
    return pre, post, common


def compose(ops: tuple[Op, ...], in_shape: Shape, name: str) -> Matrix:
    """The (post, pre) matrix, bias and synaptic delays of a chain of operators: the product of
    each linear operator's explicit synapse matrix; the bias is the chain's response to a zero
    input; the delays those of the chain's Delay operators (see `_delays`). A bias behind a
    Delay is present from the first step once folded, as a chip adds its bias every step: only
    the first `delay` steps differ from the chain's."""
    shape = tuple(in_shape)
    weight: sparse.csr_matrix | None = None
    for op in ops:
        if isinstance(op, Delay):
            continue
        m = op.matrix(shape)
        if weight is None:  # the first operator's matrix as it is, no product with identity
            # (seconds on a 1e8-synapse conv layer); a copy of a Matrix op's own weights,
            # which are edited in place below
            dtype = np.result_type(m.dtype, np.float64)
            weight = sparse.csr_matrix(m, dtype=dtype, copy=isinstance(op, Matrix))
            weight.sum_duplicates()
        else:
            weight = sparse.csr_matrix(m @ weight)
        shape = op.out_shape(shape)
    if weight is None:
        weight = sparse.identity(int(np.prod(in_shape)), format="csr")
    weight.eliminate_zeros()
    weight.sort_indices()
    bias = None
    active = [op for op in ops if not isinstance(op, Delay)]
    if any(getattr(op, "bias", None) is not None for op in active):
        y = np.zeros((1, *in_shape))
        for op in active:
            y = op.apply(y)
        bias = y.reshape(-1)
    pre, post, common = _delays(ops, tuple(in_shape), name)
    delay = None
    if pre is not None or post is not None or common:
        ones = sparse.csr_matrix(
            (np.ones(weight.nnz, dtype=np.int64), weight.indices, weight.indptr), shape=weight.shape
        )
        d = ones * common
        if pre is not None:
            d = d + ones @ sparse.diags(pre)
        if post is not None:
            d = d + sparse.diags(post) @ ones
        delay = sparse.csr_matrix(d, dtype=np.int64)
        delay.eliminate_zeros()
        delay.sort_indices()
    return Matrix(weight, tuple(in_shape), shape, bias, delay)


def _scaled_conv(conv: Conv | None, g: np.ndarray) -> Conv | None:
    """The convolution with its output neurons' gains folded in; None unless every channel's
    neurons share one gain (then it is still one kernel)."""
    if conv is None:
        return None
    per_channel = g.reshape(conv.weight.shape[0], -1)
    if np.any(per_channel != per_channel[:, :1]):
        return None
    ch = per_channel[:, 0]
    bias = None if conv.bias is None else conv.bias * ch
    return dataclasses.replace(conv, weight=conv.weight * ch[:, None, None, None], bias=bias)


def _unit_gains(p: NeuronParams) -> NeuronParams:
    ones = np.ones_like(p.v_gain)
    return dataclasses.replace(p, v_gain=ones, u_gain=None if p.du is None else ones.copy())


def _gain(pop: Population) -> np.ndarray:
    g = pop.params.v_gain
    if pop.params.u_gain is not None:
        g = g * pop.params.u_gain
    return np.asarray(g, dtype=np.float64).reshape(-1)


def is_folded(net: Network) -> bool:
    """True when every projection is one Matrix and every neuron has unit gains."""
    if any(len(pr.ops) != 1 or not isinstance(pr.ops[0], Matrix) for pr in net.projections):
        return False
    return all(np.all(_gain(p) == 1) and np.all(p.params.v_gain == 1) for p in net.populations)


def fold_network(net: Network) -> tuple[Network, dict[str, int]]:
    """Fold `net`; returns the new network and counts of what changed."""
    gains = {p.name: _gain(p) for p in net.populations}
    projections, composed = [], 0
    for pr in net.projections:
        if len(pr.ops) == 1 and isinstance(pr.ops[0], Matrix):
            m = pr.ops[0]
        else:
            m = compose(pr.ops, net.shape_of(pr.pre), pr.name)
            composed += 1
        only = pr.ops[0] if len(pr.ops) == 1 else None
        if m.conv is None and isinstance(only, Conv) and only.ndim == 2:
            m = dataclasses.replace(m, conv=only)
        g = gains[pr.post]
        if np.any(g != 1):
            # Row scaling in place of diag(g) @ W (the same products, no sparse matmul pass).
            weight = sparse.csr_matrix(m.weight, copy=True)
            weight.data *= np.repeat(g, np.diff(weight.indptr))
            weight.eliminate_zeros()
            m = dataclasses.replace(
                m,
                weight=weight,
                bias=None if m.bias is None else g * m.bias,
                conv=_scaled_conv(m.conv, g),
            )
        projections.append(dataclasses.replace(pr, ops=(m,)))
    scaled = sum(1 for p in net.populations if np.any(gains[p.name] != 1))
    pops = tuple(dataclasses.replace(p, params=_unit_gains(p.params)) for p in net.populations)
    new = dataclasses.replace(net, populations=pops, projections=tuple(projections))
    return new, {"projections_composed": composed, "populations_gain_folded": scaled}


@register
@dataclass(frozen=True)
class Fold:
    """Compose each projection into one synapse matrix and fold neuron gains into weights."""

    name: ClassVar[str] = "fold"

    def run(self, net: Network, ctx: PassContext) -> PassResult:
        if is_folded(net):
            return PassResult(net, {"projections_composed": 0}, changed=False)
        new, counts = fold_network(net)
        return PassResult(new, counts)


def ensure_folded(net: Network) -> tuple[Network, bool]:
    """`net` in folded form, and whether folding was needed."""
    if is_folded(net):
        return net, False
    return fold_network(net)[0], True


def matrix_of(pr: Projection) -> Matrix:
    op = pr.ops[0]
    if not isinstance(op, Matrix):
        raise PassError(f"projection '{pr.name}' is not folded (run the fold pass first)")
    return op
