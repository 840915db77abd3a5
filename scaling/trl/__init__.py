"""NLHF trainers with TRL's calling shape, on ``transformers.Trainer``.

TRL removed its ``NashMDTrainer`` (September 2026) and moved its judges out (April 2026).
These trainers take the same arguments (``model``, ``ref_model``, ``reward_funcs`` or
``judge``, ``args=<Config>(output_dir, beta, mixture_coef, max_new_tokens, temperature,
...)``, ``processing_class``, ``train_dataset`` with a "prompt" column, ``peft_config``)
and get logging, ``report_to``, callbacks, ``save_steps``, ``resume_from_checkpoint``,
gradient accumulation, bf16 and accelerate from ``transformers.Trainer``:

=====================  ======================  ==================================
trainer                config                  algorithm (``nashlab.scaling``)
=====================  ======================  ==================================
``NashMDTrainer``      ``NashMDConfig``        Nash-MD (arXiv 2312.00886)
``NashMPTrainer``      ``NashMPConfig``        Nash Mirror Prox (arXiv 2505.19731)
``EGPOTrainer``        ``EGPOConfig``          EGPO (arXiv 2503.08942)
``OnlineIPOTrainer``   ``OnlineIPOConfig``     OMD / online IPO (arXiv 2407.00617)
``NashProxTrainer``    ``NashProxConfig``      Nash Prox (arXiv 2505.19731 v2)
=====================  ======================  ==================================

Each is a thin driver of nashlab's one step library: the prox sub-problems' losses
(``nashlab.scaling.losses``), their closures (``nashlab.scaling.subproblems``) and the
samplers (``nashlab.scaling.sampling``) are those of ``nashlab.scaling.Trainer``;
``transformers.Trainer`` only owns the optimiser loop. Modules: ``configs`` (the argument
classes), ``views`` (the anchor and the PEFT reference without second copies of weights),
``feedback`` (reward functions and judges as preference oracles), ``data`` (prompts),
``trainers`` (the drivers). Needs the ``neural`` extra (torch, transformers, peft).
"""

from nashlab.scaling.trl.configs import (
    EGPOConfig,
    NashMDConfig,
    NashMPConfig,
    NashProxConfig,
    NLHFConfig,
    OnlineIPOConfig,
)
from nashlab.scaling.trl.trainers import (
    EGPOTrainer,
    NashMDTrainer,
    NashMPTrainer,
    NashProxTrainer,
    NLHFTrainer,
    OnlineIPOTrainer,
)

__all__ = ["EGPOConfig", "EGPOTrainer", "NLHFConfig", "NLHFTrainer", "NashMDConfig",
           "NashMDTrainer", "NashMPConfig", "NashMPTrainer", "NashProxConfig",
           "NashProxTrainer", "OnlineIPOConfig", "OnlineIPOTrainer"]
