"""The trainer: NLHF algorithm steps as sequences of prox sub-problems, on ``accelerate``.

An algorithm step k freezes an anchor π_k (a copy of the policy, or its EMA) and solves one
or two prox sub-problems π⁺ = prox_step(π_k, P·π'; η, β, μ) by inner optimisation of a
loss from ``nashlab.scaling.losses`` (theory notes nlhf.md §§2–5):

- Nash-MP (arXiv 2505.19731): π' = π_k, then π' = π_{k+½} (a frozen copy of the first
  solution), both anchored at π_k; prox step η.
- EGPO (arXiv 2503.08942): the same two steps with the mirror-descent step η'.
- Nash-MD (arXiv 2312.00886, eq. 5): π' = the geometric mixture π_k^{1−η'β}·μ^{η'β};
  exact on enumerable spaces, token-level mixed logits for LMs (an approximation).
- OMD / online IPO / INPO (arXiv 2407.00617): π' = π_k.

``accelerate`` runs it in one process or under DDP (tested: two CPU processes over gloo,
started by ``torch.distributed.run``; ``accelerate launch`` on GPUs). FSDP is whatever
``accelerator.prepare`` makes of the policy and is untested here: sampling and the frozen
copies use the unwrapped module, which FSDP shards. Every process draws the same global
batch from the same seeded generator and trains on its contiguous share, so DDP's gradient
average is the one-process full-batch gradient (batch_size must be divisible by the number
of processes; the policy-gradient form gathers the oracle answers so that its baseline is
the global one). Checkpoints (``nashlab.scaling.checkpoint``) store the policy, the anchor, the
reference, the optimizer and the RNG states, so a resumed run reproduces the
uninterrupted one.
"""

import copy
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from nashlab.games.metrics import kl_divergence
from nashlab.scaling import losses
from nashlab.scaling.checkpoint import (
    flatten_optimizer_state,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    unflatten_optimizer_state,
)
from nashlab.scaling.config import TrainConfig
from nashlab.scaling.oracles import PreferenceOracle, batch_length, take
from nashlab.scaling.policies import TokenResponses, geometric_mixture, prox_torch
from nashlab.solvers.prox import eta_from_mirror_descent

#: Opponents of the prox sub-problems of one algorithm step.
PLANS = {"nash-mp": ("anchor", "half"), "egpo": ("anchor", "half"),
         "nash-md": ("mixture",), "omd": ("anchor",)}


class TrainingError(RuntimeError):
    """Training stopped (a non-finite loss); the message names the step."""


def _concat(a, b):
    """One batch of responses a then b (LM responses all have max_new_tokens columns)."""
    if isinstance(a, TokenResponses):
        return TokenResponses(torch.cat([a.ids, b.ids]), torch.cat([a.mask, b.mask]))
    return torch.cat([a, b])


def _frozen_copy(module):
    return copy.deepcopy(module).requires_grad_(False)


class Trainer:
    """Train ``policy`` against a preference ``oracle`` with an NLHF algorithm.

    Parameters
    ----------
    policy : a policy module (``nashlab.scaling.policies``).
    oracle : a ``PreferenceOracle``.
    config : a ``TrainConfig``; keyword ``options`` override its fields.
    reference : the reference policy μ (default: a frozen copy of the initial policy).
    contexts : prompts, for policies that need them (sampled uniformly per triple).
    equilibrium : π* over an enumerable response space, to log the exact KL(π*‖π_θ).
    accelerator : an ``accelerate.Accelerator`` (default: ``Accelerator(cpu=True)``; pass
        your own to train on a GPU).
    """

    def __init__(self, policy, oracle, config=None, *, reference=None, contexts=None,
                 equilibrium=None, accelerator=None, **options):
        if config is None:
            config = TrainConfig(**options)
        elif options:
            config = replace(config, **options)
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        if not isinstance(policy, torch.nn.Module) or not hasattr(policy, "sample"):
            raise TypeError("policy must be a torch.nn.Module with forward(responses, contexts) "
                            "and sample(...) (see nashlab.scaling.policies)")
        if not isinstance(oracle, PreferenceOracle):
            raise TypeError(f"oracle must be a PreferenceOracle, got {type(oracle).__name__}")
        from accelerate import Accelerator

        self.config, self.oracle = config, oracle
        self.accelerator = accelerator or Accelerator(cpu=True)
        self.enumerable = hasattr(policy, "log_probs_all")
        self._all = policy.all_responses() if self.enumerable else None
        self.contexts = self._check_contexts(policy, contexts)
        self._check_setup(policy, oracle)
        self.equilibrium = None if equilibrium is None else np.asarray(equilibrium, dtype=np.float64)
        reference = _frozen_copy(policy if reference is None else reference)
        self.model, self.optimizer = self.accelerator.prepare(policy, self._make_optimizer(policy))
        self.policy = self.accelerator.unwrap_model(self.model)
        self.reference = reference.to(self.accelerator.device)
        self.anchor = _frozen_copy(self.policy)
        self.half = _frozen_copy(self.policy) if "half" in PLANS[config.algorithm] else None
        md = config.algorithm != "nash-mp"
        self.prox_eta = eta_from_mirror_descent(config.eta, config.beta) if md else config.eta
        self.mixture_weight = config.eta * config.beta
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step, self.queries, self.seconds = 0, 0, 0.0
        self.history, self.last_checkpoint, self._saved_step = [], None, None
        self._seen_queries = oracle.queries
        self._check_oracle()

    # ---- validation ---------------------------------------------------------------------
    @staticmethod
    def _check_contexts(policy, contexts):
        if contexts is None:
            if getattr(policy, "needs_contexts", False):
                raise ValueError(f"{type(policy).__name__} needs contexts (a list of prompts)")
            return None
        if isinstance(contexts, str) or not contexts or not all(isinstance(c, str) for c in contexts):
            raise ValueError("contexts must be a non-empty list of prompt strings")
        return list(contexts)

    def _check_setup(self, policy, oracle):
        c = self.config
        if c.estimator == "exact" and not (oracle.exact and self.enumerable):
            raise ValueError("estimator 'exact' needs an exact oracle (MatrixOracle, "
                             "SequenceGameOracle) and an enumerable policy (log_probs_all)")
        if oracle.exact and self.enumerable and oracle.P.shape[0] != policy.num_responses:
            raise ValueError(f"the oracle has {oracle.P.shape[0]} responses, the policy "
                             f"{policy.num_responses}")
        if c.pairs == "uniform" and not self.enumerable:
            raise ValueError("pairs 'uniform' needs an enumerable policy")
        if c.optimizer == "lbfgs" and c.loss == "pg" and c.estimator == "sampled":
            raise ValueError("optimizer 'lbfgs' needs a deterministic objective: use the exact "
                             "estimator or the regression loss")
        world = self.accelerator.num_processes
        if c.batch_size % world:
            raise ValueError(f"batch_size ({c.batch_size}) must be divisible by the number of "
                             f"processes ({world})")

    @torch.no_grad()
    def _check_oracle(self):
        """Ask the oracle about two sampled pairs (not counted) so that a wrong shape or a
        value outside [0, 1] stops the run before any training step."""
        probe = torch.Generator().manual_seed(self.config.seed + 1)
        ctx = None if self.contexts is None else self.contexts[:1] * 2
        a = self.policy.sample(2, ctx, generator=probe)
        b = self.reference.sample(2, ctx, generator=probe)
        self.oracle(ctx, a, b, count=False)

    def _make_optimizer(self, policy):
        c, params = self.config, [p for p in policy.parameters() if p.requires_grad]
        if c.optimizer == "adam":
            return torch.optim.Adam(params, lr=c.lr)
        if c.optimizer == "sgd":
            return torch.optim.SGD(params, lr=c.lr)
        return torch.optim.LBFGS(params, lr=c.lr, max_iter=c.inner_steps, history_size=50,
                                 tolerance_grad=1e-13, tolerance_change=1e-16,
                                 line_search_fn="strong_wolfe")

    # ---- sampling -----------------------------------------------------------------------
    def _sample_contexts(self, num):
        if self.contexts is None:
            return None
        idx = torch.randint(len(self.contexts), (num,), generator=self.generator)
        return [self.contexts[i] for i in idx.tolist()]

    def _sample(self, source, num, contexts):
        """``num`` responses from a module, the Nash-MD mixture, or uniform; on an enumerable
        space by exact categorical sampling from the enumerated probabilities."""
        if source == "uniform":
            idx = torch.randint(self.policy.num_responses, (num,), generator=self.generator)
            return self.policy.responses_from_indices(idx)
        if source == "mixture":
            if self.enumerable:
                probs = self._opponent_probs("mixture")
                idx = torch.multinomial(probs, num, True, generator=self.generator)
                return self.policy.responses_from_indices(idx)
            return self.anchor.sample(num, contexts, generator=self.generator,
                                      temperature=self.config.temperature,
                                      mixture=(self.reference, self.mixture_weight))
        temperature = 1.0 if source is self.reference else self.config.temperature
        if self.enumerable:  # exact categorical sampling over the enumerated responses
            with torch.no_grad():
                probs = torch.softmax(source.log_probs_all().to(torch.float64) / temperature, -1)
            idx = torch.multinomial(probs, num, True, generator=self.generator)
            return self.policy.responses_from_indices(idx)
        return source.sample(num, contexts, generator=self.generator, temperature=temperature)

    def _module(self, name):
        return {"anchor": self.anchor, "half": self.half, "policy": self.policy,
                "reference": self.reference}.get(name, name)

    @torch.no_grad()
    def _opponent_probs(self, opponent):
        if opponent == "mixture":
            logp = geometric_mixture(self.anchor.log_probs_all(), self.reference.log_probs_all(),
                                     self.mixture_weight)
        else:
            logp = self._module(opponent).log_probs_all()
        return logp.to(torch.float64).exp()

    def _log_probs(self, module, responses, contexts):
        """log π(responses); an enumerable policy evaluates every response once and indexes
        (the same values, and one small forward pass whatever the batch size). ``module`` is
        the (possibly DDP-wrapped) trained model or a frozen copy."""
        if self.enumerable:
            return module(self._all)[self.policy.index_of(responses)]
        return module(responses, contexts)

    def _share(self, num):
        """This process's contiguous share of a global batch of ``num``."""
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        size = num // world
        return slice(rank * size, (rank + 1) * size)

    # ---- one algorithm step ----------------------------------------------------------------
    def _update_anchor(self):
        m = self.config.anchor_ema
        with torch.no_grad():
            if m == 0:
                self.anchor.load_state_dict(self.policy.state_dict())
            else:
                current = self.policy.state_dict()
                for name, value in self.anchor.state_dict().items():
                    if value.is_floating_point():
                        value.mul_(m).add_(current[name], alpha=1 - m)

    def _algorithm_step(self):
        if not all(torch.isfinite(p).all() for p in self.policy.parameters()):
            raise TrainingError(f"the policy's parameters are not finite at the start of step "
                                f"{self.step + 1}; training stopped{self._last_good()}")
        self._update_anchor()
        loss = math.nan
        for phase, opponent in enumerate(PLANS[self.config.algorithm]):
            loss = self._solve(opponent, phase)
            if opponent == "anchor" and self.half is not None:
                self.half.load_state_dict(self.policy.state_dict())
        return loss

    def _solve(self, opponent, phase):
        c = self.config
        if c.optimizer == "lbfgs":
            self.optimizer.optimizer.state.clear()  # each sub-problem from scratch
        if c.estimator == "exact":
            closure = self._exact_closure(opponent)
        elif c.loss == "regression":
            closure = self._regression_closure(opponent)
        else:
            closure = self._pg_closure(opponent)
        return self._optimise(closure, phase)

    def _exact_closure(self, opponent):
        c = self.config
        with torch.no_grad():
            g = self.oracle.expected_wins(self._opponent_probs(opponent))
            target = prox_torch(self.anchor.log_probs_all(), g, eta=self.prox_eta, beta=c.beta,
                                log_reference=self.reference.log_probs_all())
        loss_fn = losses.exact_regression_loss if c.loss == "regression" else losses.exact_kl_loss
        return lambda: loss_fn(self.model(self._all), target)

    def _regression_closure(self, opponent):
        c, B = self.config, self.config.batch_size
        ctx = self._sample_contexts(B)
        pairs = c.pairs if c.pairs != "auto" else ("uniform" if self.enumerable else "anchor")
        source = {"anchor": self.anchor, "reference": self.reference}.get(pairs, pairs)
        a, b = self._sample(source, B, ctx), self._sample(source, B, ctx)
        y2 = self._sample(self._module(opponent), B, ctx)
        mine = self._share(B)
        ctx, a, b, y2 = take(ctx, mine), take(a, mine), take(b, mine), take(y2, mine)
        both = _concat(a, b)
        ctx2 = None if ctx is None else ctx + ctx
        k = batch_length(a)
        with torch.no_grad():
            g_a, g_b = self.oracle(ctx, a, y2), self.oracle(ctx, b, y2)
            anchor_lp = self._log_probs(self.anchor, both, ctx2)
            ref_lp = self._log_probs(self.reference, both, ctx2)
            target = losses.prox_log_ratio(anchor_lp[:k], anchor_lp[k:], g_a, g_b, ref_lp[:k],
                                           ref_lp[k:], eta=self.prox_eta, beta=c.beta)

        def closure():
            lp = self._log_probs(self.model, both, ctx2)
            return losses.pairwise_regression_loss(lp[:k], lp[k:], target)

        return closure

    def _pg_closure(self, opponent):
        c, B = self.config, self.config.batch_size

        def closure():
            ctx = self._sample_contexts(B)
            y = self._sample(self.policy, B, ctx)
            y2 = self._sample(self._module(opponent), B, ctx)
            mine = self._share(B)
            ctx_mine, y_mine = take(ctx, mine), take(y, mine)
            with torch.no_grad():
                g = self.oracle(ctx_mine, y_mine, take(y2, mine))
                if self.accelerator.num_processes > 1:
                    g = self.accelerator.gather(g)
                targets = losses.prox_log_targets(self._log_probs(self.anchor, y, ctx), g,
                                                  self._log_probs(self.reference, y, ctx),
                                                  eta=self.prox_eta, beta=c.beta)
                advantage = losses.centred_advantage(targets, self._log_probs(self.policy, y, ctx))
            logp = self._log_probs(self.model, y_mine, ctx_mine)
            return losses.policy_gradient_loss(logp, advantage[mine])

        return closure

    def _optimise(self, closure, phase):
        """``inner_steps`` optimiser steps (one L-BFGS call of ``inner_steps`` iterations)."""
        opt, acc = self.optimizer, self.accelerator

        def evaluate():
            opt.zero_grad()
            loss = closure()
            self._check_finite(loss, phase)
            acc.backward(loss)
            return loss

        if self.config.optimizer == "lbfgs":
            loss = opt.step(evaluate)
            return self._check_finite(closure().detach(), phase)
        for _ in range(self.config.inner_steps):
            loss = evaluate()
            opt.step()
        return float(acc.reduce(loss.detach(), "mean"))

    def _check_finite(self, loss, phase):
        value = float(self.accelerator.reduce(loss.detach().clone(), "mean"))
        if not math.isfinite(value):
            raise TrainingError(f"loss is {value} at step {self.step + 1} (sub-problem "
                                f"{phase + 1}); training stopped{self._last_good()}")
        return value

    def _last_good(self):
        return f"; the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint else ""

    # ---- metrics ----------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict:
        """KL(π_θ‖μ), the win rate P(π_θ ≻ μ) and, given π*, KL(π*‖π_θ): exact on enumerable
        spaces with an exact oracle, else estimated from ``eval_samples`` samples (these
        oracle calls are not counted in ``queries``)."""
        if self.enumerable and self.oracle.exact:
            logp = self.policy.log_probs_all().to(torch.float64)
            p = logp.exp().numpy()
            mu = self.reference.log_probs_all().to(torch.float64).exp().numpy()
            out = {"kl_to_reference": float(kl_divergence(p, mu)),
                   "win_rate": float(p @ self.oracle.P.numpy() @ mu)}
            if self.equilibrium is not None:
                out["kl"] = float(kl_divergence(self.equilibrium, p))
            return out
        gen = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.step)
        n = self.config.eval_samples
        ctx = None
        if self.contexts is not None:
            pick = torch.randint(len(self.contexts), (n,), generator=gen).tolist()
            ctx = [self.contexts[i] for i in pick]
        y = self.policy.sample(n, ctx, generator=gen)
        y_ref = self.reference.sample(n, ctx, generator=gen)
        return {"kl_to_reference": float((self.policy(y, ctx) - self.reference(y, ctx)).mean()),
                "win_rate": float(self.oracle(ctx, y, y_ref, count=False).mean())}

    def _record(self, loss):
        entry = {"step": self.step, "queries": self.queries, "seconds": self.seconds,
                 "loss": None if loss is None or math.isnan(loss) else loss}
        entry.update(self.evaluate())
        self.history.append(entry)
        return entry

    # ---- training loop ----------------------------------------------------------------------
    def train(self, steps=None, *, max_seconds=None, output_dir=None) -> dict:
        """Run algorithm steps until ``steps`` in total (default ``config.steps``) or
        ``max_seconds`` of training time (cumulated over resumed sessions); checkpoint into
        ``output_dir`` every ``checkpoint_every`` steps and at the end. Returns ``summary()``."""
        from tqdm.auto import tqdm

        c = self.config
        steps = c.steps if steps is None else steps
        steps = math.inf if steps is None else steps
        max_seconds = c.max_seconds if max_seconds is None else max_seconds
        if not self.history:
            self._record(None)
        bar = tqdm(total=None if math.isinf(steps) else steps, initial=self.step,
                   file=sys.stderr, desc=c.algorithm,
                   disable=not (c.progress and self.accelerator.is_main_process))
        start, base = time.perf_counter(), self.seconds
        try:
            while self.step < steps and (max_seconds is None or self.seconds < max_seconds):
                loss = self._algorithm_step()
                self.step += 1
                self.seconds = base + time.perf_counter() - start
                self._count_queries()
                entry = self._record(loss)
                bar.update(1)
                bar.set_postfix({k: f"{entry[k]:.4g}" for k in ("loss", "kl")
                                 if entry.get(k) is not None})
                if output_dir is not None and self.step % c.checkpoint_every == 0:
                    self.save(output_dir)
        finally:
            bar.close()
        if output_dir is not None and self._saved_step != self.step:
            self.save(output_dir)
        return self.summary()

    def _count_queries(self):
        delta = self.oracle.queries - self._seen_queries
        self._seen_queries = self.oracle.queries
        if self.config.estimator == "sampled" and self.accelerator.num_processes > 1:
            delta = int(self.accelerator.reduce(torch.tensor(delta), "sum"))
        self.queries += delta

    def summary(self) -> dict:
        """The last step's record: steps, queries, seconds, loss, kl_to_reference, win_rate,
        kl (with an exact π*), the number of processes and the last checkpoint."""
        last = self.history[-1] if self.history else {}
        out = {"algorithm": self.config.algorithm, "steps": self.step, "queries": self.queries,
               "seconds": self.seconds, "processes": self.accelerator.num_processes,
               "loss": last.get("loss"), "kl_to_reference": last.get("kl_to_reference"),
               "win_rate": last.get("win_rate")}
        if "kl" in last:
            out["kl"] = last["kl"]
        if self.last_checkpoint is not None:
            out["checkpoint"] = str(self.last_checkpoint)
        return out

    # ---- checkpoints ------------------------------------------------------------------------
    def save(self, directory) -> Path:
        """Checkpoint into ``directory`` (main process writes; all processes wait)."""
        opt_tensors, opt_meta = flatten_optimizer_state(self.optimizer.state_dict())
        groups = {"policy": self.policy.state_dict(), "anchor": self.anchor.state_dict(),
                  "reference": self.reference.state_dict(), "optimizer": opt_tensors,
                  "rng": {"generator": self.generator.get_state(), "torch": torch.get_rng_state()}}
        if self.half is not None:
            groups["half"] = self.half.state_dict()
        state = {"step": self.step, "queries": self.queries, "seconds": self.seconds,
                 "history": self.history, "config": asdict(self.config), "optimizer": opt_meta}
        path = Path(directory) / f"step-{self.step:06d}"
        if self.accelerator.is_main_process:
            path = save_checkpoint(directory, self.step, groups, state)
        self.accelerator.wait_for_everyone()
        self.last_checkpoint, self._saved_step = path, self.step
        return path

    def load(self, path):
        """Restore from a checkpoint directory, or from the latest one in a run directory."""
        path = Path(path)
        if not (path / "state.json").is_file():
            found = latest_checkpoint(path)
            if found is None:
                raise ValueError(f"no checkpoint found in {path}")
            path = found
        groups, state = load_checkpoint(path)
        self.policy.load_state_dict(groups["policy"])
        self.anchor.load_state_dict(groups["anchor"])
        self.reference.load_state_dict(groups["reference"])
        if self.half is not None and "half" in groups:
            self.half.load_state_dict(groups["half"])
        self.optimizer.load_state_dict(unflatten_optimizer_state(groups.get("optimizer", {}),
                                                                 state["optimizer"]))
        self.generator.set_state(groups["rng"]["generator"])
        torch.set_rng_state(groups["rng"]["torch"])
        self.step, self.queries, self.seconds = state["step"], state["queries"], state["seconds"]
        self.history = state["history"]
        self._seen_queries = self.oracle.queries
        self.last_checkpoint, self._saved_step = path, self.step
        return self

    # ---- convenience -------------------------------------------------------------------------
    @classmethod
    def for_sequence_game(cls, game, policy="tiny", config=None, *, hidden=128, layers=2,
                          **options):
        """A trainer on a ``SequenceGame``: exact oracle, the game's μ as the reference, and
        π* from the certified solver for the exact KL. ``policy``: "tabular", "tiny" or a
        module; a new policy starts at μ (tabular) or uniform (tiny)."""
        from nashlab.scaling.oracles import SequenceGameOracle
        from nashlab.scaling.policies import AutoregressivePolicy, TabularPolicy
        from nashlab.solvers.equilibrium import equilibrium

        config = TrainConfig(**options) if config is None else replace(config, **options)
        if config.beta != game.beta:
            raise ValueError(f"config beta ({config.beta:g}) differs from the game's ({game.beta:g})")
        reference = TabularPolicy(game.log_reference, vocab=game.vocab, length=game.length)
        if policy == "tabular":
            policy = TabularPolicy(game.log_reference, vocab=game.vocab, length=game.length)
        elif policy == "tiny":
            policy = AutoregressivePolicy(game.vocab, game.length, hidden=hidden, layers=layers,
                                          seed=config.seed)
        elif isinstance(policy, str):
            raise ValueError(f"policy must be 'tabular', 'tiny' or a module, got {policy!r}")
        eq = equilibrium(game.preference_game())
        return cls(policy, SequenceGameOracle(game), config, reference=reference,
                   equilibrium=eq.policy)
