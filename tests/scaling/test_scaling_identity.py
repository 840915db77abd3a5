"""The neural updates are the tabular ones: losses from the prox step, identity with
``nashlab.solvers.run`` when each inner problem is solved to convergence."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")
pytest.importorskip("safetensors")

from nashlab import solvers  # noqa: E402
from nashlab.games import random_preference, random_reference  # noqa: E402
from nashlab.scaling import (  # noqa: E402
    SequenceGame,
    Trainer,
    losses,
)
from nashlab.scaling.oracles import MatrixOracle  # noqa: E402
from nashlab.scaling.policies import TabularPolicy, geometric_mixture  # noqa: E402
from nashlab.solvers.equilibrium import equilibrium  # noqa: E402
from nashlab.solvers.prox import eta_from_mirror_descent, prox_step  # noqa: E402

torch.set_num_threads(1)
STEPS = 6
EXACT = dict(estimator="exact", optimizer="lbfgs", lr=1.0, inner_steps=200, steps=STEPS,
             progress=False)
ETAS = {"nash-mp": 2.0, "nash-md": 0.5, "egpo": 0.8, "omd": 0.5}


def _tabular_trainer(game, **options):
    policy = TabularPolicy(game.log_reference)
    reference = TabularPolicy(game.log_reference)
    return Trainer(policy, MatrixOracle(game), reference=reference,
                   equilibrium=equilibrium(game).policy, beta=game.beta, **options)


@pytest.mark.parametrize("method", ["nash-mp", "nash-md", "egpo", "omd"])
@pytest.mark.parametrize("loss", ["regression", "pg"])
def test_identity_with_tabular_solver_on_sequence_game(method, loss):
    game = SequenceGame(4, 3, "cyclic", beta=0.2, reference_scale=0.7, seed=1)
    pg = game.preference_game()
    trainer = Trainer.for_sequence_game(game, "tabular", algorithm=method, eta=ETAS[method],
                                        beta=0.2, loss=loss, **EXACT)
    trainer.train()
    ours = np.array([h["kl"] for h in trainer.history])
    ref = solvers.run(pg, method, eta=ETAS[method], iterations=STEPS)["kl"]
    assert ours.shape == ref.shape
    assert np.max(np.abs(ours - ref)) <= 1e-6
    assert ours[-1] < ours[0]  # it moved: not a trivially equal pair of constants


@pytest.mark.parametrize("method", ["nash-mp", "egpo"])
def test_identity_on_random_preference_game(method):
    game = random_preference(12, beta=0.05, reference=random_reference(12, seed=4), seed=5)
    trainer = _tabular_trainer(game, algorithm=method, eta=ETAS[method], **EXACT)
    trainer.train()
    ref = solvers.run(game, method, eta=ETAS[method], iterations=STEPS)
    assert np.max(np.abs(np.array([h["kl"] for h in trainer.history]) - ref["kl"])) <= 1e-6
    assert np.allclose(trainer.policy.log_probs_all().exp().detach().numpy(), ref.policy, atol=1e-7)


def test_regression_target_is_the_prox_steps_log_ratio():
    rng = np.random.default_rng(0)
    la, g, lm = (np.log(rng.dirichlet(np.ones(7))), rng.uniform(size=7),
                 np.log(rng.dirichlet(np.ones(7))))
    full = prox_step(la, g, eta=1.3, beta=0.4, log_reference=lm)
    a, b = np.array([0, 3, 6]), np.array([5, 3, 1])
    t = lambda x: torch.from_numpy(x)  # noqa: E731
    ratio = losses.prox_log_ratio(t(la[a]), t(la[b]), t(g[a]), t(g[b]), t(lm[a]), t(lm[b]),
                                  eta=1.3, beta=0.4)
    assert np.allclose(ratio.numpy(), full[a] - full[b], atol=1e-14)


def test_exact_losses_vanish_only_at_the_prox_step():
    rng = np.random.default_rng(1)
    target = torch.from_numpy(np.log(rng.dirichlet(np.ones(9))))
    shifted = target + 3.0  # the regression loss ignores the normaliser
    assert losses.exact_regression_loss(target, shifted).item() <= 1e-28
    assert abs(losses.exact_kl_loss(target, shifted).item()) <= 1e-14
    other = torch.log_softmax(target + torch.from_numpy(rng.normal(size=9)), -1)
    assert losses.exact_regression_loss(other, target).item() > 1e-3
    assert losses.exact_kl_loss(other, target).item() > 1e-3


def test_policy_gradient_estimates_the_kl_gradient():
    """E_{y~π_θ}[∇(−A(y)·log π_θ(y))] = ∇KL(π_θ‖π⁺) with A = log π⁺ − log π_θ − mean."""
    rng = np.random.default_rng(2)
    theta = torch.tensor(rng.normal(size=6), requires_grad=True)
    target = torch.from_numpy(rng.normal(size=6))
    logp = torch.log_softmax(theta, -1)
    p = logp.detach().exp()
    # expectation of the surrogate over y ~ π_θ, taken exactly (weights p, no baseline bias:
    # a constant baseline has zero expected gradient)
    advantage = target - logp.detach()
    surrogate = -(p * advantage * logp).sum()
    (g_pg,) = torch.autograd.grad(surrogate, theta)
    (g_kl,) = torch.autograd.grad(losses.exact_kl_loss(torch.log_softmax(theta, -1), target), theta)
    assert torch.allclose(g_pg, g_kl, atol=1e-12)


def test_geometric_mixture_is_the_prox_step_with_zero_payoff():
    rng = np.random.default_rng(3)
    lp, lq = (torch.from_numpy(np.log(rng.dirichlet(np.ones(5)))) for _ in range(2))
    w = 0.3
    direct = torch.log_softmax((1 - w) * lp + w * lq, -1)
    assert torch.allclose(geometric_mixture(lp, lq, w), direct, atol=1e-14)
    as_prox = prox_step(lp.numpy(), np.zeros(5), eta=eta_from_mirror_descent(w, 1.0), beta=1.0,
                        log_reference=lq.numpy())
    assert np.allclose(as_prox, direct.numpy(), atol=1e-14)


def test_sampled_regression_converges_to_the_exact_step_on_average():
    """With sampled pairs and opponents, one Nash-MP step of the tabular policy lands near
    the exact step (sampling noise only): a check that the sampled targets are unbiased."""
    game = SequenceGame(4, 2, "cyclic", beta=0.2, seed=0)
    trainer = Trainer.for_sequence_game(game, "tabular", algorithm="omd", eta=1.0, beta=0.2,
                                        estimator="sampled", pairs="uniform", batch_size=20000,
                                        optimizer="lbfgs", lr=1.0, inner_steps=200, steps=1,
                                        progress=False)
    trainer.train()
    ref = solvers.run(game.preference_game(), "omd", eta=1.0, iterations=1)
    got = trainer.policy.log_probs_all().exp().detach().numpy()
    assert np.abs(got - ref.policy).max() < 0.1 * ref.policy.max()
    assert math.isfinite(trainer.history[-1]["loss"])
