"""Update rules and drivers; certified exact solvers."""

from nashlab.solvers import packed
from nashlab.solvers.backends import BACKENDS, resolve_backend
from nashlab.solvers.batched import fused_prox_step, run_batched
from nashlab.solvers.dp import run_mdp, solve_mdp
from nashlab.solvers.equilibrium import equilibrium, fixed_point_residual
from nashlab.solvers.front import run, solve
from nashlab.solvers.markov_games import run_markov_game, solve_markov_game
from nashlab.solvers.matrix_games import qre, run_matrix_game
from nashlab.solvers.methods import METHODS, Method, get_method
from nashlab.solvers.multiplayer import nikaido_isoda, run_multiplayer
from nashlab.solvers.nlhf import run_preference_game
from nashlab.solvers.oracles import ExactOracle, SampledOracle, make_oracle
from nashlab.solvers.prox import eta_from_mirror_descent, prox_step, step_coefficients
from nashlab.solvers.results import Solution, Trajectory
from nashlab.solvers.robust import RobustBellman, run_robust, solve_robust
from nashlab.solvers.threads import set_num_threads

__all__ = [
    "BACKENDS",
    "fused_prox_step",
    "packed",
    "resolve_backend",
    "run_batched",
    "step_coefficients",
    "RobustBellman",
    "run_markov_game",
    "run_mdp",
    "run_robust",
    "solve_markov_game",
    "solve_mdp",
    "solve_robust",
    "METHODS",
    "Solution",
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
    "run_preference_game",
    "set_num_threads",
    "solve",
    "Method",
    "get_method",
    "run_matrix_game",
    "run_multiplayer",
]
