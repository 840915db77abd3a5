"""The trainer's metrics: KL(π_θ‖μ), the win rate P(π_θ ≻ μ), KL(π*‖π_θ) given π*, and the
inexactness δ_k of the last prox step.

Every KL reported here is non-negative by construction:

- enumerable policies: exact, by ``kl_from_logs`` over every response (each term ≥ 0);
- causal LMs: the exact per-token KL over the vocabulary from the logits,
  Σ_t KL(π(·|x, y_<t) ‖ μ(·|x, y_<t)) at y ~ π, an unbiased estimate of the sequence
  KL(π‖μ) (chain rule of the KL) whose every sample is ≥ 0;
- any other policy: the estimator E_{y~π}[r − 1 − log r], r = μ(y)/π(y) (unbiased since
  E_π[r] = 1, and every sample ≥ 0 because log r ≤ r − 1).

The plain Monte-Carlo mean of log π(y) − log μ(y) used before can be negative (the README
example reported −0.00075). Sampled metrics use ``samples`` draws from a generator seeded
by (seed, step), so an evaluation never moves the training generator (and its oracle calls
are not counted in ``queries``).

A float32 (or bfloat16) policy's log-probabilities are normalised only to its own precision:
they are checked against a tolerance of the policy's dtype (``_log_distribution``), then
normalised in float64, instead of failing the float64-absolute check of ``kl_divergence``.
"""

import numpy as np
import torch

from nashlab.games.metrics import kl_from_logs
from nashlab.solvers.compositions import COMPOSITIONS, make_step
from nashlab.solvers.methods import get_method
from nashlab.solvers.prox import step_coefficients

#: entries a log-distribution of dtype d may be off its normalisation by, per response, in
#: units of finfo(d).eps (float32: n·16·1.2e-7; float64: n·3.6e-15)
DTYPE_EPS_FACTOR = 16.0


def _log_distribution(logp, name) -> np.ndarray:
    """float64 log-probabilities from a policy's ``log_probs_all()`` of any float dtype:
    |Σ exp − 1| must be ≤ n·16·eps(dtype) (a ValueError naming ``name`` otherwise), then the
    vector is normalised in float64 (a shift by at most that rounding error)."""
    logp = logp.detach()
    eps = torch.finfo(logp.dtype).eps if logp.is_floating_point() else 0.0
    lp = logp.to("cpu", torch.float64)
    n = lp.shape[-1]
    err = float((torch.logsumexp(lp, -1).exp() - 1).abs().max())
    if not np.isfinite(err) or err > DTYPE_EPS_FACTOR * eps * max(n, 1):
        raise ValueError(f"{name}'s log-probabilities must sum to 1 within {n}·16·eps of its "
                         f"dtype {logp.dtype} ({DTYPE_EPS_FACTOR * eps * n:.3g}); off by {err:.3g}")
    return torch.log_softmax(lp, -1).numpy()


def _kl_logs(log_p, log_q) -> float:
    return float(kl_from_logs(np.exp(log_p), log_p, log_q))


@torch.no_grad()
def token_kl(policy, reference, responses, contexts) -> torch.Tensor:
    """(B,) Σ_t KL(π(·|x, y_<t) ‖ μ(·|x, y_<t)) over the response tokens of a causal LM
    (``CausalLMPolicy``: float64 log-softmax of both models' logits; each entry ≥ 0)."""
    p_ids, p_mask = policy.encode_prompts(contexts)
    ids = torch.cat([p_ids, responses.ids.to(p_ids.device)], -1)
    mask = torch.cat([p_mask, responses.mask.to(p_ids.device).long()], -1)
    start = p_ids.shape[1] - 1
    lp = torch.log_softmax(policy._logits(ids, mask)[:, start:-1].double(), -1)
    lq = torch.log_softmax(reference._logits(ids, mask)[:, start:-1].double(), -1)
    per_token = (lp.exp() * (lp - lq)).sum(-1).clamp_min(0.0)  # ≥ 0 up to rounding (~1e-16)
    return (per_token * responses.mask.to(per_token.device)).sum(-1).cpu()


def ratio_kl(logp, log_ref) -> torch.Tensor:
    """(B,) r − 1 − log r with log r = log μ(y) − log π(y) at y ~ π: unbiased for KL(π‖μ),
    every entry ≥ 0 (evaluated as expm1(d) − d, no cancellation near d = 0)."""
    d = (log_ref - logp).double()
    return (torch.expm1(d) - d).clamp_min(0.0)


@torch.no_grad()
def evaluate(policy, reference, oracle, *, equilibrium=None, contexts=None, seed=0, step=0,
             samples=64) -> dict:
    if hasattr(policy, "log_probs_all"):
        logp = _log_distribution(policy.log_probs_all(), "policy")
        log_mu = _log_distribution(reference.log_probs_all(), "reference")
        out = {"kl_to_reference": _kl_logs(logp, log_mu)}
        if oracle.exact:
            out["win_rate"] = float(np.exp(logp) @ oracle.P.numpy() @ np.exp(log_mu))
        if equilibrium is not None:
            with np.errstate(divide="ignore"):
                out["kl"] = _kl_logs(np.log(equilibrium), logp)
        if oracle.exact:
            return out
    gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
    ctx = None
    if contexts is not None:
        pick = torch.randint(len(contexts), (samples,), generator=gen).tolist()
        ctx = [contexts[i] for i in pick]
    y = policy.sample(samples, ctx, generator=gen)
    y_ref = reference.sample(samples, ctx, generator=gen)
    win_rate = float(oracle(ctx, y, y_ref, count=False).mean())
    if hasattr(policy, "log_probs_all"):
        return {**out, "win_rate": win_rate}
    if hasattr(policy, "encode_prompts"):
        kl = token_kl(policy, reference, y, ctx)
    else:
        kl = ratio_kl(policy(y, ctx), reference(y, ctx))
    return {"kl_to_reference": float(kl.mean()), "win_rate": win_rate}


@torch.no_grad()
def prox_inexactness(policy, anchor, reference, oracle, config) -> float:
    """δ_k = span(log π̃_{k+1} − log π_{k+1}) for an enumerable policy and an exact oracle:
    π̃_{k+1} is the trained policy after algorithm step k and π_{k+1} the exact step of the
    same algorithm (its composition of ``nashlab.solvers.compositions``, exact P·π'; for Nash
    Prox the exact proximal point) from the same anchor π̃_k. With it
    KL(π*‖π̃_{k+1}) ≤ KL(π*‖π_{k+1}) + δ_k ≤ KL(π*‖π̃_k)/(1 + ηβ) + δ_k for Nash-MP with
    η ≤ 2 and for Nash Prox with any η > 0 (KL(p‖q̃) − KL(p‖q) ≤ span(log q − log q̃);
    theory notes nlhf.md §2, derived)."""
    P = oracle.P.numpy()
    log_mu = _log_distribution(reference.log_probs_all(), "reference")
    log_anchor = _log_distribution(anchor.log_probs_all(), "anchor")
    if config.algorithm == "nash-prox":
        exact = _proximal_point(P, log_anchor, log_mu, config.eta, config.beta)
    else:
        method = get_method("preference", config.algorithm)
        step = make_step(step_coefficients(method.step_form, config.eta, config.beta), log_mu)
        exact, _, _ = COMPOSITIONS[method.composition](log_anchor, lambda z: P @ np.exp(z), step)
    d = _log_distribution(policy.log_probs_all(), "policy") - exact
    return float(d.max() - d.min())


def _proximal_point(P, log_anchor, log_mu, eta, beta):
    """The exact Nash Prox step from π_k: the certified equilibrium of the game with KL weight
    β + 1/η towards ν_k ∝ (π_k·μ^{ηβ})^{1/(1+ηβ)} (``nashlab.solvers.nlhf.step_nash_prox``)."""
    from nashlab.games.preference import PreferenceGame
    from nashlab.solvers.equilibrium import equilibrium

    magnet = torch.log_softmax(torch.from_numpy((log_anchor + eta * beta * log_mu)
                                                / (1 + eta * beta)), -1).numpy()
    solution = equilibrium(PreferenceGame(P, reference=np.exp(magnet),
                                          beta=beta + 1.0 / eta))
    if not solution.certified:
        raise RuntimeError(f"the exact Nash Prox step could not be certified ({solution.message})")
    return solution.logits
