"""Update rules and drivers; certified exact solvers."""

from nashlab.solvers.equilibrium import equilibrium, fixed_point_residual
from nashlab.solvers.prox import eta_from_mirror_descent, prox_step
from nashlab.solvers.results import Equilibrium, Trajectory

__all__ = [
    "Equilibrium",
    "Trajectory",
    "equilibrium",
    "eta_from_mirror_descent",
    "fixed_point_residual",
    "prox_step",
]
