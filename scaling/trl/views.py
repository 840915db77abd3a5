"""Frozen views of the one trained causal LM, without second copies of its frozen weights.

The samplers and losses of ``nashlab.scaling`` call a policy as ``policy(responses,
contexts)``, ``policy.sample(...)`` and ``policy.next_token_log_probs(ids, mask)``
(``CausalLMPolicy``). A view answers the same calls for another distribution by running the
trained ``CausalLMPolicy`` inside a context, with gradients off:

- ``SnapshotPolicy``: the policy with its *trainable* tensors swapped for a stored snapshot:
  the anchor π_k and Nash-MP's half step π_{k+½}. Only trainable tensors are stored (the
  LoRA adapters under PEFT), and the swap exchanges tensor storage, copying nothing.
- ``AdapterDisabledPolicy``: a PEFT model with its adapters disabled, i.e. the base model:
  the reference μ under PEFT. It holds no tensor at all, so it cannot drift from the base
  weights, and the Nash-MD mixture π_k^{1−α}μ^α samples from this μ (TRL's bug class: a
  mixture that sampled from the adapted model instead of the reference under PEFT).

Views nest: the anchor's mixture sampler calls the reference's next-token log-probabilities
inside the anchor's context, and the adapters-disabled reference ignores the adapters.
"""

from contextlib import contextmanager, nullcontext

import torch


class _View:
    """Runs the calls of a ``CausalLMPolicy`` inside ``self.context()`` with no gradient."""

    needs_contexts = True

    def __init__(self, policy):
        self.policy = policy

    def context(self):
        return nullcontext()

    def __call__(self, responses, contexts=None):
        with torch.no_grad(), self.context():
            return self.policy(responses, contexts)

    def sample(self, num, contexts=None, **options):
        with torch.no_grad(), self.context():
            return self.policy.sample(num, contexts, **options)

    def next_token_log_probs(self, ids, mask):
        with torch.no_grad(), self.context():
            return self.policy.next_token_log_probs(ids, mask)

    def _logits(self, ids, mask):
        with torch.no_grad(), self.context():
            return self.policy._logits(ids, mask)

    def encode_prompts(self, contexts):
        return self.policy.encode_prompts(contexts)

    def decode(self, responses):
        return self.policy.decode(responses)


class SnapshotPolicy(_View):
    """π_k: ``policy`` evaluated at a snapshot of its trainable tensors (taken now)."""

    def __init__(self, policy):
        super().__init__(policy)
        named = [(n, p) for n, p in policy.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("the policy has no trainable parameter to snapshot")
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.tensors = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def refresh(self, ema=0.0):
        """Snapshot ← current tensors (``ema`` m > 0: snapshot ← m·snapshot + (1 − m)·current)."""
        for t, p in zip(self.tensors, self.params, strict=True):
            if ema == 0:
                t.copy_(p)
            else:
                t.mul_(ema).add_(p.detach(), alpha=1 - ema)

    @contextmanager
    def context(self):
        swapped = []
        try:
            for t, p in zip(self.tensors, self.params, strict=True):
                live = p.data
                p.data = t
                swapped.append((p, live))
            yield
        finally:
            for p, live in swapped:
                p.data = live

    def state_dict(self) -> dict:
        return dict(zip(self.names, self.tensors, strict=True))

    @torch.no_grad()
    def load_state_dict(self, state, *, source="checkpoint"):
        """Restore the snapshot; names, shapes and dtypes must match (ValueError naming
        ``source`` otherwise; nothing is cast)."""
        if sorted(state) != sorted(self.names):
            raise ValueError(f"{source}: snapshot tensors {sorted(state)[:3]}... do not match the "
                             f"policy's trainable tensors {self.names[:3]}...")
        for name, t in zip(self.names, self.tensors, strict=True):
            new = state[name]
            if new.shape != t.shape or new.dtype != t.dtype:
                raise ValueError(f"{source}: tensor {name} has shape {tuple(new.shape)} and dtype "
                                 f"{new.dtype}, the policy's {tuple(t.shape)} and {t.dtype}")
            t.copy_(new)


class AdapterDisabledPolicy(_View):
    """μ under PEFT: the policy's ``PeftModel`` with its adapters disabled (the base model)."""

    def __init__(self, policy):
        if not hasattr(policy.model, "disable_adapter"):
            raise TypeError("AdapterDisabledPolicy needs a policy around a peft.PeftModel")
        super().__init__(policy)

    def context(self):
        return self.policy.model.disable_adapter()
