"""nashlab: exact, verified solvers for regularized preference games and MDPs.

Importing ``nashlab`` loads numpy/scipy code only; optional layers (cvxpy cross-checks,
CuPy, torch) are imported where they are used.
"""

from nashlab import games, solvers

__version__ = "0.1.0"
__all__ = ["games", "solvers", "__version__"]
