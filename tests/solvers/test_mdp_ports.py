"""The peers' own test models, in their native layouts, solved by nashlab (issue 14).

Arrays and published values are typed in from the peers' docs and test files (cited per
test); where the peer is installed it is also run live. Cases and errors reproduced:

* pymdptoolbox 4.0b3 ``mdptoolbox.example.small()`` (docstring of example.small, (A, S, S)
  layout): PI v* = [42.44, 36.05] at γ = .9 (issue 14), the ValueIteration docstring's
  iterate (40.048625392716815, 33.65371175967546) after its ε = .01 stop (iter 26, policy
  (1, 0)), RelativeValueIteration's gain 3.8852352464118312;
* ``example.forest()`` (docstring of example.forest): PolicyIteration (26.244, 29.484,
  33.484) (docstring, 1e-12), ValueIteration at γ = .96 after 4 iterations (5.93215488,
  9.38815488, 13.38815488) (docstring, 1e-8 as printed), FiniteHorizon N = 3 (printed to
  1e-4), and with a terminal reward h (live);
* QuantEcon 0.11.4 ``markov/tests/test_ddp.py``: Puterman §3.1 (β = .95, action 1 infeasible
  at state 1, R = −inf) in the product form and the state–action-pair form, dense and sparse:
  v* = ((5 − 5.5β)/((1 − .5β)(1 − β)), −1/(1 − β)), σ* = (0, 0), VI within ε/2 (ε = 1e-2);
  Puterman §3.2 / 4.6.1 inventory (β = 1, T = 3, state-dependent action sets): backward
  induction values and policies (assert_allclose / exact); a state without a feasible action
  is a ValueError as in QuantEcon.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from nashlab.games.mdp import MDP
from nashlab.solvers.bellman import bellman_operator
from nashlab.solvers.dp import run_mdp, solve_mdp

# mdptoolbox.example.small(): P[a, s, s'], R[s, a]
SMALL_P = np.array([[[0.5, 0.5], [0.8, 0.2]], [[0.0, 1.0], [0.1, 0.9]]])
SMALL_R = np.array([[5.0, 10.0], [-1.0, 2.0]])


def _forest(S=3, r1=4.0, r2=2.0, p=0.1):
    """mdptoolbox.example.forest() as its docstring types it: P (A, S, S), R (S, A)."""
    P = np.zeros((2, S, S))
    P[0, :, 0] = p
    for s in range(S):
        P[0, s, min(s + 1, S - 1)] += 1 - p
    P[1, :, 0] = 1.0
    R = np.zeros((S, 2))
    R[S - 1, 0] = r1
    R[1:, 1] = 1.0
    R[S - 1, 1] = r2
    return P, R


def _actions(solution):
    return tuple(np.argmax(solution.policy, axis=-1).tolist())


# -- layouts ------------------------------------------------------------------------------------
def test_small_in_pymdptoolbox_layout_gives_its_values_not_the_transposed_ones():
    """S = A = 2: the (A, S, S) array has the shape of an (S, A, S) one. from_arrays with
    layout='ASS' reads it as pymdptoolbox does; the plain constructor reads (S, A, S), as its
    docstring says, and solves another model (the issue's [61.08, 39.46])."""
    right = solve_mdp(MDP.from_arrays(SMALL_P, SMALL_R, 0.9, layout="ASS"))
    np.testing.assert_allclose(right.values, [42.44186046511628, 36.04651162790698], rtol=1e-12)
    assert right.certified and _actions(right) == (1, 0)
    wrong = solve_mdp(MDP(SMALL_P, SMALL_R, 0.9))
    np.testing.assert_allclose(wrong.values, [61.08108108108108, 39.45945945945946], rtol=1e-12)
    assert np.array_equal(MDP.from_pymdptoolbox(SMALL_P, SMALL_R, 0.9).P,
                          MDP.from_arrays(SMALL_P, SMALL_R, 0.9, layout="ASS").P)


def test_layouts_round_trip_and_transition_rewards_fold():
    mdp = MDP.from_arrays(SMALL_P, SMALL_R, 0.9, layout="ASS")
    for layout in ("SAS", "ASS"):
        P, R = mdp.to_arrays(layout=layout)
        back = MDP.from_arrays(P, R, 0.9, layout=layout)
        np.testing.assert_array_equal(back.P, mdp.P)
        np.testing.assert_array_equal(back.r, mdp.r)
        for reward in ("SAS", "ASS"):
            P, R = mdp.to_arrays(layout=layout, reward=reward)
            np.testing.assert_allclose(MDP.from_arrays(P, R, 0.9, layout, reward).r, mdp.r,
                                       rtol=1e-15)
    # transition rewards R(a, s, s'): r(s, a) = Σ_s' P(s'|s, a) R(a, s, s')
    R3 = np.arange(8.0).reshape(2, 2, 2)
    folded = MDP.from_arrays(SMALL_P, R3, 0.9, layout="ASS", reward="ASS").r
    np.testing.assert_allclose(folded, np.einsum("ast,ast->sa", SMALL_P, R3))
    state_rewards = MDP.from_arrays(SMALL_P, np.array([1.0, 2.0]), 0.9, "ASS", "S").r
    np.testing.assert_array_equal(state_rewards, [[1.0, 1.0], [2.0, 2.0]])


@pytest.mark.parametrize("call, match", [
    (lambda: MDP.from_arrays(SMALL_P, SMALL_R, 0.9, layout="SSA"), "layout must be one of"),
    (lambda: MDP.from_arrays(SMALL_P, SMALL_R, 0.9, reward="AS"), "reward must be one of"),
    (lambda: MDP.from_arrays(np.ones((2, 3, 3)) / 3, SMALL_R, 0.9, layout="SAS"),
     r"P in layout 'SAS' must have shape \(S, A, S\)"),
    (lambda: MDP.from_arrays(SMALL_P, np.ones((3, 2)), 0.9, layout="ASS"),
     r"R in reward layout 'SA' must have shape \(2, 2\)"),
    (lambda: MDP(np.ones((2, 3, 3)) / 3, np.ones((3, 2)), 0.9), "layout='ASS'"),
    (lambda: MDP.from_pymdptoolbox(SMALL_P, np.ones((2, 2, 2, 2)), 0.9), "R must have shape"),
])
def test_layout_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- pymdptoolbox, typed-in values and live ----------------------------------------------------
def test_pymdptoolbox_small_value_iteration_stop_and_relative_values():
    """ValueIteration docstring: ε = .01 stops with V = (40.048625392716815, 33.65371175967546)
    after 26 backups, policy (1, 0): its rule is our tol = ε (iterate 25 certified by T v_25)."""
    mdp = MDP.from_pymdptoolbox(SMALL_P, SMALL_R, 0.9)
    run = run_mdp(mdp, "vi", iterations=1000, tol=0.01)
    assert run.params["iterations"] == 25 and run["suboptimality_bound"][-1] <= 0.01
    assert run["suboptimality_bound"][-2] > 0.01
    assert tuple(np.argmax(run.policy, axis=1)) == (1, 0)
    v = np.zeros(2)
    for _ in range(26):
        v = bellman_operator(mdp, v)
    np.testing.assert_allclose(v, [40.048625392716815, 33.65371175967546], rtol=1e-12)
    eps = solve_mdp(mdp, method="vi", tol=0.01)
    assert eps.certified and eps.iterations == 25 and _actions(eps) == (1, 0)
    star = solve_mdp(mdp)
    assert np.max(np.abs(eps.values - star.values)) <= eps.params["value_error_bound"]


def test_pymdptoolbox_forest_pi_vi_and_finite_horizon_from_docstrings():
    P, R = _forest()
    pi = solve_mdp(MDP.from_pymdptoolbox(P, R, 0.9))
    np.testing.assert_allclose(pi.values, (26.244000000000014, 29.484000000000016,
                                           33.484000000000016), rtol=1e-12)
    assert _actions(pi) == (0, 0, 0)
    mdp96, v = MDP.from_pymdptoolbox(P, R, 0.96), np.zeros(3)
    for _ in range(4):
        v = bellman_operator(mdp96, v)
    np.testing.assert_allclose(v, (5.93215488, 9.38815488, 13.38815488), atol=1e-8)
    fh = solve_mdp(MDP.from_pymdptoolbox(P, R, 0.9, horizon=3))
    np.testing.assert_allclose(fh.values, (2.6973, 5.9373, 9.9373), atol=1e-4)
    # fh.policy[s, t] = [[0,0,0],[0,0,1],[0,0,0]]; ours is (t, s, a)
    assert np.argmax(fh.policy, axis=-1).T.tolist() == [[0, 0, 0], [0, 0, 1], [0, 0, 0]]


def test_pymdptoolbox_live_pi_vi_and_finite_horizon_with_terminal_reward():
    mdptoolbox = pytest.importorskip("mdptoolbox.mdp")
    example = pytest.importorskip("mdptoolbox.example")
    for P, R in (example.small(), example.forest(), example.forest(S=6, p=0.3)):
        mdp = MDP.from_pymdptoolbox(P, R, 0.9)
        pi = mdptoolbox.PolicyIteration(P, R, 0.9)
        pi.run()
        ours = solve_mdp(mdp)
        np.testing.assert_allclose(ours.values, pi.V, rtol=1e-12)
        assert _actions(ours) == tuple(pi.policy)
        vi = mdptoolbox.ValueIteration(P, R, 0.9, epsilon=1e-6)
        vi.run()
        eps = solve_mdp(mdp, method="vi", tol=1e-6)
        assert _actions(eps) == tuple(vi.policy)
        rounding = 1e-13 * np.max(np.abs(ours.values))  # the bound is 0 where T v − v is flat
        assert np.max(np.abs(eps.values - ours.values)) <= eps.params["value_error_bound"] + rounding
        h = np.arange(1.0, mdp.n_states + 1)
        fh = mdptoolbox.FiniteHorizon(P, R, 0.9, 4, h=h)
        fh.run()
        finite = solve_mdp(MDP(mdp.P, mdp.r, 0.9, 4, terminal=h))
        np.testing.assert_allclose(finite.values, fh.V[:, 0], rtol=1e-12)
    sparse_P = [sp.csr_matrix(SMALL_P[a]) for a in range(2)]
    np.testing.assert_array_equal(MDP.from_pymdptoolbox(sparse_P, SMALL_R, 0.9).P,
                                  MDP.from_pymdptoolbox(SMALL_P, SMALL_R, 0.9).P)


# -- QuantEcon: infeasible actions ----------------------------------------------------------------
BETA = 0.95
PUTERMAN_V = [(5 - 5.5 * BETA) / ((1 - 0.5 * BETA) * (1 - BETA)), -1 / (1 - BETA)]


def _puterman_31():
    """quantecon/markov/tests/test_ddp.py TestDiscreteDP: (R, Q) product form and SA pairs."""
    R = np.array([[5.0, 10.0], [-1.0, -np.inf]])
    Q = np.empty((2, 2, 2))
    Q[0, 0], Q[0, 1], Q[1, :] = (0.5, 0.5), (0, 1), (0, 1)
    s_idx, a_idx = [0, 0, 1], [0, 1, 0]
    R_sa = [5.0, 10.0, -1.0]
    Q_sa = np.array([Q[0, 0], Q[0, 1], Q[1, 0]])
    return R, Q, s_idx, a_idx, R_sa, Q_sa


def test_quantecon_puterman_31_with_an_infeasible_action_in_every_form():
    R, Q, s_idx, a_idx, R_sa, Q_sa = _puterman_31()
    models = [
        MDP.from_state_action_pairs(s_idx, a_idx, R_sa, Q_sa, BETA),
        MDP.from_state_action_pairs(s_idx, a_idx, R_sa, sp.lil_matrix(Q_sa), BETA),
        MDP.from_state_action_pairs([1, 0, 0], [0, 1, 0], [-1.0, 10.0, 5.0],
                                    Q_sa[[2, 1, 0]], BETA),  # shuffled pairs
        # R = −inf on a listed pair is infeasible too (QuantEcon's convention)
        MDP.from_state_action_pairs([0, 0, 1, 1], [0, 1, 0, 1], [5.0, 10.0, -1.0, -np.inf],
                                    np.vstack([Q_sa, [[0.3, 0.7]]]), BETA),
    ]
    P = np.where(np.isfinite(R)[:, :, None], Q, 0.0)
    models.append(MDP(P, np.where(np.isfinite(R), R, 0.0), BETA, feasible=np.isfinite(R)))
    for mdp in models:
        assert mdp.feasible.tolist() == [[True, True], [True, False]]
        assert mdp.is_sparse or mdp is models[-1]
        if mdp.is_sparse:  # no padding: the infeasible pair's row is empty
            assert mdp.P_flat[3].nnz == 0
        exact = solve_mdp(mdp)
        np.testing.assert_allclose(exact.values, PUTERMAN_V, rtol=1e-12)
        assert exact.certified and _actions(exact) == (0, 0)
        assert exact.policy[1, 1] == 0.0 and np.isneginf(exact.q[1, 1])
        for method in ("vi", "gauss-seidel", "mpi"):
            eps = solve_mdp(mdp, method=method, tol=1e-2)
            assert np.max(np.abs(eps.values - PUTERMAN_V)) < 1e-2 / 2  # QuantEcon: ε/2
            assert _actions(eps) == (0, 0) and eps.certified
        for method, iterations, options in (("vi", 300, {}), ("pi", 5, {}),
                                            ("mpi", 30, {"m": 20}), ("gauss-seidel", 300, {})):
            run = run_mdp(mdp, method, iterations=iterations, solution=exact, **options)
            assert run.policy[1, 1] == 0.0 and np.all(np.isfinite(run["value_error"]))
            assert run["value_error"][-1] < 1e-5


def test_quantecon_live_product_and_pair_forms():
    qe = pytest.importorskip("quantecon.markov")
    R, Q, s_idx, a_idx, R_sa, Q_sa = _puterman_31()
    for ddp in (qe.DiscreteDP(R, Q, BETA), qe.DiscreteDP(R_sa, Q_sa, BETA, s_idx, a_idx),
                qe.DiscreteDP(R_sa, sp.csr_matrix(Q_sa), BETA, s_idx, a_idx)):
        res = ddp.solve(method="policy_iteration")
        ours = solve_mdp(MDP.from_quantecon(ddp))
        np.testing.assert_allclose(ours.values, res.v, rtol=1e-12)
        assert _actions(ours) == tuple(res.sigma)
    ddp = qe.DiscreteDP(R, Q, BETA).to_sa_pair_form()
    s, a, R_back, Q_back = MDP.from_quantecon(ddp).to_state_action_pairs()
    np.testing.assert_array_equal(s, ddp.s_indices)
    np.testing.assert_array_equal(a, ddp.a_indices)
    np.testing.assert_array_equal(R_back, ddp.R)
    np.testing.assert_array_equal(Q_back.toarray(), ddp.Q.toarray())
    P_back, R_prod = MDP.from_quantecon(ddp).to_arrays()
    assert np.isneginf(R_prod[1, 1]) and not P_back[1, 1].any()


def _inventory():
    """quantecon/markov/tests/test_ddp.py TestFiniteHorizon (Puterman §3.2, §4.6.1)."""
    s_idx = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3]
    a_idx = [0, 1, 2, 3, 0, 1, 2, 0, 1, 0]
    R = [0., -1., -2., -5., 5., 0., -3., 6., -1., 5.]
    Q = [[1., 0., 0., 0.], [0.75, 0.25, 0., 0.], [0.25, 0.5, 0.25, 0.], [0., 0.25, 0.5, 0.25],
         [0.75, 0.25, 0., 0.], [0.25, 0.5, 0.25, 0.], [0., 0.25, 0.5, 0.25],
         [0.25, 0.5, 0.25, 0.], [0., 0.25, 0.5, 0.25], [0., 0.25, 0.5, 0.25]]
    return s_idx, a_idx, R, Q


@pytest.mark.filterwarnings("ignore:infinite horizon solution methods are disabled")
def test_quantecon_inventory_finite_horizon_gamma_one_with_action_sets():
    mdp = MDP.from_state_action_pairs(*_inventory(), 1.0, horizon=3)
    sol = solve_mdp(mdp)
    np.testing.assert_allclose(sol.values, [67 / 16, 129 / 16, 194 / 16, 227 / 16], rtol=1e-12)
    assert np.argmax(sol.policy, axis=-1).tolist() == [[3, 0, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0]]
    assert sol.certified and not np.any(sol.policy[:, ~mdp.feasible])
    qe = pytest.importorskip("quantecon.markov")
    vs, sigmas = qe.backward_induction(qe.DiscreteDP(*_inventory()[2:], 1.0, *_inventory()[:2]), 3)
    np.testing.assert_allclose(sol.values, vs[0], rtol=1e-12)
    with pytest.raises(ValueError, match="gamma"):
        MDP.from_state_action_pairs(*_inventory(), 1.0)  # γ = 1 needs a horizon


@pytest.mark.parametrize("args, match", [
    (([0, 0, 2, 2], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0], np.full((4, 3), 1 / 3)),
     r"states \[1\] have none"),  # test_ddp_no_feasible_action_error
    (([0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1], [0, 1, 0, -np.inf, -np.inf, -np.inf],
      np.full((6, 3), 1 / 3)), r"states \[2\] have none"),  # test_ddp_negative_inf_error
    (([0, 0], [0, 0], [1.0, 2.0], np.full((2, 1), 1.0)), "listed twice"),
    (([0, 3], [0, 0], [1.0, 2.0], np.full((2, 2), 0.5)), r"s_indices must lie in \[0, 2\)"),
    (([0, 1], [0, 0], [1.0, np.nan], np.full((2, 2), 0.5)), "R must be finite or −inf"),
    (([0, 1], [0, 0], [1.0, 2.0, 3.0], np.full((2, 2), 0.5)), r"R must be a real array of shape"),
])
def test_state_action_pair_errors(args, match):
    with pytest.raises(ValueError, match=match):
        MDP.from_state_action_pairs(*args, 0.9)
