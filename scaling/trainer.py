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
- Nash Prox (arXiv 2505.19731 v2, abstract level): a proximal-point step from π_k solved by
  ``self_play_rounds`` self-play online-IPO rounds; round j freezes π_j as opponent and
  anchor, with KL weight β + 1/η towards ν_k ∝ (π_k·μ^{ηβ})^{1/(1+ηβ)} (derived:
  ``nashlab.solvers.nlhf.step_nash_prox``, ``subproblems.nash_prox_target``).

The batch of step k grows as batch_size·g^k (``TrainConfig.batch_growth``) so that the
inexactness δ_k of the prox steps (recorded per step on enumerable games) goes to zero.

``Trainer`` is the driver; each job lives in its own module: validation in
``nashlab.scaling.config`` (with the algorithms from the one method table), draws in
``sampling``, the sub-problems' losses and inner optimisation in ``subproblems`` (the losses
themselves in ``losses``), data parallelism in ``distributed``, metrics in ``evaluation``
and checkpoints (verified on loading) in ``checkpoint``.

``accelerate`` runs it in one process or under DDP (tested: two CPU processes over gloo,
started by ``torch.distributed.run``; ``accelerate launch`` on GPUs). FSDP is whatever
``accelerator.prepare`` makes of the policy and is untested here: sampling and the frozen
copies use the unwrapped module, which FSDP shards. Checkpoints store the policy, the
anchor, the reference, the optimizer and the RNG states, so a resumed run reproduces the
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

from nashlab.scaling import distributed
from nashlab.scaling.checkpoint import (
    MANIFEST,
    STATE,
    check_resumable,
    checkpoint_name,
    flatten_optimizer_state,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    unflatten_optimizer_state,
)
from nashlab.scaling.config import (
    PLANS,
    TrainConfig,
    check_contexts,
    check_setup,
    plan,
    resolve_batch_growth,
)
from nashlab.scaling.errors import CheckpointError, TrainingError
from nashlab.scaling.evaluation import evaluate, prox_inexactness
from nashlab.scaling.oracles import PreferenceOracle
from nashlab.scaling.sampling import Sampler
from nashlab.scaling.subproblems import Subproblems, make_optimizer, nash_prox_target

__all__ = ["PLANS", "CheckpointError", "Trainer", "TrainingError"]


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

    ``run_options`` (None, or the run's full option table, set by ``nashlab train``) is saved
    with every checkpoint and must match on ``load`` (except ``RESUMABLE`` and ``output``).
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
        self.config, self.oracle = config, oracle
        self.accelerator = accelerator or distributed.default_accelerator()
        self.enumerable = hasattr(policy, "log_probs_all")
        config = self.config = resolve_batch_growth(config, enumerable=self.enumerable)
        self.contexts = check_contexts(policy, contexts)
        check_setup(config, policy, oracle, enumerable=self.enumerable,
                    processes=self.accelerator.num_processes)
        self.equilibrium = None if equilibrium is None else np.asarray(equilibrium, dtype=np.float64)
        reference = _frozen_copy(policy if reference is None else reference)
        self.model, self.optimizer = self.accelerator.prepare(policy, make_optimizer(config, policy))
        self.policy = self.accelerator.unwrap_model(self.model)
        self.reference = reference.to(self.accelerator.device)
        self.anchor = _frozen_copy(self.policy)
        self.half = _frozen_copy(self.policy) if "half" in plan(config) else None
        self.prox_eta, self.mixture_weight = config.prox_eta, config.mixture_weight
        self.generator = torch.Generator().manual_seed(config.seed)
        modules = {"policy": self.policy, "anchor": self.anchor, "reference": self.reference}
        if self.half is not None:
            modules["half"] = self.half
        self.sampler = Sampler(modules, self.generator, config, self.contexts)
        self.subproblems = Subproblems(config, self.sampler, oracle, self.model, self.optimizer,
                                       self.accelerator, self._nonfinite_loss)
        self.step, self.queries, self.seconds = 0, 0, 0.0
        self.history, self.last_checkpoint, self._saved_step = [], None, None
        self.run_options = None
        self._seen_queries = oracle.queries
        self._check_oracle()

    @torch.no_grad()
    def _check_oracle(self):
        """Ask the oracle about two sampled pairs (not counted) so that a wrong shape or a
        value outside [0, 1] stops the run before any training step."""
        probe = torch.Generator().manual_seed(self.config.seed + 1)
        ctx = None if self.contexts is None else self.contexts[:1] * 2
        a = self.policy.sample(2, ctx, generator=probe)
        b = self.reference.sample(2, ctx, generator=probe)
        self.oracle(ctx, a, b, count=False)

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

    def _batch(self, step=None) -> int:
        """The batch of algorithm step ``step`` (default: the next one), ``TrainConfig.batch_at``."""
        return self.config.batch_at(self.step if step is None else step,
                                    self.accelerator.num_processes)

    def _step_queries(self) -> int:
        """Preference queries the next algorithm step will make (counted, not timed)."""
        n = self.policy.num_responses if self.enumerable else None
        return self.subproblems.queries(len(plan(self.config)), self._batch(), n)

    def _algorithm_step(self):
        if not all(torch.isfinite(p).all() for p in self.policy.parameters()):
            raise TrainingError(f"the policy's parameters are not finite at the start of step "
                                f"{self.step + 1}; training stopped{self._last_good()}")
        self._update_anchor()
        self.subproblems.batch = self._batch()
        loss = math.nan
        target = nash_prox_target(self.config) if self.config.algorithm == "nash-prox" else None
        for phase, opponent in enumerate(plan(self.config)):
            if target is not None:  # a self-play round: π_j frozen as opponent and anchor
                self.half.load_state_dict(self.policy.state_dict())
            loss = self.subproblems.solve(opponent, phase, target)
            if opponent == "anchor" and self.half is not None:
                self.half.load_state_dict(self.policy.state_dict())
        return loss

    def _nonfinite_loss(self, value, phase):
        raise TrainingError(f"loss is {value} at step {self.step + 1} (sub-problem "
                            f"{phase + 1}); training stopped{self._last_good()}")

    def _last_good(self):
        return f"; the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint else ""

    # ---- metrics ----------------------------------------------------------------------------
    def evaluate(self) -> dict:
        """KL(π_θ‖μ), the win rate P(π_θ ≻ μ) and, given π*, KL(π*‖π_θ) (see
        ``nashlab.scaling.evaluation``; these oracle calls are not counted in ``queries``)."""
        return evaluate(self.policy, self.reference, self.oracle, equilibrium=self.equilibrium,
                        contexts=self.contexts, seed=self.config.seed, step=self.step,
                        samples=self.config.eval_samples)

    def _record(self, loss):
        entry = {"step": self.step, "queries": self.queries, "seconds": self.seconds,
                 "loss": None if loss is None or math.isnan(loss) else loss}
        if self.step > 0:
            entry["batch"] = self._batch(self.step - 1)
            if self.enumerable and self.oracle.exact:
                entry["delta"] = prox_inexactness(self.policy, self.anchor, self.reference,
                                                  self.oracle, self.config)
        entry.update(self.evaluate())
        self.history.append(entry)
        return entry

    # ---- training loop ----------------------------------------------------------------------
    def train(self, steps=None, *, max_seconds=None, max_queries=None, output_dir=None) -> dict:
        """Run algorithm steps until ``steps`` in total (default ``config.steps``),
        ``max_seconds`` of training time (cumulated over resumed sessions) or until the next
        step would take the preference queries past ``max_queries``; checkpoint into
        ``output_dir`` every ``checkpoint_every`` steps and at the end. Returns ``summary()``.

        Each history entry records the step's batch and, for an enumerable policy with an
        exact oracle, δ_k (``nashlab.scaling.evaluation.prox_inexactness``)."""
        from tqdm.auto import tqdm

        c = self.config
        steps = c.steps if steps is None else steps
        steps = math.inf if steps is None else steps
        max_seconds = c.max_seconds if max_seconds is None else max_seconds
        max_queries = c.max_queries if max_queries is None else max_queries
        if not self.history:
            self._record(None)
        bar = tqdm(total=None if math.isinf(steps) else steps, initial=self.step,
                   file=sys.stderr, desc=c.algorithm,
                   disable=not (c.progress and self.accelerator.is_main_process))
        start, base = time.perf_counter(), self.seconds
        try:
            while (self.step < steps and (max_seconds is None or self.seconds < max_seconds)
                   and (max_queries is None or self.queries + self._step_queries() <= max_queries)):
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
        if self.config.estimator == "sampled":
            delta = distributed.total(self.accelerator, delta)
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
    def _modules(self) -> dict:
        modules = {"policy": self.policy, "anchor": self.anchor, "reference": self.reference}
        if self.half is not None:
            modules["half"] = self.half
        return modules

    def save(self, directory) -> Path:
        """Checkpoint into ``directory`` (main process writes; all processes wait)."""
        opt_tensors, opt_meta = flatten_optimizer_state(self.optimizer.state_dict())
        groups = {name: m.state_dict() for name, m in self._modules().items()}
        groups["optimizer"] = opt_tensors
        groups["rng"] = {"generator": self.generator.get_state(), "torch": torch.get_rng_state()}
        state = {"step": self.step, "queries": self.queries, "seconds": self.seconds,
                 "history": self.history, "config": asdict(self.config), "optimizer": opt_meta,
                 "run": self.run_options}
        path = distributed.on_main(self.accelerator,
                                   lambda: save_checkpoint(directory, self.step, groups, state),
                                   Path(directory) / checkpoint_name(self.step))
        self.last_checkpoint, self._saved_step = path, self.step
        return path

    def load(self, path):
        """Restore from a checkpoint directory, or from the latest one in a run directory.

        The checkpoint is verified first (``nashlab.scaling.checkpoint.load_checkpoint``),
        then its config against this trainer's (every field but ``RESUMABLE``), its tensors'
        names, shapes and dtypes against the modules'; any failure is a ``CheckpointError``
        naming the file and the problem, and leaves the trainer as it was."""
        path = Path(path)
        if not ((path / MANIFEST).is_file() or (path / STATE).is_file()):
            found = latest_checkpoint(path)
            if found is None:
                raise ValueError(f"no checkpoint found in {path}")
            path = found
        groups, state = load_checkpoint(path)
        modules = self._modules()
        rng_states = {"generator": self.generator.get_state(), "torch": torch.get_rng_state()}
        check_resumable(path, groups, state, config=self.config, run_options=self.run_options,
                        modules=modules, rng_states=rng_states)
        rng = groups["rng"]
        opt_file = path / "optimizer.safetensors"
        try:
            optimizer_state = unflatten_optimizer_state(groups["optimizer"], state["optimizer"])
            self.optimizer.load_state_dict(optimizer_state)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{opt_file}: does not fit this run's optimizer "
                                  f"({type(exc).__name__}: {exc})") from None
        for name, module in modules.items():
            module.load_state_dict(groups[name])
        self.generator.set_state(rng["generator"])
        torch.set_rng_state(rng["torch"])
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
