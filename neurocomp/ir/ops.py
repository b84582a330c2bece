"""Synaptic operators: the linear maps (and delays) a projection applies between populations.

Shapes exclude the batch: an operator maps a signal of shape `in_shape` to
`out_shape(in_shape)`, and `apply` works on a batch `(B, *in_shape) -> (B, *out_shape)`.
Layouts follow PyTorch and NIR: channels first, weights `(out, in)` and
`(C_out, C_in / groups, *kernel)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import sparse

from ..errors import ShapeError

Shape = tuple[int, ...]


def _conv_out_len(n: int, k: int, stride: int, pad: int, dilation: int) -> int:
    return (n + 2 * pad - dilation * (k - 1) - 1) // stride + 1


@dataclass(frozen=True, eq=False)
class Dense:
    """y = x W^T (+ b) over the last axis; `weight` is (out, in)."""

    weight: np.ndarray
    bias: np.ndarray | None = None

    def out_shape(self, in_shape: Shape) -> Shape:
        return (*in_shape[:-1], int(self.weight.shape[0]))

    def in_features(self) -> int:
        return int(self.weight.shape[1])

    def apply(self, x: np.ndarray, with_bias: bool = True) -> np.ndarray:
        y = x @ self.weight.T
        if with_bias and self.bias is not None:
            y = y + self.bias
        return y

    def synapses(self, in_shape: Shape) -> int:
        rows = int(np.prod(in_shape[:-1], dtype=np.int64))
        return rows * int(np.count_nonzero(self.weight))

    def matrix(self, in_shape: Shape) -> sparse.csr_matrix:
        rows = int(np.prod(in_shape[:-1], dtype=np.int64))
        return sparse.kron(
            sparse.identity(rows, format="csr"), sparse.csr_matrix(self.weight), format="csr"
        )


@dataclass(frozen=True, eq=False)
class Conv:
    """N-d convolution (N = 1 or 2) with PyTorch's cross-correlation convention."""

    weight: np.ndarray  # (C_out, C_in // groups, *kernel)
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int = 1
    bias: np.ndarray | None = None  # (C_out,)

    @property
    def ndim(self) -> int:
        return self.weight.ndim - 2

    def out_shape(self, in_shape: Shape) -> Shape:
        kernel = self.weight.shape[2:]
        spatial = tuple(
            _conv_out_len(n, k, s, p, d)
            for n, k, s, p, d in zip(
                in_shape[1:], kernel, self.stride, self.padding, self.dilation, strict=True
            )
        )
        return (int(self.weight.shape[0]), *spatial)

    def _windows(self, x: np.ndarray) -> np.ndarray:
        """(B, C, *spatial) -> (B, C, *out_spatial, *kernel) view of the padded input."""
        pad = [(0, 0), (0, 0), *[(p, p) for p in self.padding]]
        xp: np.ndarray = np.pad(x, pad) if any(self.padding) else x
        kernel = self.weight.shape[2:]
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, self.dilation, strict=True))
        axes = tuple(range(2, 2 + self.ndim))
        win = sliding_window_view(xp, span, axis=axes)  # type: ignore[call-overload]
        index: list[slice] = [slice(None), slice(None)]
        index += [slice(None, None, s) for s in self.stride]
        index += [slice(None, None, d) for d in self.dilation]
        return win[tuple(index)]

    def apply(self, x: np.ndarray, with_bias: bool = True) -> np.ndarray:
        win = self._windows(x)
        batch, c_in = x.shape[:2]
        c_out = self.weight.shape[0]
        g = self.groups
        out_sp = win.shape[2 : 2 + self.ndim]
        # Group-wise contraction over (C_in/g, *kernel) via one tensordot per group.
        win = win.reshape(batch, g, c_in // g, *out_sp, *self.weight.shape[2:])
        w = self.weight.reshape(g, c_out // g, c_in // g, *self.weight.shape[2:])
        sp, kk = "xyz"[: self.ndim], "ijk"[: self.ndim]
        spec = f"bgc{sp}{kk},goc{kk}->bgo{sp}"
        y = np.einsum(spec, win, w, optimize=True).reshape(batch, c_out, *out_sp)
        if with_bias and self.bias is not None:
            y = y + self.bias.reshape(-1, *([1] * self.ndim))
        return y

    def synapses(self, in_shape: Shape) -> int:
        out = self.out_shape(in_shape)
        per_out = int(np.prod(self.weight.shape[1:]))
        return int(np.prod(out)) * per_out

    def nonzeros(self, in_shape: Shape) -> int:
        """Entries of `matrix(in_shape)` without building it: per non-zero tap, the output
        positions where it lands inside the input."""
        out = self.out_shape(in_shape)
        kernel = self.weight.shape[2:]
        per_tap = np.ones((), dtype=np.int64)
        for d, k in enumerate(kernel):
            o = np.arange(out[1 + d])[:, None] * self.stride[d] - self.padding[d]
            p = o + np.arange(k)[None, :] * self.dilation[d]
            hits = ((p >= 0) & (p < in_shape[1 + d])).sum(axis=0)
            per_tap = np.multiply.outer(per_tap, hits)
        return int(((self.weight != 0) * per_tap).sum())

    def matrix(self, in_shape: Shape) -> sparse.csr_matrix:
        """Explicit (out x in) synapses: one entry per (output, tap) that lands inside."""
        out = self.out_shape(in_shape)
        c_out, cin_g = self.weight.shape[:2]
        kernel = self.weight.shape[2:]
        per_group = c_out // self.groups
        n_pos, n_in = int(np.prod(out[1:])), int(np.prod(in_shape))
        # One output channel at a time: the index grids cover one channel's synapses, not all
        # of them (peak memory stays near the size of the result).
        grids = np.meshgrid(
            *[np.arange(n) for n in out[1:]],
            np.arange(cin_g),
            *[np.arange(k) for k in kernel],
            indexing="ij",
        )
        opos, ci, taps = grids[: self.ndim], grids[self.ndim], grids[self.ndim + 1 :]
        inside = np.ones(ci.shape, bool)
        ipos = []
        for d in range(self.ndim):
            p = opos[d] * self.stride[d] - self.padding[d] + taps[d] * self.dilation[d]
            inside &= (p >= 0) & (p < in_shape[1 + d])
            ipos.append(p)
        # Enumerated position-major, then input channel, then tap: within each output row the
        # input index only grows, so each channel's entries come out in CSR order as they are.
        # The arrays are allocated once at their final size (nonzeros) and filled per channel;
        # a channel's weights are the same for every position (one row of the grid each).
        per_pos = cin_g * int(np.prod(kernel))
        clipped = [
            np.clip(p, 0, n - 1).reshape(-1) for p, n in zip(ipos, in_shape[1:], strict=True)
        ]
        base_col = np.ravel_multi_index((ci.reshape(-1), *clipped), (cin_g, *in_shape[1:]))
        base_col = base_col.reshape(n_pos, per_pos)
        del clipped
        inside = inside.reshape(n_pos, per_pos)
        per_channel_in = int(np.prod(in_shape[1:])) * cin_g
        total = self.nonzeros(in_shape)
        idx_dtype = np.int32 if max(n_in, total) < np.iinfo(np.int32).max else np.int64
        data = np.empty(total, dtype=self.weight.dtype)
        indices = np.empty(total, dtype=idx_dtype)
        counts = np.zeros(c_out * n_pos, dtype=np.int64)
        at = 0
        for co in range(c_out):
            w = self.weight[co].reshape(1, per_pos)
            valid = inside & (w != 0)
            k = int(np.count_nonzero(valid))
            data[at : at + k] = np.broadcast_to(w, valid.shape)[valid]
            indices[at : at + k] = base_col[valid] + (co // per_group) * per_channel_in
            counts[co * n_pos : (co + 1) * n_pos] = valid.sum(axis=1)
            at += k
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return sparse.csr_matrix((data, indices, indptr), shape=(c_out * n_pos, n_in))


@dataclass(frozen=True, eq=False)
class Pool2d:
    """Sum pooling over 2-D windows; `scale` = 1 / window area turns it into average pooling."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    scale: float = 1.0

    def out_shape(self, in_shape: Shape) -> Shape:
        spatial = tuple(
            _conv_out_len(n, k, s, p, 1)
            for n, k, s, p in zip(in_shape[1:], self.kernel, self.stride, self.padding, strict=True)
        )
        return (in_shape[0], *spatial)

    def apply(self, x: np.ndarray, with_bias: bool = True) -> np.ndarray:
        pad = [(0, 0), (0, 0), *[(p, p) for p in self.padding]]
        xp: np.ndarray = np.pad(x, pad) if any(self.padding) else x
        win = sliding_window_view(xp, self.kernel, axis=(2, 3))  # type: ignore[call-overload]
        win = win[:, :, :: self.stride[0], :: self.stride[1]]
        y = win.sum(axis=(-2, -1))
        return y * self.scale if self.scale != 1.0 else y

    def synapses(self, in_shape: Shape) -> int:
        return int(np.prod(self.out_shape(in_shape))) * self.kernel[0] * self.kernel[1]

    def matrix(self, in_shape: Shape) -> sparse.csr_matrix:
        c = in_shape[0]
        eye = np.ones((c, 1, *self.kernel)) * self.scale
        conv = Conv(eye, self.stride, self.padding, (1, 1), groups=c)
        return conv.matrix(in_shape)


@dataclass(frozen=True, eq=False)
class Flatten:
    """Merge axes `start_dim..end_dim` (inclusive, batch excluded, negative counts from the end)."""

    start_dim: int = 0
    end_dim: int = -1

    def _span(self, in_shape: Shape) -> tuple[int, int]:
        n = len(in_shape)
        start = self.start_dim % n if n else 0
        end = self.end_dim % n if n else 0
        return start, end

    def out_shape(self, in_shape: Shape) -> Shape:
        start, end = self._span(in_shape)
        merged = int(np.prod(in_shape[start : end + 1], dtype=np.int64))
        return (*in_shape[:start], merged, *in_shape[end + 1 :])

    def apply(self, x: np.ndarray, with_bias: bool = True) -> np.ndarray:
        return x.reshape(x.shape[0], *self.out_shape(x.shape[1:]))

    def synapses(self, in_shape: Shape) -> int:
        return 0

    def matrix(self, in_shape: Shape) -> sparse.csr_matrix:
        return sparse.identity(int(np.prod(in_shape)), format="csr")


@dataclass(frozen=True, eq=False)
class Scale:
    """Element-wise y = x * scale (scale broadcasts against the signal's shape)."""

    scale: np.ndarray

    def out_shape(self, in_shape: Shape) -> Shape:
        return tuple(np.broadcast_shapes(in_shape, self.scale.shape))

    def apply(self, x: np.ndarray, with_bias: bool = True) -> np.ndarray:
        return x * self.scale

    def synapses(self, in_shape: Shape) -> int:
        return int(np.prod(in_shape))

    def matrix(self, in_shape: Shape) -> sparse.csr_matrix:
        out = self.out_shape(in_shape)
        full = np.broadcast_to(self.scale, out).reshape(-1)
        spread = np.broadcast_to(np.arange(int(np.prod(in_shape))).reshape(in_shape), out)
        return sparse.csr_matrix(
            (full, (np.arange(full.size), spread.reshape(-1))),
            shape=(full.size, int(np.prod(in_shape))),
        )


@dataclass(frozen=True, eq=False)
class Delay:
    """y[t] = x[t - steps], per element; `steps` is an integer array of the signal's shape."""

    steps: np.ndarray
    _max: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_max", int(self.steps.max()) if self.steps.size else 0)

    @property
    def max_steps(self) -> int:
        return self._max

    def out_shape(self, in_shape: Shape) -> Shape:
        return tuple(in_shape)

    def apply(self, x: np.ndarray, with_bias: bool = True) -> np.ndarray:
        raise TypeError("Delay is stateful: simulators apply it through a DelayLine")

    def synapses(self, in_shape: Shape) -> int:
        return 0


@dataclass(frozen=True, eq=False)
class Matrix:
    """Explicit synapses: y = W x (+ b) on flattened signals; W is a (post, pre) CSR matrix.

    Passes fold every chain of linear operators into one Matrix, the form mapping and chips use.
    `delay` (post, pre), integer steps: synapse (i, j) delivers x_j of `delay[i, j]` steps ago
    (an entry it does not store: 0 steps); None: no delays. A delayed Matrix is stateful:
    simulators apply it through a `SynapseDelayLine`.
    """

    weight: sparse.csr_matrix
    in_shape: Shape
    out_shape_: Shape
    bias: np.ndarray | None = None  # (post,) flattened
    delay: sparse.csr_matrix | None = None
    # the 2-d convolution this matrix expands (weights as before quantization), when it is one
    conv: Conv | None = None

    def out_shape(self, in_shape: Shape) -> Shape:
        if tuple(in_shape) != tuple(self.in_shape):
            raise ShapeError(f"synapse matrix expects input shape {self.in_shape}, got {in_shape}")
        return self.out_shape_

    def matrix(self, in_shape: Shape) -> sparse.csr_matrix:
        return self.weight

    def apply(self, x: np.ndarray, with_bias: bool = True) -> np.ndarray:
        if self.delay is not None:
            raise TypeError("a delayed Matrix is stateful: apply it through a SynapseDelayLine")
        flat = x.reshape(x.shape[0], -1)
        y = np.asarray(self.weight @ flat.T).T
        if with_bias and self.bias is not None:
            y = y + self.bias
        return y.reshape(x.shape[0], *self.out_shape_)

    def synapses(self, in_shape: Shape) -> int:
        return int(self.weight.nnz)


Op = Dense | Conv | Pool2d | Flatten | Scale | Delay | Matrix


class DelayLine:
    """Ring buffer that applies a `Delay` over successive time steps of a batch."""

    def __init__(self, op: Delay, batch: int, shape: Shape, dtype: np.dtype) -> None:
        self.length = op.max_steps + 1
        self.buffer = np.zeros((self.length, batch, *shape), dtype=dtype)
        self.steps = op.steps.reshape(-1)
        self.t = 0

    def push(self, x: np.ndarray) -> np.ndarray:
        self.buffer[self.t % self.length] = x
        flat = self.buffer.reshape(self.length, x.shape[0], -1)
        slots = (self.t - self.steps) % self.length
        y = flat[slots, :, np.arange(self.steps.size)].T  # (B, N)
        self.t += 1
        return y.reshape(x.shape)


def aligned_delays(weight: sparse.csr_matrix, delay: sparse.csr_matrix | None) -> np.ndarray:
    """The delay of every stored synapse of `weight` (canonical CSR: sorted, no zeros), in the
    order of `weight.data`."""
    if delay is None:
        return np.zeros(weight.nnz, dtype=np.int64)
    pattern = sparse.csr_matrix(
        (np.ones(weight.nnz, dtype=np.int64), weight.indices, weight.indptr), shape=weight.shape
    )
    shifted = sparse.csr_matrix(pattern.multiply(sparse.csr_matrix(delay)) + pattern)
    shifted.sort_indices()
    return np.asarray(shifted.data, dtype=np.int64) - 1


def by_delay(weight: sparse.csr_matrix, delay: sparse.csr_matrix | None) -> list[tuple[int, Any]]:
    """(steps, the synapses of `weight` with that delay) for every delay present, ascending."""
    w = sparse.csr_matrix(weight, copy=True)
    w.eliminate_zeros()
    w.sort_indices()
    if delay is None:
        return [(0, w)]
    steps = aligned_delays(w, delay)
    out = []
    for d in np.unique(steps) if steps.size else np.zeros(1, dtype=np.int64):
        part = sparse.csr_matrix(
            (w.data * (steps == d), w.indices.copy(), w.indptr.copy()), shape=w.shape
        )
        part.eliminate_zeros()  # in place: hence the copies of w's index arrays
        out.append((int(d), part))
    return out


class SynapseDelayLine:
    """Applies a delayed synapse matrix over successive steps: y[t] = sum_d W_d x[t - d]."""

    def __init__(
        self, weight: sparse.csr_matrix, delay: sparse.csr_matrix | None, batch: int, dtype: Any
    ) -> None:
        self.parts = by_delay(weight, delay)
        self.length = max(d for d, _ in self.parts) + 1
        self.buffer = np.zeros((self.length, batch, weight.shape[1]), dtype=dtype)
        self.t = 0

    def push(self, x: np.ndarray) -> np.ndarray:
        """x: (B, n_pre) this step's input; returns (B, n_post)."""
        self.buffer[self.t % self.length] = x
        y = None
        for d, w in self.parts:
            if d > self.t:
                continue  # nothing sent that long ago
            part = np.asarray(w @ self.buffer[(self.t - d) % self.length].T).T
            y = part if y is None else y + part
        self.t += 1
        if y is None:
            return np.zeros((x.shape[0], self.parts[0][1].shape[0]), dtype=self.buffer.dtype)
        return y
