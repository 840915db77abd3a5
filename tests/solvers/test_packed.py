"""Packed antisymmetric matrices: layout, products (numba, NumPy) and Nash-MP on them.

Float64 products agree with the dense product to 1e-12 (absolute; entries of A·x are at
most ½ for a policy x). Float32 storage: exact to 1e-12 for the rounded matrix, and within
the documented 2⁻²⁵ (+1e-12) of the float64 product.
"""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nashlab.games import random_preference, random_reference
from nashlab.solvers import nlhf
from nashlab.solvers import packed as pk
from nashlab.solvers.oracles import ExactOracle

TOL = 1e-12


def game_and_policy(n, seed, beta=0.1):
    game = random_preference(n, beta=beta, seed=seed,
                             reference=random_reference(n, scale=2.0, seed=seed + 1))
    x = np.random.default_rng(seed).dirichlet(np.ones(n))
    return game, x


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 40), tile=st.sampled_from([4, 8, 16]), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_packed_products_match_dense(n, tile, seed, dtype):
    game, x = game_and_policy(n, seed)
    packed = pk.pack_game(game, dtype=dtype, tile=tile)
    rounded = game.A.astype(dtype).astype(np.float64)
    np.testing.assert_array_equal(packed.to_dense(), rounded)
    for backend in ("numba", "numpy"):
        y = pk.matvec(packed, x, backend=backend)
        np.testing.assert_allclose(y, rounded @ x, rtol=0, atol=TOL)
        np.testing.assert_allclose(y, game.A @ x, rtol=0, atol=2.0**-25 + TOL)


def test_packed_storage_is_half_of_dense():
    n = 512
    game, _ = game_and_policy(n, 0)
    packed64 = pk.pack_game(game)
    dense_bytes = n * n * 8
    assert packed64.nbytes <= 0.57 * dense_bytes  # n²/2 + the diagonal tiles
    assert pk.pack_game(game, dtype=np.float32).nbytes == packed64.nbytes // 2


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 20), beta=st.sampled_from([1e-4, 0.1, 10.0]),
       eta=st.sampled_from([0.5, 2.0, 30.0]), iterations=st.integers(0, 6),
       seed=st.integers(0, 2**16))
@example(n=1, beta=1e-4, eta=2.0, iterations=3, seed=0)
@example(n=2, beta=10.0, eta=30.0, iterations=6, seed=1)
def test_packed_nash_mp_matches_reference(n, beta, eta, iterations, seed):
    game, x = game_and_policy(n, seed, beta)
    state, oracle = nlhf.init_state(game, x), ExactOracle(game)
    for _ in range(iterations):
        state = nlhf.step_nash_mp(state, game, oracle, eta)
    packed = pk.pack_game(game, tile=8)
    scale = max(1.0, float(np.max(np.abs(state.logits))))
    for backend in ("auto", "numba", "numpy"):
        logits = pk.nash_mp(packed, log_reference=game.log_reference, beta=beta, eta=eta,
                            iterations=iterations, init=x, backend=backend)
        np.testing.assert_allclose(logits, state.logits, rtol=0, atol=TOL * scale)


def test_packed_nash_mp_float32_is_exact_for_the_rounded_game():
    """Float32 storage changes the game (A rounded to float32), not the arithmetic."""
    from nashlab.games import PreferenceGame

    n, beta, eta, k = 30, 0.1, 2.0, 10
    game, _ = game_and_policy(n, 3, beta)
    rounded = PreferenceGame.from_payoff(game.A.astype(np.float32).astype(np.float64),
                                         game.reference, beta)
    state, oracle = nlhf.init_state(rounded), ExactOracle(rounded)
    for _ in range(k):
        state = nlhf.step_nash_mp(state, rounded, oracle, eta)
    single = pk.nash_mp(pk.pack_game(game, dtype=np.float32), log_reference=game.log_reference,
                        beta=beta, eta=eta, iterations=k)
    np.testing.assert_allclose(single, state.logits, rtol=0,
                               atol=TOL * max(1.0, float(np.max(np.abs(state.logits)))))


@pytest.mark.parametrize("A, kwargs, error, match", [
    (np.array([[0.0, 0.1], [0.2, 0.0]]), {}, ValueError, "antisymmetric"),
    (np.zeros((2, 3)), {}, ValueError, "square"),
    (np.zeros(3), {}, ValueError, "2 dimensions"),
    (np.zeros((2, 2)), {"dtype": np.int32}, ValueError, "dtype must be float64 or float32"),
    (np.zeros((2, 2)), {"tile": 6}, ValueError, "tile must be a positive multiple of 4"),
    (np.array([[0.0, np.nan], [np.nan, 0.0]]), {}, ValueError, "finite"),
])
def test_pack_rejects_bad_input(A, kwargs, error, match):
    with pytest.raises(error, match=match):
        pk.pack(A, **kwargs)


def test_packed_functions_reject_bad_input():
    game, x = game_and_policy(4, 0)
    packed = pk.pack_game(game)
    with pytest.raises(ValueError, match=r"x must have shape \(4,\)"):
        pk.matvec(packed, np.ones(3))
    with pytest.raises(ValueError, match="the packed product runs on the CPU"):
        pk.matvec(packed, x, backend="cuda")
    with pytest.raises(TypeError, match="packed must be a PackedAntisymmetric"):
        pk.matvec(game.A, x)
    with pytest.raises(ValueError, match="single game"):
        pk.pack_game(random_preference(3, batch_shape=(2,), seed=0))
    with pytest.raises(TypeError, match="game must be a PreferenceGame"):
        pk.pack_game(game.P)
    with pytest.raises(ValueError, match="iterations must be ≥ 0"):
        pk.nash_mp(packed, log_reference=game.log_reference, beta=0.1, eta=1.0, iterations=-1)
    with pytest.raises(ValueError, match=r"log_reference must have shape \(4,\)"):
        pk.nash_mp(packed, log_reference=np.zeros(3), beta=0.1, eta=1.0, iterations=1)
    with pytest.raises(ValueError, match="backend must be one of"):
        pk.nash_mp(packed, log_reference=game.log_reference, beta=0.1, eta=1.0, iterations=1,
                   backend="jax")
    with pytest.raises(ValueError, match="init must be strictly positive"):
        pk.nash_mp(packed, log_reference=game.log_reference, beta=0.1, eta=1.0, iterations=1,
                   init=np.array([0.0, 0.5, 0.25, 0.25]))
