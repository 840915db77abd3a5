"""Every public solver takes ``backend=``: "auto" picks the compiled kernel where one covers
the call, "numpy" the reference, and an unavailable backend is a ValueError that says why."""

import numpy as np
import pytest

from nashlab import solvers
from nashlab.games import generators
from nashlab.games.markov_game import random_markov_game
from nashlab.games.matrix import random_matrix_game
from nashlab.games.mdp_problems import garnet
from nashlab.solvers.backends import BACKENDS, choose_backend, cuda_unavailable_reason

GAME = generators.random_preference(4, beta=0.2, seed=0)
MATRIX = random_matrix_game(3, 4, tau=0.2, seed=0)
MARKOV = random_markov_game(3, 2, 2, gamma=0.8, seed=0)
MDP = garnet(6, 2, 2, seed=0, sparse=True)
PACKED = solvers.packed.pack_game(GAME)

CALLS = {
    "run": lambda b: solvers.run(GAME, "nash-mp", eta=1.0, iterations=2, backend=b),
    "run_preference_game": lambda b: solvers.run_preference_game(GAME, "nash-mp", eta=1.0,
                                                                 iterations=2, backend=b),
    "solve": lambda b: solvers.solve(GAME, backend=b),
    "run_batched": lambda b: solvers.run_batched(GAME, "nash-mp", eta=1.0, iterations=2, backend=b),
    "fused_prox_step": lambda b: solvers.fused_prox_step(GAME.log_reference[None], np.zeros((1, 4)),
                                                         eta=1.0, beta=0.2,
                                                         log_reference=GAME.log_reference, backend=b),
    "packed.matvec": lambda b: solvers.packed.matvec(PACKED, GAME.reference, backend=b),
    "packed.nash_mp": lambda b: solvers.packed.nash_mp(PACKED, log_reference=GAME.log_reference,
                                                       beta=0.2, eta=1.0, iterations=2, backend=b),
    "solve_mdp": lambda b: solvers.solve_mdp(MDP, backend=b),
    "run_mdp": lambda b: solvers.run_mdp(MDP, "vi", iterations=2, backend=b),
    "solve_robust": lambda b: solvers.solve_robust(MDP, uncertainty="l1:0.1", backend=b),
    "run_robust": lambda b: solvers.run_robust(MDP, "vi", uncertainty="l1:0.1", iterations=2, backend=b),
    "equilibrium": lambda b: solvers.equilibrium(GAME, backend=b),
    "qre": lambda b: solvers.qre(MATRIX, backend=b),
    "run_matrix_game": lambda b: solvers.run_matrix_game(MATRIX, "mmd", eta=0.5, iterations=2,
                                                         backend=b),
    "run_multiplayer": lambda b: solvers.run_multiplayer(GAME, players=3, eta=0.5, iterations=2,
                                                         seed=0, backend=b),
    "solve_markov_game": lambda b: solvers.solve_markov_game(MARKOV, tau=0.1, backend=b),
    "run_markov_game": lambda b: solvers.run_markov_game(MARKOV, "mmd", iterations=2, tau=0.1,
                                                         eta=0.5, backend=b),
}
#: solvers whose calls above have a compiled kernel (the rest run on NumPy only)
COMPILED = {"run", "run_preference_game", "run_batched", "fused_prox_step", "packed.matvec", "packed.nash_mp",
            "solve_mdp", "run_mdp", "solve_robust", "run_robust", "run_matrix_game"}
#: solvers whose set-up above has only a compiled implementation
COMPILED_ONLY = {"solve_robust", "run_robust"}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_solver_takes_backend(name):
    call = CALLS[name]
    call("auto")
    if name not in COMPILED_ONLY:
        call("numpy")
    if name in COMPILED:
        call("numba")
    else:
        with pytest.raises(ValueError, match="backend 'auto' or 'numpy'"):
            call("numba")
    with pytest.raises(ValueError, match="backend must be one of"):
        call("tpu")
    if cuda_unavailable_reason() is not None and name not in COMPILED_ONLY and name != "packed.matvec":
        with pytest.raises(ValueError):
            call("cuda")


def test_every_public_solver_is_covered():
    public = {name for name in solvers.__all__ if name.startswith(("run", "solve"))
              or name in ("equilibrium", "qre", "fused_prox_step")}
    assert public <= set(CALLS)


def test_choose_backend_rule():
    assert choose_backend("auto", compiled=True) == "numba"
    assert choose_backend("auto", compiled=False) == "numpy"
    assert choose_backend("numpy", compiled=True) == "numpy"
    with pytest.raises(ValueError, match="no CUDA here"):
        choose_backend("cuda", compiled=True, reason="no CUDA here")
    with pytest.raises(ValueError, match="needs a kernel"):
        choose_backend("numba", compiled=False, reason="needs a kernel")
    assert set(BACKENDS) == {"auto", "numpy", "numba", "cuda"}
