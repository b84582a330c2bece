"""Old import path of the integer IR and lowering (now neurocomp.ir.integer and
neurocomp.lowering): kept as an alias."""

from ..ir.integer import IntNetwork, IntPopulation, IntProjection
from ..lowering.integers import LoweringError, to_integers

__all__ = ["IntNetwork", "IntPopulation", "IntProjection", "LoweringError", "to_integers"]
