"""MDP model, benchmark problems and regularizers: validation and exact quantities."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from nashlab.games import mdp_problems as problems
from nashlab.games.mdp import MDP
from nashlab.games.regularizers import KL, Entropy, Tsallis, sparsemax


def _random_mdp(S=5, A=3, gamma=0.9, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S))
    P /= P.sum(-1, keepdims=True)
    return MDP(P, rng.random((S, A)), gamma)


# -- model ------------------------------------------------------------------------------
def test_evaluation_matches_neumann_series_and_sparse_storage():
    mdp = _random_mdp()
    pi = np.random.default_rng(1).dirichlet(np.ones(3), size=5)
    v = mdp.evaluate(pi)
    series, term = np.zeros(5), mdp.r_pi(pi)
    for _ in range(600):
        series, term = series + term, mdp.gamma * mdp.P_pi(pi) @ term
    np.testing.assert_allclose(v, series, atol=1e-12)
    sparse = MDP(sp.csr_matrix(mdp.P.reshape(15, 5)), mdp.r, mdp.gamma)
    np.testing.assert_allclose(sparse.evaluate(pi), v, atol=1e-13)
    np.testing.assert_allclose(sparse.q_values(v), mdp.q_values(v), atol=1e-13)
    np.testing.assert_allclose(sparse.P_pi(pi).toarray(), mdp.P_pi(pi), atol=1e-15)
    np.testing.assert_allclose(mdp.q_policy(pi), mdp.r + mdp.gamma * mdp.P @ v, atol=1e-13)
    # v^π is the fixed point of T_π
    np.testing.assert_allclose(np.sum(pi * mdp.q_values(v), 1), v, atol=1e-12)


def test_integer_actions_policy_and_occupancy():
    mdp = _random_mdp()
    actions = np.array([0, 1, 2, 0, 1])
    pi = mdp.as_policy(actions)
    assert pi.shape == (5, 3) and np.all(pi[np.arange(5), actions] == 1)
    np.testing.assert_allclose(mdp.evaluate(actions), mdp.evaluate(pi))
    rho = np.full(5, 0.2)
    d = mdp.occupancy(pi, rho)
    assert abs(d.sum() - 1) < 1e-13 and d.min() >= 0
    # d = (1−γ) Σ γ^t ρᵀP_π^t
    expect, term = np.zeros(5), rho.copy()
    for _ in range(600):
        expect, term = expect + (1 - mdp.gamma) * term, mdp.gamma * term @ mdp.P_pi(pi)
    np.testing.assert_allclose(d, expect, atol=1e-12)


def test_finite_horizon_evaluation_with_gamma_one():
    P = np.zeros((2, 1, 2))
    P[0, 0, 1] = P[1, 0, 1] = 1.0
    mdp = MDP(P, [[1.0], [2.0]], 1.0, horizon=3)
    np.testing.assert_allclose(mdp.evaluate(np.array([0, 0])), [1 + 2 + 2, 6])


@pytest.mark.parametrize("P, r, gamma, horizon, match", [
    (np.ones((2, 1, 2)) / 2, np.zeros((2, 2)), 0.9, None, "P must have shape"),
    (np.full((2, 1, 2), [0.6, 0.5]), np.zeros((2, 1)), 0.9, None, "sum to 1"),
    (np.array([[[1.5, -0.5]], [[0.5, 0.5]]]), np.zeros((2, 1)), 0.9, None, "non-negative"),
    (np.ones((2, 1, 2)) / 2, np.array([[np.nan], [0.0]]), 0.9, None, "finite"),
    (np.ones((2, 1, 2)) / 2, np.zeros((2, 1)), 1.0, None, "gamma"),
    (np.ones((2, 1, 2)) / 2, np.zeros((2, 1)), -0.1, None, "gamma"),
    (np.ones((2, 1, 2)) / 2, np.zeros((2, 1)), 0.9, 0, "horizon"),
    (np.ones((2, 1, 2)) / 2, np.zeros(2), 0.9, None, "r must have 2 dimensions"),
    (sp.csr_matrix(np.ones((3, 2)) / 2), np.zeros((2, 1)), 0.9, None, "sparse P must have shape"),
])
def test_bad_models_rejected(P, r, gamma, horizon, match):
    with pytest.raises(ValueError, match=match):
        MDP(P, r, gamma, horizon)


def test_bad_types_and_policies_rejected():
    mdp = _random_mdp()
    with pytest.raises(TypeError, match="horizon"):
        MDP(mdp.P, mdp.r, 0.9, horizon=2.5)
    with pytest.raises(TypeError, match="gamma"):
        MDP(mdp.P, mdp.r, "0.9")
    with pytest.raises(ValueError, match="policy rows must sum to 1"):
        mdp.evaluate(np.full((5, 3), 0.3))
    with pytest.raises(ValueError, match="policy must have shape"):
        mdp.evaluate(np.full((5, 2), 0.5))
    with pytest.raises(ValueError, match="actions must lie"):
        mdp.evaluate(np.array([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match="v must have shape"):
        mdp.q_values(np.zeros(4))
    with pytest.raises(ValueError, match="rho"):
        mdp.occupancy(np.array([0] * 5), np.full(5, 0.3))


# -- problems ---------------------------------------------------------------------------
def test_riverswim_spec():
    mdp = problems.riverswim(6, gamma=0.9)
    P, r = mdp.P, mdp.r
    assert P[3, 0, 2] == 1 and P[0, 0, 0] == 1
    assert (P[3, 1, 4], P[3, 1, 3], P[3, 1, 2]) == (0.35, 0.6, 0.05)
    assert (P[0, 1, 0], P[0, 1, 1]) == (0.4, 0.6) and (P[5, 1, 5], P[5, 1, 4]) == (0.6, 0.4)
    assert r[0, 0] == 0.005 and r[5, 1] == 1 and np.count_nonzero(r) == 2


def test_machine_replacement_spec():
    mdp = problems.machine_replacement()
    P, r = mdp.P, mdp.r
    assert mdp.gamma == 0.8 and mdp.n_states == 10
    np.testing.assert_allclose(P[2, 0, [2, 3]], [0.2, 0.8])
    np.testing.assert_allclose(r[6, 0], 0.8 * -20)           # wait at 6 enters 7
    np.testing.assert_allclose(r[0, 1], 0.6 * -2 + 0.1 * -10)  # repair: 1 (.3), 9 (.6), 8 (.1)
    np.testing.assert_allclose(r[7, 1], 0.3 * -20 + 0.6 * -2 + 0.1 * -10)
    np.testing.assert_allclose(r[9, 0], 0.2 * -2)
    assert P[7, 0, 7] == 1 and P[9, 1, 9] == 1 and r[8, 0] == -10


def test_garnet_branching_seed_and_sparse():
    a = problems.garnet(12, 3, 4, seed=7)
    b = problems.garnet(12, 3, 4, seed=7, sparse=True)
    np.testing.assert_array_equal(a.P, b.dense_P())
    assert np.all(np.count_nonzero(a.P, axis=-1) <= 4)
    assert np.all(np.count_nonzero(a.P, axis=-1) >= 1)
    assert not np.array_equal(a.P, problems.garnet(12, 3, 4, seed=8).P)
    with pytest.raises(ValueError, match="branching"):
        problems.garnet(3, 2, 4, seed=0)


def test_forest_and_gridworld():
    f = problems.forest(S=3, r1=4, r2=2, p=0.1)
    np.testing.assert_allclose(f.P[0, 0], [0.1, 0.9, 0])
    np.testing.assert_allclose(f.P[2, 0], [0.1, 0, 0.9])
    np.testing.assert_allclose(f.r, [[0, 0], [0, 1], [4, 2]])
    g = problems.gridworld()
    assert g.n_states == 25 and g.n_actions == 4
    assert g.P[0, 0, 0] == 1          # bounce off the top wall
    assert g.r[3, 1] == 1.0 and g.r[8, 1] == -1.0 and g.r[0, 0] == -0.01
    assert g.P[4, 2, 4] == 1 and np.all(g.r[[4, 9]] == 0)   # goal and pit absorbing
    with pytest.raises(ValueError, match="goal"):
        problems.gridworld(goal=(5, 0))


class _FakeEnv:
    """The structure of gymnasium's toy-text envs: env.unwrapped.P[s][a] = [(p, s', r, done)]."""

    def __init__(self):
        self.P = {0: {0: [(0.5, 1, 0.0, False), (0.5, 1, 0.0, False)],
                      1: [(1.0, 2, 1.0, True)]},
                  1: {0: [(1.0, 0, 0.5, False)], 1: [(0.3, 2, 1.0, True), (0.7, 1, 0.0, False)]},
                  2: {0: [(1.0, 2, 0.0, True)], 1: [(1.0, 2, 0.0, True)]}}
        self.unwrapped = self


def test_from_gymnasium_structure():
    mdp = problems.from_gymnasium(_FakeEnv(), gamma=0.9)
    assert mdp.n_states == 4  # three states + the absorbing terminal
    np.testing.assert_allclose(mdp.P[0, 0], [0, 1, 0, 0])
    np.testing.assert_allclose(mdp.P[1, 1], [0, 0.7, 0, 0.3])
    np.testing.assert_allclose(mdp.r[1, 1], 0.3)
    np.testing.assert_allclose(mdp.P[3, :, 3], 1)
    with pytest.raises(TypeError, match="unwrapped.P"):
        problems.from_gymnasium(object(), gamma=0.9)


# -- regularizers -----------------------------------------------------------------------
REGULARIZERS = [Entropy(0.3), KL(0.5, [0.2, 0.3, 0.5]), Tsallis(0.7)]


@pytest.mark.parametrize("reg", REGULARIZERS, ids=repr)
@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31))
def test_conjugate_is_the_max_and_greedy_attains_it(reg, seed):
    """Ω*(q) = ⟨∇Ω*(q), q⟩ − Ω(∇Ω*(q)) ≥ ⟨p, q⟩ − Ω(p) for all p (Fenchel–Young)."""
    rng = np.random.default_rng(seed)
    q = 3 * rng.standard_normal((4, 3))
    g = reg.greedy(q)
    np.testing.assert_allclose(g.sum(-1), 1, atol=1e-14)
    attained = np.sum(g * q, -1) - reg.value(g)
    np.testing.assert_allclose(reg.conjugate(q), attained, atol=1e-12)
    for p in rng.dirichlet(np.ones(3), size=(20, 4)):
        assert np.all(np.sum(p * q, -1) - reg.value(p) <= reg.conjugate(q) + 1e-12)
    # gradient of Ω* by central differences
    h = 1e-6
    e = np.zeros(3)
    e[1] = h
    fd = (reg.conjugate(q + e) - reg.conjugate(q - e)) / (2 * h)
    np.testing.assert_allclose(fd, g[:, 1], atol=1e-6)
    # Ω*(q + c) = Ω*(q) + c
    np.testing.assert_allclose(reg.conjugate(q + 2.5), reg.conjugate(q) + 2.5, atol=1e-12)


def test_log_space_at_extreme_scales():
    q = np.array([[1e6, 0.0, -1e6]])
    for reg in (Entropy(1e-3), KL(1e-3, [0.2, 0.3, 0.5])):
        assert np.all(np.isfinite(reg.conjugate(q)))
        log_g = reg.greedy_log(q)
        assert log_g[0, 0] == 0.0 and log_g[0, 2] < -1e8
    np.testing.assert_allclose(Entropy(1e-3).conjugate(q), [1e6])


def test_sparsemax_is_the_euclidean_projection():
    rng = np.random.default_rng(0)
    for _ in range(50):
        z = rng.standard_normal(5) * 2
        p = sparsemax(z)
        assert abs(p.sum() - 1) < 1e-14 and p.min() >= 0
        # KKT: z − p = θ on the support, ≤ θ off it
        theta = (z - p)[p > 0]
        assert np.ptp(theta) < 1e-12 and np.all((z - p)[p == 0] <= theta[0] + 1e-12)


def test_regularizer_bad_inputs():
    with pytest.raises(ValueError, match="tau"):
        Entropy(0.0)
    with pytest.raises(TypeError, match="tau"):
        Tsallis("1")
    with pytest.raises(ValueError, match="reference_policy"):
        KL(0.1, [0.5, 0.6])
    with pytest.raises(ValueError, match="reference_policy"):
        KL(0.1, [[[1.0]]])


# -- infeasible pairs (issue 14) ------------------------------------------------------------
def _two_state(feasible):
    P = np.zeros((2, 2, 2))
    P[0, 0] = (0.5, 0.5)
    P[1, 0] = (0.0, 1.0)
    P[1, 1] = (1.0, 0.0)
    return MDP(P, np.array([[1.0, 0.0], [0.0, 2.0]]), 0.9, feasible=feasible)


def test_feasible_mask_is_explicit_and_validated():
    mdp = _two_state(np.array([[True, False], [True, True]]))
    assert not mdp.feasible.flags.writeable and "3 feasible pairs" in repr(mdp)
    q = mdp.q_values(np.zeros(2))
    assert np.isneginf(q[0, 1]) and np.isfinite(q[1]).all()
    np.testing.assert_array_equal(mdp.uniform_policy(), [[1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_array_equal(mdp.policy_backup(mdp.uniform_policy(), np.ones(2)),
                                  [1.0 + 0.9, 1.0 + 0.9])
    assert problems.riverswim().feasible is None


@pytest.mark.parametrize("feasible, error, match", [
    (np.array([[1, 0], [1, 1]]), TypeError, "feasible must be None or an \\(S, A\\) bool array"),
    (np.ones((2, 3), dtype=bool), ValueError, r"feasible must have shape \(S, A\) = \(2, 2\)"),
    (np.array([[False, False], [True, True]]), ValueError, r"states \[0\] have none"),
    (np.array([[False, True], [True, True]]), ValueError, "rows P.* of infeasible pairs must be zero"),
])
def test_feasible_mask_errors(feasible, error, match):
    with pytest.raises(error, match=match):
        _two_state(feasible)


def test_infeasible_pairs_store_nothing():
    P = np.zeros((2, 2, 2))
    P[0, 0], P[1, :] = (0.5, 0.5), (0.0, 1.0)
    with pytest.raises(ValueError, match="r must be 0 at the infeasible pairs"):
        MDP(P, np.array([[1.0, 3.0], [0.0, 2.0]]), 0.9,
            feasible=np.array([[True, False], [True, True]]))
    with pytest.raises(ValueError, match="must sum to 1"):  # a feasible pair with a zero row
        MDP(P, np.zeros((2, 2)), 0.9)
