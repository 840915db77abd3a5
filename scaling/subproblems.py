"""One prox sub-problem of an algorithm step: the closure of its loss and the inner
optimisation.

The sub-problem is π⁺ = prox_step(π_k, P·π'; η, β, μ) with the anchor π_k, the opponent π'
(a name of ``config.PLANS``) and the reference μ; its loss (``nashlab.scaling.losses``) is

- with the exact estimator: the pairwise regression over all pairs, or KL(π_θ‖π⁺), against
  the exact prox target on the enumerated responses;
- sampled, ``loss="regression"``: the pairwise regression onto the prox step's log-ratio on
  one batch of pairs (drawn once per sub-problem);
- sampled, ``loss="pg"``: the policy-gradient surrogate on a fresh batch per inner step.

A ``ProxTarget`` says which frozen module anchors the step, its (η, β) and its magnet (the
log-reference: a weighted sum of modules' log-probabilities); the default is the plan's
(anchor π_k, the config's prox η and β, μ). Nash Prox's self-play rounds use anchor π_j
(the frozen current policy), KL weight β' = β + 1/η and magnet ν_k ∝ (π_k·μ^{ηβ})^{1/(1+ηβ)}
(``nash_prox_target``; the tabular derivation is ``nashlab.solvers.nlhf.step_nash_prox``).

``optimise`` runs ``inner_steps`` optimiser steps (one L-BFGS call of ``inner_steps``
iterations); a non-finite loss calls ``on_nonfinite(value, phase)``, which raises.
"""

import math
from dataclasses import dataclass

import torch

from nashlab.scaling import distributed, losses
from nashlab.scaling.oracles import batch_length, take
from nashlab.scaling.policies import prox_torch
from nashlab.scaling.sampling import concat
from nashlab.solvers.nlhf import nash_prox_inner_eta
from nashlab.solvers.prox import eta_from_mirror_descent


@dataclass(frozen=True)
class ProxTarget:
    """π⁺ = prox_step(anchor, P·π'; eta, beta, magnet), magnet = Σ w·log m over
    ``magnet`` = ((module name, w), ...)."""

    anchor: str
    eta: float
    beta: float
    magnet: tuple = (("reference", 1.0),)


def default_target(config) -> ProxTarget:
    return ProxTarget("anchor", config.prox_eta, config.beta)


def nash_prox_target(config) -> ProxTarget:
    """One self-play round of Nash Prox: the online-IPO (mirror-descent) step η_in of the inner
    game (β' = β + 1/η, magnet ν_k), in prox form, anchored at the frozen current policy."""
    eta, beta = config.eta, config.beta
    beta_inner = beta + 1.0 / eta
    w = 1.0 / (1.0 + eta * beta)
    return ProxTarget("half", eta_from_mirror_descent(nash_prox_inner_eta(beta_inner), beta_inner),
                      beta_inner, (("anchor", w), ("reference", 1.0 - w)))


def make_optimizer(config, policy):
    c, params = config, [p for p in policy.parameters() if p.requires_grad]
    if c.optimizer == "adam":
        return torch.optim.Adam(params, lr=c.lr)
    if c.optimizer == "sgd":
        return torch.optim.SGD(params, lr=c.lr)
    return torch.optim.LBFGS(params, lr=c.lr, max_iter=c.inner_steps, history_size=50,
                             tolerance_grad=1e-13, tolerance_change=1e-16,
                             line_search_fn="strong_wolfe")


class Subproblems:
    """Builds and solves the sub-problems of one trainer (``model``: the possibly wrapped
    trained module; the frozen modules come from ``sampler.modules``)."""

    def __init__(self, config, sampler, oracle, model, optimizer, accelerator, on_nonfinite):
        self.config, self.sampler, self.oracle = config, sampler, oracle
        self.model, self.optimizer, self.accelerator = model, optimizer, accelerator
        self.on_nonfinite = on_nonfinite
        self.batch = config.batch_size  # the current algorithm step's batch (the trainer sets it)

    def queries(self, subproblems, batch, n_responses=None) -> int:
        """Preference queries of ``subproblems`` sub-problems at ``batch``: n² per exact
        expectation P·π', 2·batch per regression batch (g(y), g(y')), batch per pg inner step."""
        c = self.config
        if c.estimator == "exact":
            return subproblems * n_responses ** 2
        if c.loss == "regression":
            return subproblems * 2 * batch
        return subproblems * c.inner_steps * batch

    def solve(self, opponent, phase, target=None) -> float:
        c = self.config
        if c.optimizer == "lbfgs":
            self.optimizer.optimizer.state.clear()  # each sub-problem from scratch
        if c.estimator == "exact":
            closure = self.exact_closure(opponent, target)
        elif c.loss == "regression":
            closure = self.regression_closure(opponent, target)
        else:
            closure = self.pg_closure(opponent, target)
        return self.optimise(closure, phase)

    def _magnet(self, target, responses=None, contexts=None):
        """Σ w·log m(y) of ``target.magnet`` (all responses when ``responses`` is None)."""
        s = self.sampler
        parts = [w * (s.module(name).log_probs_all() if responses is None
                      else s.log_probs(s.module(name), responses, contexts))
                 for name, w in target.magnet]
        return sum(parts[1:], parts[0])

    def exact_closure(self, opponent, target=None):
        c, s = self.config, self.sampler
        t = target or default_target(c)
        with torch.no_grad():
            g = self.oracle.expected_wins(s.opponent_probs(opponent))
            target = prox_torch(s.module(t.anchor).log_probs_all(), g, eta=t.eta, beta=t.beta,
                                log_reference=self._magnet(t))
        loss_fn = losses.exact_regression_loss if c.loss == "regression" else losses.exact_kl_loss
        return lambda: loss_fn(self.model(s.all), target)

    def regression_closure(self, opponent, target=None):
        c, s, B = self.config, self.sampler, self.batch
        t = target or default_target(c)
        anchor = s.module(t.anchor)
        ctx = s.sample_contexts(B)
        pairs = c.pairs if c.pairs != "auto" else ("uniform" if s.enumerable else "anchor")
        source = s.module(pairs)
        a, b = s.sample(source, B, ctx), s.sample(source, B, ctx)
        y2 = s.sample(s.module(opponent), B, ctx)
        mine = distributed.share(self.accelerator, B)
        ctx, a, b, y2 = take(ctx, mine), take(a, mine), take(b, mine), take(y2, mine)
        both = concat(a, b)
        ctx2 = None if ctx is None else ctx + ctx
        k = batch_length(a)
        with torch.no_grad():
            g_a, g_b = self.oracle(ctx, a, y2), self.oracle(ctx, b, y2)
            anchor_lp = s.log_probs(anchor, both, ctx2)
            ref_lp = self._magnet(t, both, ctx2)
            target = losses.prox_log_ratio(anchor_lp[:k], anchor_lp[k:], g_a, g_b, ref_lp[:k],
                                           ref_lp[k:], eta=t.eta, beta=t.beta)

        def closure():
            lp = s.log_probs(self.model, both, ctx2)
            return losses.pairwise_regression_loss(lp[:k], lp[k:], target)

        return closure

    def pg_closure(self, opponent, target=None):
        s, B = self.sampler, self.batch
        t = target or default_target(self.config)
        anchor, policy = s.module(t.anchor), s.policy

        def closure():
            ctx = s.sample_contexts(B)
            y = s.sample(policy, B, ctx)
            y2 = s.sample(s.module(opponent), B, ctx)
            mine = distributed.share(self.accelerator, B)
            ctx_mine, y_mine = take(ctx, mine), take(y, mine)
            with torch.no_grad():
                g = distributed.gather(self.accelerator, self.oracle(ctx_mine, y_mine, take(y2, mine)))
                targets = losses.prox_log_targets(s.log_probs(anchor, y, ctx), g,
                                                  self._magnet(t, y, ctx), eta=t.eta, beta=t.beta)
                advantage = losses.centred_advantage(targets, s.log_probs(policy, y, ctx))
            logp = s.log_probs(self.model, y_mine, ctx_mine)
            return losses.policy_gradient_loss(logp, advantage[mine])

        return closure

    def optimise(self, closure, phase) -> float:
        opt, acc = self.optimizer, self.accelerator

        def evaluate():
            opt.zero_grad()
            loss = closure()
            self.check_finite(loss, phase)
            acc.backward(loss)
            return loss

        if self.config.optimizer == "lbfgs":
            opt.step(evaluate)
            return self.check_finite(closure().detach(), phase)
        for _ in range(self.config.inner_steps):
            loss = evaluate()
            opt.step()
        return distributed.mean(acc, loss.detach())

    def check_finite(self, loss, phase) -> float:
        value = distributed.mean(self.accelerator, loss)
        if not math.isfinite(value):
            self.on_nonfinite(value, phase)
        return value
