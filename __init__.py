"""nashlab: exact, verified solvers for regularized preference games and MDPs.

Importing ``nashlab`` loads numpy/scipy code only; optional layers (cvxpy cross-checks,
CuPy, torch) are imported where they are used.
"""

from nashlab import games, solvers
from nashlab.games.metrics import best_response, duality_gap, exploitability, nash_conv
from nashlab.solvers.front import run, solve
from nashlab.solvers.results import Solution, Trajectory

__version__ = "0.1.0"
__all__ = ["games", "solvers", "solve", "run", "Solution", "Trajectory", "best_response",
           "duality_gap", "exploitability", "nash_conv", "__version__"]
