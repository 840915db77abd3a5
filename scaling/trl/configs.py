"""Training arguments of the TRL-shaped trainers: ``transformers.TrainingArguments`` plus the
NLHF options, validated by nashlab's own ``TrainConfig`` (one validation, not two).

The NLHF fields (TRL's names where TRL had the option):

beta : KL weight β > 0 towards the reference μ (TRL's ``beta``; a list per epoch is refused).
eta : the algorithm's step, read as ``TrainConfig.eta`` (Nash-MP: the prox step η; Nash-MD,
    EGPO, online IPO: the mirror-descent step η', needing η'β < 1); None: ``default_eta``.
max_new_tokens : response length cap (TRL's default 64).
temperature : sampling temperature of the policy's responses (default 1, on-policy; TRL's
    default was 0.9, which samples from another distribution than the one trained).
loss : "pg" (policy gradient on the prox objective: at the anchor it is Nash-MD-PG, arXiv
    2312.00886 App. F, TRL's online form) or "regression" (pairwise IPO-style regression
    onto the prox step's log-ratio).
inner_steps : optimiser steps per prox sub-problem: the anchor π_k is refreshed every
    ``inner_steps`` steps (Nash-MP and EGPO: every 2·``inner_steps``, with π_{k+½} between).
    1 is TRL's one gradient step per batch; more steps solve each prox step more exactly
    (the inexactness δ_k of the approximate Nash-MP bound, theory notes nlhf.md §2).
anchor_ema : 0, or m ∈ (0, 1) for the EMA anchor θ̄ ← m·θ̄ + (1 − m)·θ.
disable_dropout : set every dropout probability of the policy to 0 (TRL's default), so
    log-probabilities are deterministic in ``model.train()`` mode.

``NashProxConfig`` adds ``self_play_rounds``: the self-play online-IPO rounds that solve
one proximal-point step (Nash Prox, arXiv 2505.19731 v2, read at abstract level; the
rounds' targets are the step library's ``nash_prox_target``); ``eta`` is the outer
proximal step η. ``NashMDConfig`` adds ``mixture_coef`` = α, the reference's weight in the sampled mixture
π^{1−α}·μ^α (TRL's name); nashlab reads it as α = η'β, so give ``mixture_coef`` or ``eta``
(or both, consistent). ``remove_unused_columns`` defaults to False and must stay False (the
"prompt" column is the only input). The prompt batch of one optimiser step is
``per_device_train_batch_size``.
"""

import math
from dataclasses import dataclass, field
from typing import ClassVar

from transformers import TrainingArguments

from nashlab.scaling.config import TrainConfig


@dataclass
class NLHFConfig(TrainingArguments):
    """Arguments of an NLHF trainer (see the module docstring for the NLHF fields)."""

    algorithm: ClassVar[str] = ""

    beta: float = field(default=0.1, metadata={"help": "KL weight towards the reference"})
    eta: float | None = field(default=None, metadata={"help": "step size (None: the default)"})
    max_new_tokens: int = field(default=64, metadata={"help": "response length cap"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    loss: str = field(default="pg", metadata={"help": "'pg' or 'regression'"})
    inner_steps: int = field(default=1, metadata={"help": "optimiser steps per prox sub-problem"})
    anchor_ema: float = field(default=0.0, metadata={"help": "EMA of the anchor (0: frozen)"})
    disable_dropout: bool = field(default=True, metadata={"help": "zero every dropout"})
    remove_unused_columns: bool = field(default=False, metadata={"help": "must stay False"})

    def __post_init__(self):
        super().__post_init__()
        if type(self) is NLHFConfig:
            raise TypeError("NLHFConfig is the base class: use NashMDConfig, NashMPConfig, "
                            "EGPOConfig, OnlineIPOConfig or NashProxConfig")
        if self.remove_unused_columns:
            raise ValueError("remove_unused_columns must be False: the NLHF trainers read the "
                             "'prompt' column, which no model forward takes")
        if not (isinstance(self.max_new_tokens, int) and not isinstance(self.max_new_tokens, bool)
                and self.max_new_tokens >= 1):
            raise ValueError(f"max_new_tokens must be a positive integer, got {self.max_new_tokens!r}")
        if not isinstance(self.disable_dropout, bool):
            raise TypeError(f"disable_dropout must be True or False, got {self.disable_dropout!r}")
        self.train_config()  # validates beta, eta, loss, inner_steps, temperature, anchor_ema

    def train_config(self) -> TrainConfig:
        """The ``TrainConfig`` of the step library for these arguments (sampled estimator,
        one optimiser step's prompts as the batch)."""
        return TrainConfig(algorithm=self.algorithm, beta=self.beta, eta=self.eta, loss=self.loss,
                           estimator="sampled", inner_steps=self.inner_steps,
                           anchor_ema=self.anchor_ema, temperature=self.temperature,
                           batch_size=self.per_device_train_batch_size,
                           seed=self.seed, progress=False, **self._options())

    def _options(self) -> dict:
        """Algorithm-specific ``TrainConfig`` options (none here)."""
        return {}


@dataclass
class NashMDConfig(NLHFConfig):
    """Nash-MD: the opponent is the geometric mixture π_k^{1−α}·μ^α, α = ``mixture_coef``."""

    algorithm: ClassVar[str] = "nash-md"

    mixture_coef: float | None = field(
        default=None, metadata={"help": "reference weight α = eta·beta of the mixture"})

    def __post_init__(self):
        a = self.mixture_coef
        if a is not None:
            if not (isinstance(a, int | float) and not isinstance(a, bool) and 0 < a < 1):
                raise ValueError(f"mixture_coef must be a number in (0, 1), got {a!r}")
            beta_ok = isinstance(self.beta, int | float) and not isinstance(self.beta, bool) \
                and self.beta > 0
            if beta_ok and self.eta is None:
                self.eta = a / self.beta
            elif beta_ok and isinstance(self.eta, int | float) \
                    and not math.isclose(self.eta * self.beta, a, rel_tol=1e-12):
                raise ValueError(f"mixture_coef ({a:g}) must equal eta·beta "
                                 f"({self.eta:g}·{self.beta:g}); give one of the two")
        super().__post_init__()
        if self.mixture_coef is None:
            self.mixture_coef = self.train_config().mixture_weight


@dataclass
class NashMPConfig(NLHFConfig):
    """Nash Mirror Prox: two prox sub-problems per step, opponents π_k then π_{k+½}."""

    algorithm: ClassVar[str] = "nash-mp"


@dataclass
class EGPOConfig(NLHFConfig):
    """EGPO: the extragradient of Nash-MP in the mirror-descent step η'."""

    algorithm: ClassVar[str] = "egpo"


@dataclass
class OnlineIPOConfig(NLHFConfig):
    """Online IPO / OMD: one prox sub-problem per step against the anchor π_k."""

    algorithm: ClassVar[str] = "omd"


@dataclass
class NashProxConfig(NLHFConfig):
    """Nash Prox: a proximal-point step η from π_k, solved by ``self_play_rounds``
    self-play online-IPO rounds (None: the step library's default)."""

    algorithm: ClassVar[str] = "nash-prox"

    self_play_rounds: int | None = field(
        default=None, metadata={"help": "self-play rounds per proximal step"})

    def _options(self) -> dict:
        return {} if self.self_play_rounds is None else {"self_play_rounds": self.self_play_rounds}
