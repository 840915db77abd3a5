"""Reward functions and judges, given TRL's way, as nashlab preference oracles.

``reward_funcs`` (Bradley–Terry: P(y ≻ y' | x) = σ(r(x, y) − r(x, y')), with r the sum of
the rewards given):

- a ``transformers`` sequence classifier with one label, scoring "prompt response"
  (``BradleyTerryOracle.from_reward_model``);
- a callable ``f(prompts=..., completions=...) -> list[float]`` (TRL's reward-function
  signature, completions as text);
- a list of those (their rewards add up).

``judge`` (a general preference model, not Bradley–Terry):

- a ``transformers`` sequence classifier with one label reading the pair (prompt + y, y'),
  symmetrised (``PairwiseModelOracle``);
- a TRL-style pairwise judge: an object whose ``judge(prompts, completions)`` takes pairs
  ``[[y, y'], ...]`` and returns the index of the preferred completion (0 or 1) per pair,
  read as the sampled preference 1{y ≻ y'} (an unbiased estimate of P(y ≻ y'));
- a callable ``judge(prompts, completions_a, completions_b) -> probabilities``.
"""

import torch
from torch import nn

from nashlab.scaling.oracles import BradleyTerryOracle, CallableOracle, PairwiseModelOracle


def _is_model(obj):
    return isinstance(obj, nn.Module) and hasattr(obj, "config")


def _reward_oracle(func, tokenizer, policy):
    if _is_model(func):
        return BradleyTerryOracle.from_reward_model(func, tokenizer, policy)
    if callable(func):
        def reward(contexts, responses):
            return torch.as_tensor(func(prompts=list(contexts), completions=policy.decode(responses)),
                                   dtype=torch.float64)
        return BradleyTerryOracle(reward)
    raise TypeError("reward_funcs must be a sequence-classification model, a callable "
                    f"f(prompts=, completions=) -> list of floats, or a list of those; got "
                    f"{type(func).__name__}")


def reward_oracle(reward_funcs, tokenizers, policy) -> BradleyTerryOracle:
    """The Bradley–Terry oracle of one or several reward functions (``tokenizers``: one per
    reward function, for the models among them)."""
    funcs = list(reward_funcs) if isinstance(reward_funcs, list | tuple) else [reward_funcs]
    if not funcs:
        raise ValueError("reward_funcs must not be empty")
    if len(tokenizers) != len(funcs):
        raise ValueError(f"reward_processing_classes must give one tokenizer per reward function "
                         f"({len(funcs)}), got {len(tokenizers)}")
    oracles = [_reward_oracle(f, t, policy) for f, t in zip(funcs, tokenizers, strict=True)]
    if len(oracles) == 1:
        return oracles[0]
    return BradleyTerryOracle(lambda contexts, responses: sum(
        torch.as_tensor(o.reward(contexts, responses), dtype=torch.float64) for o in oracles))


def _choice_to_preference(choices, n):
    out = torch.as_tensor(choices, dtype=torch.float64)
    if out.shape != (n,) or not bool(((out == 0) | (out == 1)).all()):
        raise ValueError(f"a pairwise judge must return, per pair, the index (0 or 1) of the "
                         f"preferred completion: {n} indices; got {choices!r}")
    return 1.0 - out


def judge_oracle(judge, tokenizer, policy):
    """The preference oracle of a pairwise judge (see the module docstring)."""
    if _is_model(judge):
        return PairwiseModelOracle(judge, tokenizer, policy)
    if callable(getattr(judge, "judge", None)):
        def prefer(contexts, a, b):
            pairs = [list(p) for p in zip(policy.decode(a), policy.decode(b), strict=True)]
            return _choice_to_preference(judge.judge(list(contexts), pairs), len(pairs))
        return CallableOracle(prefer)
    if callable(judge):
        return CallableOracle(lambda contexts, a, b: judge(list(contexts), policy.decode(a),
                                                           policy.decode(b)))
    raise TypeError("judge must be a pairwise sequence-classification model, an object with "
                    "judge(prompts, completions) (TRL's pairwise judges) or a callable "
                    f"judge(prompts, completions_a, completions_b); got {type(judge).__name__}")
