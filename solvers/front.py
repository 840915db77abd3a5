"""The front door: ``solve`` (exact, certified) and ``run`` (iterative), for every family.

Both dispatch on the problem type, as ``scipy.optimize.minimize`` dispatches on its method
and MDPs.jl on the objective:

=====================  ===========================  ==============================
problem                ``solve`` calls              ``run`` calls
=====================  ===========================  ==============================
PreferenceGame         ``equilibrium``              ``run_preference_game``
MatrixGame             ``qre``                      ``run_matrix_game``
Population             ``equilibrium`` of its game  ``run_multiplayer``
MDP                    ``solve_mdp`` (``regularizer=``, ``uncertainty=``: the objective;
                       with ``uncertainty`` the robust solver / ``run_robust``)
ZeroSumMarkovGame      ``solve_markov_game``        ``run_markov_game``
=====================  ===========================  ==============================

The per-family functions stay public with the same argument names; ``run``'s common
arguments (``eta``, ``iterations``, ``init``, ``seed``, ``track``, ``solution``, ``backend``)
mean the same in every family, and the method's own options are keywords that the method
table checks (an unknown one is a TypeError naming it and the method).
"""

import numpy as np

from nashlab.games.markov_game import ZeroSumMarkovGame
from nashlab.games.matrix import MatrixGame
from nashlab.games.mdp import MDP
from nashlab.games.population import Population
from nashlab.games.preference import PreferenceGame
from nashlab.solvers.results import Solution, Trajectory

PROBLEMS = (PreferenceGame, MatrixGame, Population, MDP, ZeroSumMarkovGame)


def _problem_error(problem):
    names = ", ".join(t.__name__ for t in PROBLEMS)
    return TypeError(f"problem must be one of {names}, got {type(problem).__name__}")


def solve(problem, **options) -> Solution:
    """The exact, certified solution of ``problem`` (options: those of the family's solver)."""
    if isinstance(problem, PreferenceGame):
        from nashlab.solvers.equilibrium import equilibrium

        return equilibrium(problem, **options)
    if isinstance(problem, MatrixGame):
        from nashlab.solvers.matrix_games import qre

        return qre(problem, **options)
    if isinstance(problem, Population):
        from nashlab.solvers.equilibrium import equilibrium

        return _population_solution(problem, equilibrium(problem.game, **options))
    if isinstance(problem, MDP):
        from nashlab.solvers.dp import solve_mdp

        return solve_mdp(problem, **options)
    if isinstance(problem, ZeroSumMarkovGame):
        from nashlab.solvers.markov_games import solve_markov_game

        return solve_markov_game(problem, **options)
    raise _problem_error(problem)


def _population_solution(population, eq):
    """π_i = π*_β for every player: the unique equilibrium of the population [D, nlhf.md §7]."""
    shape = (population.players,) + eq.policy.shape
    params = {**eq.params, "family": "population", "players": population.players}
    return Solution(np.broadcast_to(eq.policy, shape).copy(), eq.certified, eq.residual,
                    None if eq.gap is None else population.players * eq.gap / 2.0, eq.message,
                    params, logits=np.broadcast_to(eq.logits, shape).copy())


def run(problem, method, *, eta=None, iterations, init=None, seed=None, track=None,
        solution=None, backend="auto", **method_options) -> Trajectory:
    """Run ``method`` on ``problem`` for ``iterations`` steps (module docstring).

    ``track`` None records the family's default metrics; ``solution`` (from ``solve``) is
    reused instead of recomputing the ground truth. For an MDP, ``regularizer=`` and
    ``uncertainty=`` choose the objective.
    """
    common = {"eta": eta, "iterations": iterations, "init": init, "seed": seed,
              "solution": solution, "backend": backend}
    if track is not None:
        common["track"] = track
    if isinstance(problem, PreferenceGame):
        from nashlab.solvers.nlhf import run_preference_game

        return run_preference_game(problem, method, **common, **method_options)
    if isinstance(problem, MatrixGame):
        from nashlab.solvers.matrix_games import run_matrix_game

        return run_matrix_game(problem, method, **common, **method_options)
    if isinstance(problem, Population):
        from nashlab.solvers.multiplayer import run_multiplayer

        if solution is not None:  # the population's Solution holds π*_β once per player
            common["solution"] = _game_solution(solution)
        return run_multiplayer(problem.game, players=problem.players, method=method, **common,
                               **method_options)
    if isinstance(problem, MDP):
        if method_options.get("uncertainty") is not None:
            from nashlab.solvers.robust import run_robust

            return run_robust(problem, method, **common, **method_options)
        method_options.pop("uncertainty", None)
        from nashlab.solvers.dp import run_mdp

        return run_mdp(problem, method, **common, **method_options)
    if isinstance(problem, ZeroSumMarkovGame):
        from nashlab.solvers.markov_games import run_markov_game

        return run_markov_game(problem, method, **common, **method_options)
    raise _problem_error(problem)


def _game_solution(solution):
    if not isinstance(solution, Solution) or solution.params.get("family") != "population":
        raise TypeError("solution must be the Solution of solve(population)")
    params = {**solution.params, "family": "preference"}
    params.pop("players")
    return Solution(solution.policy[0], solution.certified, solution.residual, None,
                    solution.message, params, logits=solution.logits[0])
