"""The same updates for torch policies: tabular logits, small networks, HF causal LMs.

Every neural update regresses onto (or follows the policy gradient towards) the one prox
step of ``nashlab.solvers.prox``; on an exactly solvable ``SequenceGame`` the result is
scored by the exact KL to the certified π*. ``SequenceGame`` needs only NumPy; the rest
needs the ``neural`` extra (torch, transformers, accelerate, safetensors) and is imported
on first use, so ``import nashlab.scaling`` never imports torch.
"""

import importlib

from nashlab.scaling.sequence_game import SequenceGame

_LAZY = {
    "Trainer": "nashlab.scaling.trainer",
    "TrainingError": "nashlab.scaling.errors",
    "CheckpointError": "nashlab.scaling.errors",
    "TrainConfig": "nashlab.scaling.config",
    "TabularPolicy": "nashlab.scaling.policies",
    "AutoregressivePolicy": "nashlab.scaling.policies",
    "CausalLMPolicy": "nashlab.scaling.policies",
    "TokenResponses": "nashlab.scaling.policies",
    "PreferenceOracle": "nashlab.scaling.oracles",
    "MatrixOracle": "nashlab.scaling.oracles",
    "SequenceGameOracle": "nashlab.scaling.oracles",
    "BradleyTerryOracle": "nashlab.scaling.oracles",
    "PairwiseModelOracle": "nashlab.scaling.oracles",
    "CallableOracle": "nashlab.scaling.oracles",
}

__all__ = ["SequenceGame", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nashlab.scaling' has no attribute {name!r}")
