"""The compiled sparse Bellman operator equals the NumPy reference."""

import numpy as np
import pytest

from nashlab.games.mdp_problems import garnet, riverswim
from nashlab.games.regularizers import Entropy
from nashlab.solvers.dp import bellman_operator


@pytest.mark.parametrize(("S", "A", "b"), [(1, 1, 1), (2, 3, 1), (17, 4, 5), (300, 10, 10)])
def test_numba_bellman_matches_numpy(S, A, b):
    mdp = garnet(S, A, b, seed=S, gamma=0.97, sparse=True)
    v = np.random.default_rng(S).normal(size=S) * 10
    ours = bellman_operator(mdp, v, backend="numba")
    reference = bellman_operator(mdp, v, backend="numpy")
    np.testing.assert_allclose(ours, reference, rtol=1e-14, atol=1e-12)
    np.testing.assert_array_equal(bellman_operator(mdp, v), ours)  # auto picks the kernel


def test_backend_validation():
    dense = riverswim(6, gamma=0.9)
    v = np.zeros(6)
    np.testing.assert_allclose(bellman_operator(dense, v), dense.r.max(axis=1))  # auto: numpy for dense
    with pytest.raises(ValueError, match="backend must be"):
        bellman_operator(dense, v, backend="gpu")
    with pytest.raises(ValueError, match="needs a sparse MDP"):
        bellman_operator(dense, v, backend="numba")
    sparse = garnet(5, 2, 2, seed=0, sparse=True)
    with pytest.raises(ValueError, match="no regularizer"):
        bellman_operator(sparse, np.zeros(5), Entropy(0.1), backend="numba")
    with pytest.raises(ValueError):
        bellman_operator(sparse, np.zeros(4))
