"""The TRL-shaped NLHF trainers: ``transformers.Trainer`` driving nashlab's step library.

One optimiser step evaluates the loss of the current prox sub-problem
π⁺ = prox_step(π_k, P·π'; η, β, μ) on the batch's prompts. Global step s belongs to
sub-problem ⌊s / inner_steps⌋, whose phase is that index modulo the length of the
algorithm's plan (``nashlab.scaling.config.PLANS``: the opponents π' of one algorithm
step); at the first step of phase 0 the anchor π_k takes the policy's current trainable
tensors, at the first step of the phase after an "anchor" phase the half step π_{k+½} does
(``nashlab.scaling.trainer.Trainer`` does the same per algorithm step). The loss is the
closure of ``nashlab.scaling.subproblems.Subproblems`` (pairwise regression or policy
gradient, ``nashlab.scaling.losses``) with the prompts as contexts, drawn by
``nashlab.scaling.sampling.Sampler``; transformers does the backward pass, gradient
accumulation, the optimiser and scheduler steps, mixed precision, logging and checkpoints.

The phase is a function of the global step, and the snapshots, the sampling generator and
the query count are saved with every checkpoint (``nlhf_state_<process>.safetensors``
beside transformers' RNG state), so ``train(resume_from_checkpoint=True)`` continues the
interrupted run where it stopped (tested: the resumed run ends at the uninterrupted run's
weights).

Data parallelism is transformers': each process samples responses for its own prompts
(its generator seeded with ``seed + process_index``) and the gradients are averaged over
processes; the policy-gradient baseline is per process. Only DDP and one process are
exercised here (tests: one CPU process); FSDP and DeepSpeed ZeRO-3 shard the parameters
whose storage the anchor snapshot swaps and are untested.
"""

import copy
import os

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import Trainer

from nashlab.scaling.config import plan
from nashlab.scaling.errors import CheckpointError, TrainingError
from nashlab.scaling.evaluation import evaluate
from nashlab.scaling.policies import CausalLMPolicy
from nashlab.scaling.sampling import Sampler
from nashlab.scaling.subproblems import Subproblems, nash_prox_target
from nashlab.scaling.trl.configs import (
    EGPOConfig,
    NashMDConfig,
    NashMPConfig,
    NashProxConfig,
    NLHFConfig,
    OnlineIPOConfig,
)
from nashlab.scaling.trl.data import PromptCollator, check_dataset
from nashlab.scaling.trl.feedback import judge_oracle, reward_oracle
from nashlab.scaling.trl.views import AdapterDisabledPolicy, SnapshotPolicy

STATE_FILE = "nlhf_state_{}.safetensors"


class _OneProcess:
    """What ``Subproblems`` asks of an accelerator when every process trains on its own
    batch (transformers' data parallelism): the one-process answers."""

    num_processes, process_index = 1, 0

    @staticmethod
    def gather(tensor):
        return tensor

    @staticmethod
    def reduce(tensor, reduction="mean"):
        return tensor


class PromptSampler(Sampler):
    """The step library's sampler, whose contexts are the current batch's prompts."""

    prompts = None

    def sample_contexts(self, num):
        if self.prompts is None or len(self.prompts) != num:
            raise RuntimeError(f"the sampler was asked for {num} prompts, the batch has "
                               f"{None if self.prompts is None else len(self.prompts)}")
        return list(self.prompts)


def _is_peft(model) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


def _causal_lm(model, name):
    if isinstance(model, str):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(model)
    if not (isinstance(model, nn.Module) and hasattr(model, "get_input_embeddings")):
        raise TypeError(f"{name} must be a transformers causal LM or a model path, got "
                        f"{type(model).__name__}")
    return model


def _disable_dropout(model):
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


class NLHFTrainer(Trainer):
    """Base class of the NLHF trainers (use ``NashMDTrainer``, ``NashMPTrainer``,
    ``EGPOTrainer``, ``OnlineIPOTrainer`` or ``NashProxTrainer``).

    Parameters
    ----------
    model : the causal LM to train (a ``transformers`` model or a path).
    ref_model : the reference μ; None: the base model with adapters disabled under PEFT,
        else a frozen copy of ``model`` as given.
    reward_funcs / judge : exactly one (``nashlab.scaling.trl.feedback``): reward models or
        callables (Bradley–Terry), or a pairwise preference model / judge.
    args : the trainer's config class (``NashMDConfig`` for ``NashMDTrainer``, ...).
    data_collator : default ``PromptCollator`` (plain or conversational "prompt" column).
    train_dataset : a ``datasets.Dataset`` with a "prompt" column.
    processing_class : the policy's tokenizer (it must define an eos_token).
    peft_config : a ``peft`` config (e.g. ``LoraConfig``): only the adapters train.
    callbacks, optimizers : as for ``transformers.Trainer``.
    reward_processing_classes : tokenizers of the reward models (default: processing_class).
    """

    config_class = NLHFConfig

    def __init__(self, model, ref_model=None, reward_funcs=None, judge=None, args=None,
                 data_collator=None, train_dataset=None, processing_class=None, peft_config=None,
                 callbacks=None, optimizers=(None, None), reward_processing_classes=None):
        cls = self.config_class
        if cls is NLHFConfig:
            raise TypeError("NLHFTrainer is the base class: use NashMDTrainer, NashMPTrainer, "
                            "EGPOTrainer, OnlineIPOTrainer or NashProxTrainer")
        args = cls() if args is None else args
        if not isinstance(args, cls):
            raise TypeError(f"args must be a {cls.__name__} for {type(self).__name__}, got "
                            f"{type(args).__name__}")
        if processing_class is None or getattr(processing_class, "eos_token_id", None) is None:
            raise TypeError("processing_class must be the policy's tokenizer, with an eos_token")
        if (reward_funcs is None) == (judge is None):
            raise ValueError("give exactly one of reward_funcs= (reward models or functions) and "
                             "judge= (a pairwise preference model)")
        check_dataset(train_dataset)
        model = _causal_lm(model, "model")
        if peft_config is not None:
            if _is_peft(model):
                raise ValueError("model is already a peft.PeftModel: pass peft_config=None")
            from peft import get_peft_model

            model = get_peft_model(model, peft_config)
        if args.disable_dropout:
            _disable_dropout(model)
        tokenizer = processing_class
        self.policy = CausalLMPolicy(model, tokenizer, max_new_tokens=args.max_new_tokens)
        if ref_model is not None:
            reference = self._frozen(_causal_lm(ref_model, "ref_model"), tokenizer, args)
        elif _is_peft(model):
            reference = AdapterDisabledPolicy(self.policy)
        else:
            reference = self._frozen(copy.deepcopy(model), tokenizer, args)
        self.reference = reference
        self.nlhf_config = args.train_config()
        self.plan = plan(self.nlhf_config)
        self.target = nash_prox_target(self.nlhf_config) if cls.algorithm == "nash-prox" else None
        self.anchor = SnapshotPolicy(self.policy)
        self.half = SnapshotPolicy(self.policy) if "half" in self.plan else None
        modules = {"policy": self.policy, "anchor": self.anchor, "reference": reference}
        if self.half is not None:
            modules["half"] = self.half
        self.generator = torch.Generator().manual_seed(args.seed + args.process_index)
        self.sampler = PromptSampler(modules, self.generator, self.nlhf_config)
        if judge is not None:
            feedback = [judge]
            self.oracle = judge_oracle(judge, tokenizer, self.policy)
        else:
            feedback = list(reward_funcs) if isinstance(reward_funcs, list | tuple) else [reward_funcs]
            tokenizers = reward_processing_classes or [tokenizer] * len(feedback)
            tokenizers = tokenizers if isinstance(tokenizers, list | tuple) else [tokenizers]
            self.oracle = reward_oracle(reward_funcs, list(tokenizers), self.policy)
        self.subproblems = Subproblems(self.nlhf_config, self.sampler, self.oracle, self.policy,
                                       None, _OneProcess(), self._nonfinite)
        self._prepared, self._phase, self._views = None, 0, {}
        super().__init__(model=model, args=args,
                         data_collator=data_collator or PromptCollator(tokenizer),
                         train_dataset=train_dataset, processing_class=tokenizer,
                         callbacks=callbacks, optimizers=optimizers)
        for module in feedback + [getattr(reference, "model", None)]:
            if isinstance(module, nn.Module):
                module.to(self.args.device)

    @staticmethod
    def _frozen(model, tokenizer, args):
        model.requires_grad_(False).eval()
        if args.disable_dropout:
            _disable_dropout(model)
        return CausalLMPolicy(model, tokenizer, max_new_tokens=args.max_new_tokens)

    # ---- one optimiser step ------------------------------------------------------------
    def _prepare_step(self) -> int:
        """Refresh the anchor / half step at the first step of their phase (Nash Prox: the
        round's π_j at every round); the phase."""
        step = self.state.global_step
        if self._prepared != step:
            sub, within = divmod(step, self.args.inner_steps)
            phase = sub % len(self.plan)
            if within == 0 and phase == 0:
                self.anchor.refresh(self.args.anchor_ema)
            if within == 0 and self.target is not None:  # a Nash Prox round: π_j frozen
                self.half.refresh()
            elif within == 0 and phase > 0 and self.plan[phase - 1] == "anchor" \
                    and self.half is not None:
                self.half.refresh()
            self._prepared, self._phase = step, phase
        return self._phase

    def _train_view(self, model):
        """The policy's forward through ``model``, transformers' (possibly wrapped) module,
        so that a data-parallel wrapper sees the gradients."""
        if model is self.policy.model:
            return self.policy
        if id(model) not in self._views:
            view = CausalLMPolicy(self.policy.model, self.policy.tokenizer,
                                  max_new_tokens=self.policy.max_new_tokens)
            view.model = model
            self._views[id(model)] = view
        return self._views[id(model)]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs:
            raise ValueError("an NLHF trainer's loss has no model outputs to return")
        prompts = inputs["prompt"]
        phase = self._prepare_step()
        self.subproblems.batch = len(prompts)
        self.sampler.prompts = prompts
        self.subproblems.model = self._train_view(model)
        build = (self.subproblems.pg_closure if self.nlhf_config.loss == "pg"
                 else self.subproblems.regression_closure)
        loss = build(self.plan[phase], self.target)()
        if not torch.isfinite(loss):
            self._nonfinite(float(loss), phase)
        return loss

    def _nonfinite(self, value, phase):
        raise TrainingError(f"loss is {value} at step {self.state.global_step + 1} (sub-problem "
                            f"phase {phase + 1}); training stopped")

    def log(self, logs, start_time=None):
        """transformers' logs plus ``queries`` and, on the last batch's prompts (one fresh
        response each, not counted as queries), ``kl_to_reference`` (the per-token KL from
        the logits: ≥ 0 by construction) and ``win_rate`` P(π_θ ≻ μ)
        (``nashlab.scaling.evaluation.evaluate``)."""
        if "loss" in logs and self.sampler.prompts:
            prompts = list(self.sampler.prompts)
            metrics = evaluate(self.policy, self.reference, self.oracle, contexts=prompts,
                               seed=self.args.seed, step=self.state.global_step,
                               samples=len(prompts))
            logs = {**logs, "queries": self.oracle.queries, **metrics}
        super().log(logs, start_time)

    # ---- checkpoints -------------------------------------------------------------------
    def _state_file(self, directory):
        return os.path.join(directory, STATE_FILE.format(self.args.process_index))

    def _save_rng_state(self, output_dir):
        super()._save_rng_state(output_dir)
        tensors = {f"anchor/{n}": t for n, t in self.anchor.state_dict().items()}
        if self.half is not None:
            tensors.update({f"half/{n}": t for n, t in self.half.state_dict().items()})
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        tensors["generator"] = self.generator.get_state()
        save_file(tensors, self._state_file(output_dir),
                  metadata={"algorithm": self.config_class.algorithm,
                            "queries": str(self.oracle.queries)})

    def _load_rng_state(self, checkpoint):
        super()._load_rng_state(checkpoint)
        if checkpoint is None:
            return
        path = self._state_file(checkpoint)
        if not os.path.isfile(path):
            raise CheckpointError(f"{path}: missing; {checkpoint} was not saved by a nashlab NLHF "
                                  "trainer (or with save_only_model=True)")
        try:
            tensors = load_file(path)
            with safe_open(path, "pt") as f:
                meta = f.metadata() or {}
        except (OSError, SafetensorError) as exc:
            raise CheckpointError(f"{path}: unreadable ({exc})") from None
        if meta.get("algorithm") != self.config_class.algorithm:
            raise CheckpointError(f"{path}: saved by algorithm {meta.get('algorithm')!r}, this "
                                  f"trainer runs {self.config_class.algorithm!r}")
        try:
            for name, snapshot in (("anchor", self.anchor), ("half", self.half)):
                if snapshot is not None:
                    prefix = f"{name}/"
                    snapshot.load_state_dict({k[len(prefix):]: v for k, v in tensors.items()
                                              if k.startswith(prefix)}, source=path)
            self.generator.set_state(tensors["generator"])
            self.oracle.queries = int(meta["queries"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: does not fit this trainer ({exc})") from None


class NashMDTrainer(NLHFTrainer):
    """Nash-MD (Munos et al., arXiv 2312.00886): opponent π_k^{1−α}·μ^α, sampled token by
    token for an LM, an approximation of the sequence-level mixture (measured by
    ``token_mixture_kl`` of ``nashlab.scaling.policies``)."""

    config_class = NashMDConfig


class NashMPTrainer(NLHFTrainer):
    """Nash Mirror Prox (Tiapkin et al., arXiv 2505.19731): opponents π_k, then π_{k+½}."""

    config_class = NashMPConfig


class EGPOTrainer(NLHFTrainer):
    """EGPO (Zhou et al., arXiv 2503.08942): Nash-MP's extragradient, mirror-descent step η'."""

    config_class = EGPOConfig


class OnlineIPOTrainer(NLHFTrainer):
    """Online IPO / OMD / INPO (arXiv 2407.00617): opponent π_k."""

    config_class = OnlineIPOConfig


class NashProxTrainer(NLHFTrainer):
    """Nash Prox (arXiv 2505.19731 v2, abstract level): a proximal-point step from π_k solved
    by self-play online-IPO rounds, each round's opponent and anchor the frozen π_j."""

    config_class = NashProxConfig
