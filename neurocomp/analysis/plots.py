"""Old import path of the plots (now neurocomp.present.plots): kept as an alias."""

from ..present.plots import DisplayFigure, spike_raster

__all__ = ["DisplayFigure", "spike_raster"]
