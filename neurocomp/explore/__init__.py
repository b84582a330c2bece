"""Design-space exploration: `sweep` compiles and evaluates every target x pipeline point,
in this process or on a Dask cluster, and tabulates accuracy, energy, latency and resources.

Importing this package imports neither pandas nor Dask; running a sweep needs the `sweep`
extra (pandas, pyarrow, and dask/distributed for clusters): pip install 'neurocomp[sweep]'.
"""

from .pareto import pareto_mask
from .report import SweepResult
from .run import sweep

__all__ = ["SweepResult", "pareto_mask", "sweep"]
