"""EGPO's tabular methods (zhourunlong/EGPO simulations/): its losses, differentiated by torch
autograd and stepped by SGD with lr, equal nashlab's methods with the steps of
``reproductions.egpo_steps`` iterate by iterate; the new methods online-ipo-2 and nash-md-pg
and nash-md's mixture_weight; EGPO's dual gap is nashlab's duality_gap."""

import numpy as np
import pytest

import nashlab
from nashlab import games
from nashlab.solvers.methods import get_method

torch = pytest.importorskip("torch")

N, BETA, LR, STEPS = 6, 0.1, 0.1, 12


def _game(seed=0, beta=BETA):
    reference = games.random_reference(N, seed=seed + 100)
    return games.random_preference(N, beta=beta, reference=reference, seed=seed)


def _contrast_loss(theta, log_ref, g, beta):
    """Σ_ij ((r_i − r_j) − (g_i − g_j)/β)² / N², r = log softmax θ − log μ (OMD, EGPO, Nash-MD)."""
    r = torch.log_softmax(theta, 0) - log_ref
    d = r - g / beta
    return ((d[:, None] - d[None, :]) ** 2).sum() / theta.numel() ** 2


def _egpo_reference(method, game, lr, steps):
    """EGPO's SGD on its losses (written from simulations/loss_funcs.py), float64."""
    P = torch.tensor(game.P)
    log_ref = torch.tensor(game.log_reference)
    beta, n = game.beta, game.n
    w = 2 * lr / n  # true_lr·β with true_lr = 2·lr/(βN)
    theta = log_ref.clone().requires_grad_(True)
    out = []
    for _ in range(steps):
        pi = torch.softmax(theta, 0).detach()
        log_pi = torch.log_softmax(theta, 0).detach()
        if method == "omd":
            loss = _contrast_loss(theta, log_ref, P @ pi, beta)
        elif method == "egpo":
            grad, = torch.autograd.grad(_contrast_loss(theta, log_ref, P @ pi, beta), theta)
            half = torch.softmax(theta - lr * grad, 0).detach()
            loss = _contrast_loss(theta, log_ref, P @ half, beta)
        elif method in ("nash-md", "nash-md-pg"):
            mix = torch.softmax((1 - w) * log_pi + w * log_ref, 0)
            g = P @ mix
            if method == "nash-md":
                loss = _contrast_loss(theta, log_ref, g, beta)
            else:
                lp = torch.log_softmax(theta, 0)
                loss = -(pi * (g - beta * (log_pi - log_ref)) * lp).sum()
        elif method == "online-ipo-2":
            r = torch.log_softmax(theta, 0) - log_ref
            c = (r[:, None] - r[None, :]) - (P - 0.5) / beta
            loss = pi @ (c ** 2) @ pi
        grad, = torch.autograd.grad(loss, theta)
        with torch.no_grad():
            theta -= lr * grad
        out.append(torch.log_softmax(theta, 0).detach().numpy().copy())
    return np.stack(out)


@pytest.mark.parametrize("method", ["omd", "egpo", "nash-md", "online-ipo-2", "nash-md-pg"])
@pytest.mark.parametrize("lr, beta", [(0.1, 0.1), (0.02, 0.01)])
def test_egpo_sgd_equals_the_nashlab_method_with_the_mapped_step(method, lr, beta):
    from nashlab.experiments.reproductions import egpo_steps

    game = _game(beta=beta)
    expected = _egpo_reference(method, game, lr, STEPS)
    eta, options = egpo_steps(lr, beta, N)[method]
    ours = []
    for T in range(1, STEPS + 1):
        traj = nashlab.run(game, method, eta=eta, iterations=T, track=(), backend="numpy", **options)
        ours.append(np.log(traj.policy))
    np.testing.assert_allclose(np.stack(ours), expected, rtol=0, atol=1e-12)


def test_egpo_dual_gap_is_duality_gap():
    game = _game()
    pi = np.exp(_egpo_reference("omd", game, LR, 3)[-1])
    P, log_ref, beta = game.P, game.log_reference, game.beta

    def kl(log_p):
        return float(np.exp(log_p) @ (log_p - log_ref))

    def value(l1, l2):  # EGPO utils.game_value
        return float(np.exp(l1) @ P @ np.exp(l2)) - beta * kl(l1) + beta * kl(l2)

    z = log_ref + P @ pi / beta
    response = z - np.log(np.exp(z - z.max()).sum()) - z.max()
    gap = value(response, np.log(pi)) - value(np.log(pi), response)
    assert float(nashlab.duality_gap(game, pi)) == pytest.approx(gap, rel=1e-10, abs=1e-15)


def test_new_methods_are_table_rows_with_their_compositions():
    assert get_method("preference", "online-ipo-2").composition == "single"
    assert get_method("preference", "nash-md-pg").composition == "mixture"
    assert "mixture_weight" in get_method("preference", "nash-md").options
    assert get_method("preference", "online-ipo-2").step_form == "policy-gradient"


def test_policy_gradient_methods_converge_to_the_equilibrium():
    """Against g(π_t) the PG fixed point is π*_β; against the mixture (w > 0, constant step)
    Nash-MD-PG stalls at a biased point, as Nash-MD's constant step does."""
    game = _game()
    for method, eta, options in (("online-ipo-2", 4.0, {}), ("nash-md-pg", 4.0, {"mixture_weight": 0.0})):
        traj = nashlab.run(game, method, eta=eta, iterations=3000, track=("kl",), **options)
        assert traj["kl"][-1] < 1e-6 * traj["kl"][0], method
        assert traj["queries"][-1] == 3000
    biased = nashlab.run(game, "nash-md-pg", eta=4.0, iterations=3000, track=("kl",), mixture_weight=0.1)
    assert biased["kl"][-1] > 1e-6 * biased["kl"][0]
    assert abs(biased["kl"][-1] - biased["kl"][-2]) < 1e-12  # a fixed point, not π*_β


def test_mixture_weight_of_nash_md():
    game = _game()
    munos = nashlab.run(game, "nash-md", eta=0.4, iterations=20, track=("kl",), backend="numpy")
    same = nashlab.run(game, "nash-md", eta=0.4, iterations=20, track=("kl",), mixture_weight=0.4 * BETA)
    np.testing.assert_allclose(same.policy, munos.policy, rtol=0, atol=1e-14)
    assert same.params["backend"] == "numpy" and same.params["mixture_weight"] == pytest.approx(0.04)
    half = nashlab.run(game, "nash-md", eta=0.4, iterations=20, track=("kl",), mixture_weight=0.02)
    assert np.max(np.abs(half.policy - munos.policy)) > 1e-6
    with pytest.raises(ValueError, match="mixture_weight"):
        nashlab.run(game, "nash-md", eta=0.4, iterations=2, mixture_weight=1.5)
    with pytest.raises(ValueError):
        nashlab.run(game, "nash-md", eta=0.4, iterations=2, mixture_weight=0.02, backend="numba")
    with pytest.raises(TypeError, match="mixture_weight"):
        nashlab.run(game, "omd", eta=0.4, iterations=2, mixture_weight=0.02)


def test_egpo_tabular_replays_given_games_through_the_sweep_layer(tmp_path):
    pytest.importorskip("distributed")
    pd = pytest.importorskip("pandas")
    from distributed import Client, LocalCluster

    from nashlab.experiments.reproductions import EGPO_METHODS, egpo_tabular, reproduce

    rng = np.random.default_rng(5)
    P = np.stack([games.random_preference(4, seed=s).P for s in range(2)])
    np.savez(tmp_path / "g.npz", P=P, reference_logits=rng.standard_normal((2, 4)))
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        paths = egpo_tabular(tmp_path / "out", client, tmp_path / "g.npz", betas=[0.1], iterations_scale=0.02)
    curves = pd.read_parquet(tmp_path / "out" / "curves.parquet")
    assert {"game", "beta", "method", "iteration", "duality_gap", "queries"} <= set(curves.columns)
    assert set(curves["method"]) == set(EGPO_METHODS.values()) and set(curves["game"]) == {0, 1}
    assert len(curves) == 6 * 2 * 21
    # game 1 replayed: its first duality gap is that of the reference policy of the file's game 1
    z = np.load(tmp_path / "g.npz")["reference_logits"][1]
    mu = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    first = curves[(curves.game == 1) & (curves.iteration == 0)]["duality_gap"].to_numpy()
    expected = float(nashlab.duality_gap(games.PreferenceGame(P[1], mu, 0.1), mu))
    np.testing.assert_allclose(first, expected, rtol=1e-13)
    assert (tmp_path / "out" / "summary.md").exists() and all(p.exists() for p in paths)
    with pytest.raises(ValueError, match="name"):
        reproduce("bogus", tmp_path)


def test_the_figure_draws_gaps_as_egpo_does():
    """EGPO's plot_multi_exps: a 10-point moving average, cut before the first value < 1e-6,
    at most 1000 points."""
    from nashlab.experiments.reproductions import egpo_smoothed

    gaps = 10.0 ** -np.arange(20.0)  # 1, 0.1, ..., 1e-19
    t, y = egpo_smoothed(gaps)
    averaged = np.convolve(gaps, np.ones(10), "valid") / 10
    assert len(y) == np.argmax(averaged < 1e-6) and (y >= 1e-6).all()
    np.testing.assert_allclose(y, averaged[:len(y)], rtol=1e-15)
    np.testing.assert_array_equal(t, np.arange(1, len(y) + 1))
    t, flat = egpo_smoothed(np.full(30, 0.3))  # never below: kept whole
    assert len(flat) == 21 and np.allclose(flat, 0.3)
    t, y = egpo_smoothed(np.linspace(1.0, 0.5, 5009))  # 5000 averaged points -> 1000 drawn
    assert len(y) == 1000 and t[0] == 1 and t[-1] == 5000


@pytest.mark.parametrize("content, words", [
    (None, "no such file"),
    (b"family = 'random'\n", "not an NPZ"),
    ({"P": np.zeros((2, 3, 4)), "reference_logits": np.zeros((2, 3))}, "(G, N, N)"),
    ({"P": np.full((1, 3, 3), 0.7), "reference_logits": np.zeros((1, 3))}, "P + P"),
    ({"Q": np.zeros(3)}, "needs arrays"),
])
def test_bad_games_files_are_usage_errors_before_any_work(tmp_path, capsys, content, words):
    pytest.importorskip("distributed")
    from nashlab.cli import main
    from nashlab.experiments import parse_spec

    path = tmp_path / "g.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        np.savez(path, **content)
    assert main(["reproduce", "egpo-tabular", "--games", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--games" in err and words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()  # refused before the output folder and the cluster
    with pytest.raises(ValueError, match="spec key 'games'"):
        parse_spec({"family": "npz", "games": str(path), "method": "nash-mp", "eta": 2.0,
                    "iterations": 3, "track": ["kl"]})
    assert main(["reproduce", "mmd-qre", "--games", str(path), "--out", str(tmp_path / "o")]) == 2
