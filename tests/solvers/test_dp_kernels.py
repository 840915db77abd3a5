"""The compiled sparse Bellman operator equals the NumPy reference, and the solvers that use
it (solve_mdp, run_mdp "vi") give the reference's results with backend="numba"."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nashlab.games.mdp import MDP
from nashlab.games.mdp_problems import garnet, riverswim
from nashlab.games.regularizers import KL, Entropy, Tsallis
from nashlab.solvers.bellman import bellman_operator
from nashlab.solvers.dp import run_mdp, solve_mdp


def _regularizer(kind, tau, S, A, seed):
    if kind == "none":
        return None
    if kind == "entropy":
        return Entropy(tau)
    reference = np.random.default_rng(seed).dirichlet(np.full(A, 0.3), size=S)
    if kind == "kl-sparse-reference":  # zero reference mass: log μ = −∞ entries
        reference = np.zeros((S, A))
        reference[:, 0] = 1.0
    return KL(tau, reference)


@settings(max_examples=25, deadline=None)
@given(S=st.integers(1, 40), A=st.integers(1, 6), b=st.integers(1, 5), seed=st.integers(0, 2**16),
       kind=st.sampled_from(["none", "entropy", "kl", "kl-sparse-reference"]),
       tau=st.sampled_from([1e-4, 0.1, 10.0]), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_numba_bellman_matches_numpy(S, A, b, seed, kind, tau, scale):
    """T v to 1e-14 relative (+1e-12·scale): max, τ·logsumexp(q/τ), τ·logsumexp(log μ + q/τ)."""
    mdp = garnet(S, A, min(b, S), seed=seed, gamma=0.97, sparse=True)
    v = np.random.default_rng(seed).normal(size=S) * scale
    reg = _regularizer(kind, tau, S, A, seed)
    ours = bellman_operator(mdp, v, reg, backend="numba")
    reference = bellman_operator(mdp, v, reg, backend="numpy")
    np.testing.assert_allclose(ours, reference, rtol=1e-14, atol=1e-12 * max(1.0, scale))
    np.testing.assert_array_equal(bellman_operator(mdp, v, reg), ours)  # auto picks the kernel


@pytest.mark.parametrize("kind", ["none", "entropy", "kl"])
def test_solvers_give_the_reference_results_with_the_kernel(kind):
    mdp = garnet(300, 8, 6, seed=3, gamma=0.95, sparse=True)
    reg = _regularizer(kind, 0.2, 300, 8, 3)
    fast, ref = solve_mdp(mdp, regularizer=reg), solve_mdp(mdp, regularizer=reg, backend="numpy")
    assert fast.certified and ref.certified
    np.testing.assert_allclose(fast.values, ref.values, rtol=0, atol=1e-11)
    vi_fast = run_mdp(mdp, "vi", iterations=40, regularizer=reg, solution=ref, backend="numba")
    vi_ref = run_mdp(mdp, "vi", iterations=40, regularizer=reg, solution=ref, backend="numpy")
    assert vi_fast.params["backend"] == "numba" and vi_ref.params["backend"] == "numpy"
    np.testing.assert_allclose(vi_fast["value_error"], vi_ref["value_error"], rtol=0, atol=1e-11)


def test_backend_validation():
    dense = riverswim(6, gamma=0.9)
    v = np.zeros(6)
    np.testing.assert_allclose(bellman_operator(dense, v), dense.r.max(axis=1))  # auto: numpy for dense
    with pytest.raises(ValueError, match="backend must be one of"):
        bellman_operator(dense, v, backend="gpu")
    with pytest.raises(ValueError, match="needs a sparse"):
        bellman_operator(dense, v, backend="numba")
    sparse = garnet(5, 2, 2, seed=0, sparse=True)
    with pytest.raises(ValueError, match="Entropy or KL"):
        bellman_operator(sparse, np.zeros(5), Tsallis(0.1), backend="numba")
    with pytest.raises(ValueError, match="method 'vi'"):
        run_mdp(sparse, "pi", iterations=2, backend="numba")
    assert run_mdp(sparse, "pi", iterations=2).params["backend"] == "numpy"
    with pytest.raises(ValueError, match="infinite horizon"):
        solve_mdp(MDP(sparse.P, sparse.r, 1.0, horizon=3), backend="numba")
    with pytest.raises(ValueError):
        bellman_operator(sparse, np.zeros(4))
