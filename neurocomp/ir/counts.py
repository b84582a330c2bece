"""Counts that compare like with like: a network's weights (trained parameters, what a NIR file
stores) versus its synapses (connections once convolutions and pooling are expanded, what a chip
stores)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from .ops import Conv, Dense, Matrix, Scale


def weight_count(net: Any) -> int:
    """Non-zero weight parameters over every projection (a conv kernel counts once, however many
    positions it is applied at; pooling and flattening hold none)."""
    total = 0
    for pr in net.projections:
        for op in pr.ops:
            if isinstance(op, (Dense, Conv)):
                total += int(np.count_nonzero(op.weight))
            elif isinstance(op, Matrix):
                w = op.weight
                total += int(w.nnz) if sparse.issparse(w) else int(np.count_nonzero(w))
            elif isinstance(op, Scale):
                total += int(np.count_nonzero(op.scale))
    return total
