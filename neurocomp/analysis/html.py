"""Old import path of the HTML tables (now neurocomp.present.html): kept as an alias."""

from ..present.html import table

__all__ = ["table"]
