"""The preference oracles convert or refuse what they are given and what their judges
answer (issue 11, item 7): no imaginary part dropped, no index wrapped, no text parsed."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nashlab.games import rps  # noqa: E402
from nashlab.scaling import SequenceGame  # noqa: E402
from nashlab.scaling.oracles import (  # noqa: E402
    BradleyTerryOracle,
    CallableOracle,
    MatrixOracle,
    SequenceGameOracle,
)

A, B = torch.tensor([0, 1]), torch.tensor([1, 2])


@pytest.mark.parametrize("answer", [
    lambda n: np.full(n, 0.5 + 0.1j),
    lambda n: np.full(n, 0.5 + 0j),  # complex dtype even with a zero imaginary part
    lambda n: torch.full((n,), 0.5 + 0.1j),
    lambda n: ["0.5"] * n,
    lambda n: np.array([object()] * n),
])
def test_callable_oracle_refuses_answers_that_are_not_real_numbers(answer):
    """A TypeError, not a ComplexWarning and a dropped imaginary part."""
    oracle = CallableOracle(lambda c, a, b: answer(len(a)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="CallableOracle's answer must be"):
            oracle(None, A, B)
    assert oracle.queries == 0


@pytest.mark.parametrize("answer, expected", [
    (lambda n: [0.25] * n, [0.25, 0.25]),
    (lambda n: np.array([True, False][:n]), [1.0, 0.0]),
    (lambda n: torch.full((n,), 0.75, dtype=torch.float32), [0.75, 0.75]),
])
def test_callable_oracle_converts_real_answers(answer, expected):
    out = CallableOracle(lambda c, a, b: answer(len(a)))(None, A, B)
    assert out.dtype == torch.float64
    np.testing.assert_array_equal(out.numpy(), expected)


def test_bradley_terry_refuses_a_complex_reward():
    with pytest.raises(TypeError, match="reward must be real numbers"):
        BradleyTerryOracle(lambda c, r: r * 1j)(None, A, B)


@pytest.mark.parametrize("a, error, match", [
    (torch.tensor([-1, 0]), ValueError, r"responses must lie in \[0, 3\)"),  # wrapped to 2
    (torch.tensor([3, 0]), ValueError, r"responses must lie in \[0, 3\)"),
    (torch.tensor([0.0, 1.0]), TypeError, "integer indices"),
    (torch.tensor([True, False]), TypeError, "integer indices"),
])
def test_matrix_oracle_refuses_indices_outside_the_game(a, error, match):
    oracle = MatrixOracle(rps(beta=0.1))
    with pytest.raises(error, match=match):
        oracle(None, a, B)


def test_matrix_oracle_reads_the_matrix():
    game = rps(beta=0.1)
    out = MatrixOracle(game)(None, [0, 1, 2], [1, 2, 0])
    np.testing.assert_array_equal(out.numpy(), np.asarray(game.P)[[0, 1, 2], [1, 2, 0]])


def test_sequence_oracle_refuses_tokens_outside_the_vocabulary():
    """Token −1 would alias another sequence: [1, −1] is index 3·1 − 1 = 2 = [0, 2]."""
    oracle = SequenceGameOracle(SequenceGame(3, 2))
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, 3\)"):
        oracle(None, torch.tensor([[1, -1]]), torch.tensor([[0, 0]]))
