"""Update rules and drivers; certified exact solvers."""

from nashlab.solvers.equilibrium import equilibrium, fixed_point_residual
from nashlab.solvers.matrix_games import qre, run_matrix_game
from nashlab.solvers.multiplayer import nikaido_isoda, run_multiplayer
from nashlab.solvers.nlhf import METHODS, run
from nashlab.solvers.oracles import ExactOracle, SampledOracle, make_oracle
from nashlab.solvers.prox import eta_from_mirror_descent, prox_step
from nashlab.solvers.results import Equilibrium, Trajectory

__all__ = [
    "METHODS",
    "Equilibrium",
    "ExactOracle",
    "SampledOracle",
    "Trajectory",
    "equilibrium",
    "eta_from_mirror_descent",
    "fixed_point_residual",
    "make_oracle",
    "nikaido_isoda",
    "prox_step",
    "qre",
    "run",
    "run_matrix_game",
    "run_multiplayer",
]
