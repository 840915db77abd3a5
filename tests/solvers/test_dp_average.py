"""The average-reward criterion (``solve_mdp(mdp, criterion="average")``, issue 14).

Ground truth: closed forms worked out by hand (stationary distributions), pymdptoolbox's
RelativeValueIteration docstring values (and live), the LP against relative VI, and the
vanishing-discount limit g = lim_{γ→1} (1 − γ) v*_γ (Puterman 1994 Cor. 8.2.5), which uses
only the discounted solver."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nashlab.games.mdp import MDP
from nashlab.games.mdp_problems import garnet
from nashlab.solvers.dp import solve_mdp
from nashlab.solvers.dp_average import policy_gain_bias, recurrent_classes

SMALL_P = np.array([[[0.5, 0.5], [0.8, 0.2]], [[0.0, 1.0], [0.1, 0.9]]])  # example.small()
SMALL_R = np.array([[5.0, 10.0], [-1.0, 2.0]])


@pytest.mark.parametrize("method", ["relative-vi", "lp"])
def test_small_gain_and_bias_by_hand(method):
    """Policy (1, 0): s0 → s1 (r 10), s1 → s0 w.p. .8 (r −1); ν = (4/9, 5/9), g = 35/9;
    h0 − h1 = 10 − g and νh = 0. pymdptoolbox's RVI docstring: 3.8852352464118312 after its
    ε = .01 stop, policy (1, 0)."""
    sol = solve_mdp(MDP.from_pymdptoolbox(SMALL_P, SMALL_R, 0.9), criterion="average",
                    method=method)
    g = 35 / 9
    np.testing.assert_allclose(sol.params["gain"], [g, g], rtol=1e-13)
    d = 10 - g
    np.testing.assert_allclose(sol.values, [5 / 9 * d, -4 / 9 * d], rtol=1e-12)
    assert sol.certified and tuple(np.argmax(sol.policy, axis=1)) == (1, 0)
    assert abs(3.8852352464118312 - g) < 0.01  # their ε
    assert sol.params["structure"] == "constant gain" and sol.params["recurrent_classes"] == 1
    assert sol.params["criterion"] == "average"


def test_forest_gain_from_the_pymdptoolbox_docstring_and_live():
    P = np.zeros((2, 3, 3))
    P[0, :, 0] = 0.1
    P[0, [0, 1, 2], [1, 2, 2]] += 0.9
    P[1, :, 0] = 1.0
    R = np.array([[0.0, 0.0], [0.0, 1.0], [4.0, 2.0]])
    sol = solve_mdp(MDP.from_pymdptoolbox(P, R, 0.9), criterion="average")
    np.testing.assert_allclose(sol.params["gain"], 3.24, rtol=1e-12)  # 3.2399999999999993
    assert tuple(np.argmax(sol.policy, axis=1)) == (0, 0, 0)
    mdptoolbox = pytest.importorskip("mdptoolbox.mdp")
    example = pytest.importorskip("mdptoolbox.example")
    for P, R in (example.forest(S=5, p=0.2), example.small()):
        rvi = mdptoolbox.RelativeValueIteration(P, R, epsilon=1e-10)
        rvi.run()
        ours = solve_mdp(MDP.from_pymdptoolbox(P, R, 0.5), criterion="average")
        np.testing.assert_allclose(ours.params["gain"], rvi.average_reward, rtol=1e-8)


def test_multichain_is_detected_and_solved_by_the_lp():
    """s0 chooses between absorbing s1 (reward 1) and s2 (reward 2): g* = (2, 1, 2)."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = P[0, 1, 2] = 1.0
    P[1, :, 1] = P[2, :, 2] = 1.0
    mdp = MDP(P, np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), 0.9)
    with pytest.raises(ValueError, match="multichain: the optimal gain depends on the state"):
        solve_mdp(mdp, criterion="average")
    sol = solve_mdp(mdp, criterion="average", method="lp")
    np.testing.assert_allclose(sol.params["gain"], [2.0, 1.0, 2.0], rtol=1e-12)
    assert sol.certified and np.argmax(sol.policy[0]) == 1
    assert sol.params["structure"].startswith("multichain")
    assert sol.params["recurrent_classes"] == 2


def test_periodic_chain_and_infeasible_actions():
    """A 2-cycle (periodic: plain relative VI oscillates; the aperiodicity transform does not):
    g = 2, h = (−.5, .5). With an infeasible pair the gain is over the feasible actions."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 1] = P[1, 0, 0] = 1.0
    P[0, 1, 0] = 1.0  # s0 may stay (reward 5) — made infeasible below
    r = np.array([[1.0, 5.0], [3.0, 0.0]])
    feasible = np.array([[True, False], [True, False]])
    P[0, 1] = 0.0
    r[0, 1] = 0.0
    mdp = MDP(P, r, 0.9, feasible=feasible)
    for method in ("relative-vi", "lp"):
        sol = solve_mdp(mdp, criterion="average", method=method)
        np.testing.assert_allclose(sol.params["gain"], [2.0, 2.0], rtol=1e-12)
        np.testing.assert_allclose(sol.values, [-0.5, 0.5], rtol=1e-12)
        assert sol.certified and np.all(sol.policy[~feasible] == 0.0)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), S=st.integers(1, 6), A=st.integers(1, 3))
def test_relative_vi_lp_and_the_vanishing_discount_limit_agree(seed, S, A):
    mdp = garnet(S, A, S, seed=seed, gamma=0.5)  # full support: unichain, aperiodic
    rvi = solve_mdp(mdp, criterion="average")
    lp = solve_mdp(mdp, criterion="average", method="lp")
    assert rvi.certified and lp.certified
    np.testing.assert_allclose(rvi.params["gain"], lp.params["gain"], rtol=1e-9, atol=1e-12)
    gamma = 1 - 1e-6
    v = solve_mdp(MDP(mdp.P, mdp.r, gamma)).values
    # |(1 − γ)v_γ − g| ≤ (1 − γ)‖h‖ + o(1 − γ)
    bound = (1 - gamma) * (2 * np.max(np.abs(rvi.values)) + 1.0)
    assert np.max(np.abs((1 - gamma) * v - rvi.params["gain"][0])) <= bound
    g, h = policy_gain_bias(mdp, rvi.policy)  # g + h = r_π + P_π h, νh = 0
    P_pi = mdp.P_pi(rvi.policy)
    np.testing.assert_allclose(g + h, mdp.r_pi(rvi.policy) + P_pi @ h, atol=1e-12)
    assert recurrent_classes(P_pi) == 1


def test_average_errors():
    mdp = MDP.from_pymdptoolbox(SMALL_P, SMALL_R, 0.9)
    with pytest.raises(ValueError, match="method must be one of .*criterion='average'"):
        solve_mdp(mdp, criterion="average", method="vi")
    with pytest.raises(ValueError, match="criterion must be 'discounted' or 'average'"):
        solve_mdp(mdp, criterion="total")
    with pytest.raises(ValueError, match="nominal, unregularized"):
        solve_mdp(mdp, criterion="average", uncertainty="l1:0.1")
    with pytest.raises(ValueError, match="infinite-horizon"):
        solve_mdp(MDP(mdp.P, mdp.r, 0.9, horizon=3), criterion="average")
