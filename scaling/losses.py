"""Losses whose minimiser is the prox step: the tabular update rules lifted to networks.

Every algorithm step targets π⁺ = prox_step(π_k, g; η, β, μ) (``nashlab.solvers.prox``),

    log π⁺ = (log π_k + ηβ·log μ + η·g)/(1 + ηβ) − log Z,   g(y) = P(y ≻ π'),

with the opponent π' and the anchor π_k chosen by the algorithm (Nash-MP, Nash-MD, EGPO,
OMD/online IPO/INPO). Two unbiased ways to move π_θ to π⁺ without knowing Z:

1. Pairwise regression (IPO-style). For two responses y, y' the prox step's log-ratio
   log π⁺(y) − log π⁺(y') does not depend on Z; we get it by calling ``prox_step`` on the
   two-response vector (its normaliser cancels in the difference) with g(y), g(y')
   estimated by P(y ≻ y''), P(y' ≻ y'') for one shared y'' ~ π'. The loss

       ½·E[(log π_θ(y) − log π_θ(y') − (log π⁺(y) − log π⁺(y')))²]

   is zero exactly at π_θ = π⁺ (on the support of the pair distribution), covering Nash-MD,
   both Nash-MP half-steps, EGPO's two steps and OMD/online-IPO/INPO.
2. Policy gradient (Nash-MD-PG, Munos et al., arXiv 2312.00886, App. F). The prox
   objective ⟨π, g⟩ − β·KL(π‖μ) − KL(π‖π_k)/η equals −((1 + ηβ)/η)·KL(π‖π⁺) + const, so
   its gradient is E_{y~π_θ}[∇log π_θ(y)·(log π⁺(y) − log π_θ(y))]·(1 + ηβ)/η; the batch
   normaliser of ``prox_step`` is a constant, removed by the mean baseline. At θ = θ_k the
   anchor term vanishes and this is exactly the Nash-MD-PG gradient (scaled).

With exact expectations on an enumerable space (g = Pπ' for every response) the same two
losses are the mean over all pairs ½·(1/n²)Σ_{y,y'}(Δ_y − Δ_{y'})² = (1/n)·Σ(Δ − mean Δ)²,
Δ = log π_θ − log π⁺, and KL(π_θ‖π⁺).
"""

import torch

from nashlab.scaling.policies import prox_torch


def prox_log_ratio(anchor_a, anchor_b, g_a, g_b, reference_a, reference_b, *, eta, beta):
    """log π⁺(a) − log π⁺(b) of the prox step, from ``prox_step`` on the pair (a, b)."""
    pair = prox_torch(torch.stack([anchor_a, anchor_b], -1), torch.stack([g_a, g_b], -1),
                      eta=eta, beta=beta,
                      log_reference=torch.stack([reference_a, reference_b], -1))
    return pair[..., 0] - pair[..., 1]


def pairwise_regression_loss(logp_a, logp_b, target_log_ratio):
    """½·mean((log π_θ(a) − log π_θ(b) − target)²)."""
    return 0.5 * torch.mean((logp_a - logp_b - target_log_ratio.to(logp_a)) ** 2)


def prox_log_targets(anchor_logp, g, reference_logp, *, eta, beta):
    """log π⁺(y_i) + c for a batch of responses (one unknown constant c for the batch)."""
    return prox_torch(anchor_logp, g, eta=eta, beta=beta, log_reference=reference_logp)


def centred_advantage(targets, logp):
    """A(y) − mean A with A = log π⁺(y) − log π_θ(y) (no gradient): the mean baseline
    removes the batch's unknown constant in ``targets``."""
    advantage = targets.to(logp) - logp.detach()
    return advantage - advantage.mean()


def policy_gradient_loss(logp, advantage):
    """Surrogate −mean(A·log π_θ(y)) for y ~ π_θ: its gradient is a REINFORCE estimate of
    ∇KL(π_θ‖π⁺) (with ``advantage`` from ``centred_advantage``)."""
    return -torch.mean(advantage.to(logp) * logp)


def exact_regression_loss(logp_all, target_all):
    """The pairwise regression loss over all pairs, uniformly: (1/n)·Σ(Δ − mean Δ)²."""
    d = logp_all - target_all.to(logp_all)
    return torch.mean((d - d.mean()) ** 2)


def exact_kl_loss(logp_all, target_all):
    """KL(π_θ‖π⁺) by enumeration (the policy-gradient form's exact objective)."""
    target = torch.log_softmax(target_all.to(logp_all), -1)
    return torch.sum(logp_all.exp() * (logp_all - target))
