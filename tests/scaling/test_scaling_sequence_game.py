"""The exactly solvable sequence game (NumPy only: runs without the neural extra)."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nashlab.games import exploitability, win_probabilities
from nashlab.scaling import SequenceGame
from nashlab.scaling.sequence_game import FAMILIES
from nashlab.solvers.equilibrium import equilibrium


def _has_cycle(P):
    """A 3-cycle a ≻ b ≻ c ≻ a among the strict majority preferences."""
    W = P > 0.5
    return bool(np.any(np.trace(np.linalg.matrix_power(W.astype(float), 3)) > 0))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("vocab,length", [(4, 3), (2, 8)])
def test_enumerated_game_is_certified(family, vocab, length):
    game = SequenceGame(vocab, length, family, beta=0.1, reference_scale=0.5, seed=3)
    pg = game.preference_game()
    assert 64 <= pg.n == vocab ** length <= 4096
    assert np.all(np.abs(pg.P + pg.P.T - 1) <= 1e-15)
    eq = equilibrium(pg)
    assert eq.certified and eq.residual <= 1e-12
    assert float(exploitability(pg, eq.policy)) <= 1e-13
    # the fixed point π* ∝ μ·exp(Pπ*/β), checked directly
    z = np.log(pg.reference) + win_probabilities(pg, eq.policy) / pg.beta
    assert np.allclose(np.exp(z - z.max()) / np.exp(z - z.max()).sum(), eq.policy, atol=1e-12)


def test_cyclic_families_are_intransitive_and_bradley_terry_is_not():
    assert _has_cycle(SequenceGame(4, 3, "cyclic", seed=0).P)
    assert _has_cycle(SequenceGame(4, 3, "random", seed=0).P)
    assert not _has_cycle(SequenceGame(4, 3, "bradley-terry", seed=0).P)


def test_largest_game_enumerates():
    game = SequenceGame(2, 12, "bradley-terry", seed=0)
    assert game.n == 4096 and game.sequences.shape == (4096, 12)


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 5), st.integers(1, 4), st.integers(0, 2 ** 31))
def test_index_round_trip_and_product_reference(vocab, length, seed):
    game = SequenceGame(vocab, length, "bradley-terry", reference_scale=1.0, seed=seed)
    assert np.array_equal(game.index(game.sequences), np.arange(game.n))
    assert abs(game.reference.sum() - 1) <= 1e-12
    # μ factorises over positions: μ(y) = Π_t μ_t(y_t)
    per_position = np.exp(game.token_log_reference)[np.arange(length), game.sequences].prod(-1)
    assert np.allclose(per_position, game.reference, rtol=1e-12)


def test_same_seed_same_game():
    a, b = SequenceGame(3, 4, "annotators", seed=7), SequenceGame(3, 4, "annotators", seed=7)
    assert np.array_equal(a.P, b.P)
    assert not np.array_equal(a.P, SequenceGame(3, 4, "annotators", seed=8).P)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"vocab": 1, "length": 3}, ValueError, "vocab"),
    ({"vocab": 4.0, "length": 3}, TypeError, "vocab"),
    ({"vocab": 4, "length": 0}, ValueError, "length"),
    ({"vocab": 4, "length": 7}, ValueError, "4096"),
    ({"vocab": 4, "length": 3, "preference": "nope"}, ValueError, "preference"),
    ({"vocab": 4, "length": 3, "beta": 0.0}, ValueError, "beta"),
    ({"vocab": 4, "length": 3, "beta": -1.0}, ValueError, "beta"),
    ({"vocab": 4, "length": 3, "scale": -1.0}, ValueError, "scale"),
])
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        SequenceGame(**kwargs)


def test_bad_tokens():
    game = SequenceGame(4, 3, seed=0)
    with pytest.raises(ValueError, match="tokens"):
        game.index(np.array([[0, 1, 4]]))
    with pytest.raises(ValueError, match="tokens"):
        game.index(np.array([[0, 1]]))


def test_importing_scaling_does_not_import_torch():
    code = "import sys, nashlab, nashlab.scaling; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
