"""Hypothesis strategies for finite MDPs and zero-sum Markov games, exported so users can
property-test their own claims::

    from hypothesis import given
    from nashlab.theory.mdp_strategies import mdps

    @given(mdps(gamma_max=0.99))
    def test_my_claim(mdp): ...

Families of ``mdps``:
* "garnet"             Garnet(S, A, b) with b ∈ [1, S] (dense storage);
* "sparse"             Garnet with b ≤ 3 stored as a scipy.sparse (S·A, S) matrix;
* "near-deterministic" each row (1 − ε)·(a point mass) + ε·(a Garnet row), ε ∈ {1e-9, 1e-3}.
Rewards are U(0, 1) (the [0, 1] range several theorems assume), optionally with a third of
the entries set to 0 ("sparse rewards"). γ is drawn from a grid up to ``gamma_max``.

Requires the ``dev`` extra (hypothesis).
"""

import numpy as np
from hypothesis import strategies as st

from nashlab.games.markov_game import random_markov_game
from nashlab.games.mdp import MDP
from nashlab.games.mdp_problems import garnet

FAMILIES = ("garnet", "sparse", "near-deterministic")
GAMMAS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)


def _mdp(family, S, A, seed, gamma, sparse_rewards):
    rng = np.random.default_rng(seed)
    if family == "garnet":
        base = garnet(S, A, int(rng.integers(1, S + 1)), rng, gamma)
        P = base.P
    elif family == "sparse":
        base = garnet(S, A, int(rng.integers(1, min(S, 3) + 1)), rng, gamma, sparse=True)
        P = base.P
    elif family == "near-deterministic":
        base = garnet(S, A, int(rng.integers(1, S + 1)), rng, gamma)
        eps = float(rng.choice([1e-9, 1e-3]))
        point = np.zeros((S, A, S))
        point[np.arange(S)[:, None], np.arange(A)[None, :], rng.integers(S, size=(S, A))] = 1.0
        P = (1.0 - eps) * point + eps * base.P
    else:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    r = rng.random((S, A))
    if sparse_rewards:
        r[rng.random((S, A)) < 1 / 3] = 0.0
    return MDP(P, r, gamma)


@st.composite
def mdps(draw, S_min=2, S_max=12, A_min=2, A_max=4, gamma_min=0.0, gamma_max=0.99,
         families=None) -> MDP:
    """An MDP from one of ``families`` with S ∈ [S_min, S_max], A ∈ [A_min, A_max] and γ on
    ``GAMMAS`` restricted to [gamma_min, gamma_max]."""
    family = draw(st.sampled_from(tuple(families or FAMILIES)))
    S = draw(st.integers(S_min, S_max))
    A = draw(st.integers(A_min, A_max))
    gammas = [g for g in GAMMAS if gamma_min <= g <= gamma_max]
    if not gammas:
        raise ValueError(f"no γ of {GAMMAS} lies in [{gamma_min}, {gamma_max}]")
    gamma = draw(st.sampled_from(gammas))
    seed = draw(st.integers(0, 2**32 - 1))
    return _mdp(family, S, A, seed, gamma, draw(st.booleans()))


@st.composite
def markov_games(draw, S_max=4, A_max=3, gamma_max=0.9):
    """A random zero-sum Markov game (rewards U(0, 1), random branching) with S ≤ S_max,
    A, B ≤ A_max and γ ∈ {0, 0.5, 0.8, 0.9} ∩ [0, gamma_max]."""
    S = draw(st.integers(1, S_max))
    A = draw(st.integers(2, A_max))
    B = draw(st.integers(2, A_max))
    gamma = draw(st.sampled_from([g for g in (0.0, 0.5, 0.8, 0.9) if g <= gamma_max]))
    seed = draw(st.integers(0, 2**32 - 1))
    branching = draw(st.integers(1, S))
    return random_markov_game(S, A, B, gamma, seed=seed, branching=branching)
