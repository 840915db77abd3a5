"""The MDP and robust-MDP families on the one API: keyword-only options, hyphenated method
names, unknown options as TypeErrors naming them, ``track``, ``init``, the common params
schema on every Solution and Trajectory, and their JSON / NPZ round trips."""

import json
import subprocess
import sys

import numpy as np
import pytest

from nashlab.games.mdp import MDP
from nashlab.games.mdp_problems import garnet, riverswim
from nashlab.games.regularizers import KL, Entropy, Tsallis
from nashlab.games.uncertainty import KLBall, L1Ball, LpBall
from nashlab.solvers import dp_methods, robust_methods
from nashlab.solvers.dp import run_mdp, solve_mdp
from nashlab.solvers.methods import get_method, methods
from nashlab.solvers.results import Solution, Trajectory
from nashlab.solvers.robust import run_robust, solve_robust

#: keys of the one params schema (nashlab.solvers.results) and of the MDP families
COMMON_KEYS = {"family", "method", "backend", "n_actions", "n_states", "batch_shape"}
MDP_KEYS = COMMON_KEYS | {"gamma", "iterations", "horizon", "regularizer", "tau"}
ROBUST_KEYS = MDP_KEYS | {"uncertainty", "rectangularity", "kernels_in_simplex"}

MODEL = riverswim(5, gamma=0.8)
#: (method, regularizer, method options) covering every MDP method
MDP_RUNS = [
    ("vi", None, {}), ("vi", Tsallis(0.5), {}), ("pi", Entropy(0.1), {}), ("mpi", None, {"m": 2}),
    ("md-mpi", None, {"lam": 0.5}), ("npg-entropy", Entropy(0.2), {"q_noise": 1e-3}),
    ("pmd", KL(0.2, [0.3, 0.7]), {}), ("npg", None, {"step_growth": 1.1, "rho": np.full(5, 0.2)}),
]
ROBUST_RUNS = [("vi", L1Ball(0.2), {}), ("pi", L1Ball(0.4, "s"), {}),
               ("rpmd", KLBall(0.1), {"step_growth": 1.2})]


def _assert_schema(params, keys, family, method, iterations=None):
    assert keys <= set(params), sorted(keys - set(params))
    assert params["family"] == family and params["method"] == method
    assert params["n_states"] == MODEL.n_states and params["n_actions"] == MODEL.n_actions
    assert params["batch_shape"] == [] and params["gamma"] == MODEL.gamma
    assert params["backend"] in ("numpy", "numba")
    assert "S" not in params and "n" not in params  # the old names are gone
    if iterations is not None:
        assert params["iterations"] == iterations
    json.dumps(params)


# -- hyphenated names, one table ----------------------------------------------------------
def test_method_names_are_hyphenated_and_match_the_table():
    assert set(dp_methods.METHODS) == set(methods("mdp"))
    assert set(robust_methods.METHODS) == set(methods("robust-mdp"))
    for name in methods("mdp") + methods("robust-mdp"):
        assert "_" not in name
    assert {"md-mpi", "npg-entropy"} <= set(methods("mdp"))
    for old in ("md_mpi", "npg_entropy", "robust_vi"):
        with pytest.raises(ValueError, match="method must be one of"):
            run_mdp(MODEL, old, iterations=1)
    with pytest.raises(ValueError, match="method must be one of"):
        run_robust(MODEL, "robust_vi", uncertainty="l1:0.1", iterations=1)


def test_robust_runs_are_named_by_method_with_the_robust_family():
    traj = run_robust(MODEL, "vi", uncertainty="l1:0.1", iterations=3)
    assert traj.method == "vi" and traj.params["method"] == "vi"
    assert traj.params["family"] == "robust-mdp"


# -- signatures: problem first, options keyword-only ----------------------------------------
def test_options_are_keyword_only():
    with pytest.raises(TypeError, match="positional"):
        solve_mdp(MODEL, Entropy(0.1))
    with pytest.raises(TypeError, match="positional"):
        solve_robust(MODEL, L1Ball(0.1))
    with pytest.raises(TypeError, match="positional"):
        run_mdp(MODEL, "vi", 3)
    with pytest.raises(TypeError, match="uncertainty"):
        run_robust(MODEL, "vi", iterations=3)  # uncertainty is required
    with pytest.raises(TypeError, match="uncertainty"):
        solve_robust(MODEL)


@pytest.mark.parametrize("call, option, method", [
    (lambda: run_mdp(MODEL, "vi", iterations=2, bogus=1), "bogus", "vi"),
    (lambda: run_mdp(MODEL, "vi", iterations=2, eta=1.0), "eta", "vi"),
    (lambda: run_mdp(MODEL, "pi", iterations=2, seed=0), "seed", "pi"),
    (lambda: run_mdp(MODEL, "vi", iterations=2, m=3), "m", "vi"),  # an option of mpi
    (lambda: run_mdp(MODEL, "vi", iterations=2, initial_values=np.zeros(5)), "initial_values", "vi"),
    (lambda: run_mdp(MODEL, "npg", iterations=2, initial_policy=None), "initial_policy", "npg"),
    (lambda: run_robust(MODEL, "vi", uncertainty="l1:0.1", iterations=2, eta=1.0), "eta", "vi"),
    (lambda: run_robust(MODEL, "rpmd", uncertainty="l1:0.1", iterations=2, seed=1), "seed", "rpmd"),
    (lambda: run_robust(MODEL, "pi", uncertainty="l1:0.1", iterations=2, bogus=1), "bogus", "pi"),
])
def test_unknown_option_is_a_type_error_naming_option_and_method(call, option, method):
    with pytest.raises(TypeError, match=f"method '{method}' .*unknown option.*{option}"):
        call()


def test_run_mdp_points_robust_runs_to_run_robust():
    with pytest.raises(TypeError, match="unknown option uncertainty.*run_robust"):
        run_mdp(MODEL, "vi", iterations=2, uncertainty="l1:0.1")


def test_unknown_option_is_checked_before_any_work():
    """The TypeError comes from the method table, not from a private function's signature."""
    with pytest.raises(TypeError) as info:
        run_mdp(MODEL, "npg-entropy", iterations=2, regularizer=Entropy(0.1), bogus=1)
    assert "_run" not in str(info.value) and "(mdp)" in str(info.value)
    assert get_method("mdp", "npg-entropy").options == ("q_noise",)


def test_bad_common_arguments_name_themselves():
    with pytest.raises(TypeError, match="regularizer"):
        solve_mdp(MODEL, regularizer="entropy")
    with pytest.raises(TypeError, match="regularizer"):
        run_mdp(MODEL, "vi", iterations=2, regularizer=0.1)
    with pytest.raises(TypeError, match="solution"):
        run_mdp(MODEL, "vi", iterations=2, solution={"values": np.zeros(5)})
    with pytest.raises(ValueError, match="solution"):
        run_mdp(MODEL, "vi", iterations=2, solution=solve_mdp(riverswim(6, gamma=0.8)))
    with pytest.raises(TypeError, match="max_iterations"):
        solve_mdp(MODEL, max_iterations=2.5)
    with pytest.raises(ValueError, match="max_iterations"):
        solve_robust(MODEL, uncertainty="l1:0.1", max_iterations=0)


# -- init, eta, seed, track ---------------------------------------------------------------
def test_init_is_the_initial_values_or_policy_as_documented():
    sol = solve_mdp(MODEL)
    v0 = np.full(5, 3.0)
    evaluated = np.zeros(5, dtype=int)
    pe_sol = solve_mdp(MODEL, method="policy-evaluation", policy=evaluated)
    for method in dp_methods.VALUE_INIT:  # vi, gauss-seidel, mpi, md-mpi start from v_0
        # policy-evaluation too, for its policy= and against that policy's exact value
        extra = {"policy": evaluated} if method == "policy-evaluation" else {}
        truth = pe_sol if method == "policy-evaluation" else sol
        traj = run_mdp(MODEL, method, iterations=2, init=v0, solution=truth, **extra)
        assert traj.params["init"] == "given"
        key = "policy_value_error" if method == "md-mpi" else "value_error"
        if method != "md-mpi":
            assert traj[key][0] == pytest.approx(np.max(np.abs(v0 - truth.values)))
        with pytest.raises(ValueError, match="init must have shape"):
            run_mdp(MODEL, method, iterations=2, init=np.zeros(4), solution=truth, **extra)
    assert run_mdp(MODEL, "vi", iterations=2).params["init"] == "zeros"
    actions = np.zeros(5, dtype=int)  # π_0 = always "left"
    traj = run_mdp(MODEL, "pi", iterations=1, init=actions, solution=sol)
    assert traj["value_error"][0] == pytest.approx(np.max(np.abs(MODEL.evaluate(actions) - sol.values)))
    assert run_mdp(MODEL, "npg", iterations=1).params["init"] == "uniform"
    with pytest.raises(ValueError, match="init"):
        run_mdp(MODEL, "npg", iterations=1, init=np.ones((5, 2)))  # rows sum to 2
    robust = run_robust(MODEL, "rpmd", uncertainty="l1:0.1", iterations=1, init=actions)
    assert robust.params["init"] == "given"
    with pytest.raises(ValueError, match="init must have shape"):
        run_robust(MODEL, "vi", uncertainty="l1:0.1", iterations=1, init=np.zeros(2))


def test_eta_and_seed_reach_the_method():
    reg = Entropy(0.5)
    spi = (1 - MODEL.gamma) / reg.tau
    traj = run_mdp(MODEL, "npg-entropy", iterations=3, regularizer=reg, eta=0.5 * spi,
                   q_noise=1e-2, seed=7)
    assert traj.params["eta"] == 0.5 * spi and traj.params["seed"] == 7
    again = run_mdp(MODEL, "npg-entropy", iterations=3, regularizer=reg, eta=0.5 * spi,
                    q_noise=1e-2, seed=7)
    other = run_mdp(MODEL, "npg-entropy", iterations=3, regularizer=reg, eta=0.5 * spi,
                    q_noise=1e-2, seed=8)
    np.testing.assert_array_equal(traj["q_error"], again["q_error"])
    assert not np.array_equal(traj["q_error"], other["q_error"])
    assert run_mdp(MODEL, "npg", iterations=1).params["eta"] == 1.0  # default η_0
    assert run_mdp(MODEL, "npg", iterations=1, eta=2.5).params["eta"] == 2.5
    assert run_robust(MODEL, "rpmd", uncertainty="kl:0.1", iterations=1, eta=0.3).params["eta"] == 0.3


def test_track_selects_metrics():
    full = run_mdp(MODEL, "mpi", iterations=3, m=2)
    assert set(full.metrics) == {"value_error", "policy_value_error"}  # None: the default
    only = run_mdp(MODEL, "mpi", iterations=3, m=2, track=["policy_value_error"])
    assert set(only.metrics) == {"policy_value_error"}
    np.testing.assert_array_equal(only["policy_value_error"], full["policy_value_error"])
    assert set(run_mdp(MODEL, "vi", iterations=1, track=()).metrics) == set()
    with pytest.raises(ValueError, match="track.*'vi'.*regret.*records: value_error"):
        run_mdp(MODEL, "vi", iterations=1, track=["regret"])
    with pytest.raises(TypeError, match="track"):
        run_mdp(MODEL, "vi", iterations=1, track="value_error")
    robust = run_robust(MODEL, "vi", uncertainty="l1:0.1", iterations=2, track={"value_error"})
    assert set(robust.metrics) == {"value_error"}
    with pytest.raises(ValueError, match="track"):
        run_robust(MODEL, "vi", uncertainty="l1:0.1", iterations=2, track=["q_error"])


# -- the params schema on every result ------------------------------------------------------
def _solutions():
    finite = MDP(MODEL.P, MODEL.r, MODEL.gamma, horizon=3)
    yield "howard-pi", "mdp", solve_mdp(MODEL)
    yield "regularized-pi", "mdp", solve_mdp(MODEL, regularizer=KL(0.3, [0.5, 0.5]))
    yield "backward-induction", "mdp", solve_mdp(finite, regularizer=Entropy(0.1))
    yield "robust-pi", "robust-mdp", solve_mdp(MODEL, uncertainty="l1:0.2")
    yield "robust-pi", "robust-mdp", solve_robust(MODEL, uncertainty=L1Ball(0.3, "s"))
    yield "robust-pi", "robust-mdp", solve_robust(MODEL, uncertainty=LpBall(2, 0.01, "s"))
    yield "robust-pi", "robust-mdp", solve_robust(MODEL, uncertainty=KLBall(0.1),
                                                  regularizer=Entropy(0.2))


def test_every_solution_carries_the_schema():
    for method, family, sol in _solutions():
        keys = ROBUST_KEYS if family == "robust-mdp" else MDP_KEYS
        _assert_schema(sol.params, keys, family, method)
        assert sol.method == method and sol.iterations == sol.params["iterations"] >= 1
        assert sol.gap is None and sol.certified


@pytest.mark.parametrize("method, reg, options", MDP_RUNS, ids=lambda x: str(x))
def test_every_mdp_trajectory_carries_the_schema(method, reg, options):
    traj = run_mdp(MODEL, method, iterations=4, regularizer=reg, **options)
    _assert_schema(traj.params, MDP_KEYS | {"init", "r_min", "r_max"}, "mdp", method, 4)
    assert traj.method == method
    assert traj.params["regularizer"] == (None if reg is None else reg.name)
    assert traj.params["tau"] == (None if reg is None else reg.tau)
    assert all(v.shape == (5,) for v in traj.metrics.values())


@pytest.mark.parametrize("method, unc, options", ROBUST_RUNS, ids=lambda x: str(x))
def test_every_robust_trajectory_carries_the_schema(method, unc, options):
    traj = run_robust(MODEL, method, uncertainty=unc, iterations=4, **options)
    _assert_schema(traj.params, ROBUST_KEYS | {"init"}, "robust-mdp", method, 4)
    assert traj.params["uncertainty"] == type(unc).__name__
    assert traj.params["rectangularity"] == unc.rectangularity


# -- round trips ---------------------------------------------------------------------------
def _assert_same_solution(a, b):
    assert (a.certified, a.residual, a.gap, a.message, a.params) == (
        b.certified, b.residual, b.gap, b.message, b.params)
    for name in ("policy", "logits", "values", "q"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("index", range(7))
def test_solution_json_and_npz_round_trip(index, tmp_path):
    _, _, sol = list(_solutions())[index]
    _assert_same_solution(Solution.from_json(sol.to_json()), sol)
    path = tmp_path / "solution.npz"
    sol.save(path)
    _assert_same_solution(Solution.load(path), sol)


def test_trajectory_json_and_npz_round_trip(tmp_path):
    sparse = garnet(6, 2, 2, seed=1, gamma=0.9, sparse=True)
    for traj in (run_mdp(sparse, "npg", iterations=3, eta=0.5),
                 run_robust(MODEL, "pi", uncertainty="l1s:0.3", iterations=2)):
        for back in (Trajectory.from_json(traj.to_json()), None):
            if back is None:
                traj.save(tmp_path / "traj.npz")
                back = Trajectory.load(tmp_path / "traj.npz")
            assert back.method == traj.method and back.params == traj.params
            assert set(back.metrics) == set(traj.metrics)
            for name in traj.metrics:
                np.testing.assert_array_equal(back[name], traj[name])
            np.testing.assert_array_equal(back.policy, traj.policy)


# -- layering ---------------------------------------------------------------------------------
def _fresh(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.split()


def test_compiled_kernels_load_on_first_use():
    """Importing the MDP solvers loads none of their numba kernels; the first robust solve
    with a compiled oracle loads the (s,a)-rectangular one, an s-rectangular L1 set the other."""
    out = _fresh(
        "import sys\n"
        "from nashlab.solvers import dp, robust, robust_oracles\n"
        "K = ['nashlab.solvers._kernels_robust_sa', 'nashlab.solvers._kernels_robust_s',"
        " 'nashlab.solvers._kernels_dp']\n"
        "print(*[k in sys.modules for k in K])\n"
        "from nashlab.games.mdp_problems import riverswim\n"
        "robust.solve_robust(riverswim(4), uncertainty='l1:0.1')\n"
        "print(*[k in sys.modules for k in K])\n"
        "robust.solve_robust(riverswim(4), uncertainty='l1s:0.1')\n"
        "print(*[k in sys.modules for k in K])\n")
    assert out == ["False"] * 3 + ["True", "False", "False"] + ["True", "True", "False"]


def test_importing_the_games_does_not_load_numba():
    assert _fresh("import sys, nashlab.games; print('numba' in sys.modules)") == ["False"]
