"""Integer lowering: a folded, quantized float network -> the integer network a chip stores,
checked against the target's number formats. The stage between passes and mapping."""

from .integers import LoweringError, to_integers

__all__ = ["LoweringError", "to_integers"]
