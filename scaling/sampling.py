"""Sampling for the trainer: prompts, responses from a module, the Nash-MD mixture or
uniform, the opponents' enumerated probabilities, and log π(responses).

On an enumerable response space (a policy with ``log_probs_all``) every sample is an exact
categorical draw from the enumerated probabilities, and ``log_probs`` evaluates every
response once and indexes. Every draw comes from the one seeded ``generator``, so a run is
reproducible and every process of a DDP run draws the same global batch.
"""

import torch

from nashlab.scaling.policies import TokenResponses, geometric_mixture


def concat(a, b):
    """One batch of responses a then b (LM responses all have max_new_tokens columns)."""
    if isinstance(a, TokenResponses):
        return TokenResponses(torch.cat([a.ids, b.ids]), torch.cat([a.mask, b.mask]))
    return torch.cat([a, b])


class Sampler:
    """Draws for one trainer. ``modules``: name -> module ("policy", "anchor", "half",
    "reference"; the modules are updated in place, so the sampler always sees their current
    parameters); ``config``: the ``TrainConfig`` (temperature, η'β of the mixture)."""

    def __init__(self, modules, generator, config, contexts=None):
        self.modules, self.generator, self.config, self.contexts = modules, generator, config, contexts
        self.policy, self.reference = modules["policy"], modules["reference"]
        self.enumerable = hasattr(self.policy, "log_probs_all")
        self.all = self.policy.all_responses() if self.enumerable else None

    def module(self, name):
        """The module a plan names ("anchor", "half", ...); any other value is returned as is
        ("mixture", "uniform" or a module)."""
        return self.modules.get(name, name) if isinstance(name, str) else name

    def sample_contexts(self, num):
        if self.contexts is None:
            return None
        idx = torch.randint(len(self.contexts), (num,), generator=self.generator)
        return [self.contexts[i] for i in idx.tolist()]

    def sample(self, source, num, contexts):
        """``num`` responses from a module, the Nash-MD mixture, or uniform."""
        if source == "uniform":
            idx = torch.randint(self.policy.num_responses, (num,), generator=self.generator)
            return self.policy.responses_from_indices(idx)
        if source == "mixture":
            if self.enumerable:
                idx = torch.multinomial(self.opponent_probs("mixture"), num, True,
                                        generator=self.generator)
                return self.policy.responses_from_indices(idx)
            return self.modules["anchor"].sample(num, contexts, generator=self.generator,
                                                 temperature=self.config.temperature,
                                                 mixture=(self.reference, self.config.mixture_weight))
        temperature = 1.0 if source is self.reference else self.config.temperature
        if self.enumerable:
            with torch.no_grad():
                probs = torch.softmax(source.log_probs_all().to(torch.float64) / temperature, -1)
            idx = torch.multinomial(probs, num, True, generator=self.generator)
            return self.policy.responses_from_indices(idx)
        return source.sample(num, contexts, generator=self.generator, temperature=temperature)

    @torch.no_grad()
    def opponent_probs(self, opponent):
        """The enumerated probabilities of an opponent (float64)."""
        if opponent == "mixture":
            logp = geometric_mixture(self.modules["anchor"].log_probs_all(),
                                     self.reference.log_probs_all(), self.config.mixture_weight)
        else:
            logp = self.module(opponent).log_probs_all()
        return logp.to(torch.float64).exp()

    def log_probs(self, module, responses, contexts):
        """log π(responses); ``module`` is the (possibly DDP-wrapped) trained model or a
        frozen copy."""
        if self.enumerable:
            return module(self.all)[self.policy.index_of(responses)]
        return module(responses, contexts)
