"""Preference oracles behind one protocol: P(y ≻ y' | x) for a batch of pairs.

``oracle(contexts, a, b)`` returns a float64 tensor of shape (B,) with entries in [0, 1].
Every oracle batches its calls (``batch_size`` pairs at a time), validates what it gets
back (shape, finiteness, range: a ``ValueError`` naming the oracle otherwise, never a clip)
and counts the pairs it was asked about in ``queries``.

- ``MatrixOracle``: the exact matrix of a ``PreferenceGame`` (responses are indices).
- ``SequenceGameOracle``: the exact preferences of a ``SequenceGame`` (token sequences).
- ``BradleyTerryOracle``: P = σ(r(x, y) − r(x, y')) from any scalar reward function, e.g. a
  ``transformers`` sequence classifier with one label (``from_reward_model``).
- ``PairwiseModelOracle``: a ``transformers`` sequence classifier reading the pair,
  symmetrised so that P(a ≻ b) + P(b ≻ a) = 1 exactly.
- ``CallableOracle``: any Python callable ``judge(contexts, a, b)`` (an LLM judge, a human).

Exact oracles (``exact = True``) also give the whole matrix, for exact expectations
P(y ≻ π') on enumerable response spaces.
"""

import numpy as np
import torch

from nashlab.games.preference import PreferenceGame


def batch_length(x) -> int:
    return x.shape[0] if torch.is_tensor(x) else len(x)


def take(x, index):
    """Rows ``index`` (a slice or an index tensor) of responses/contexts; None stays None."""
    if x is None:
        return None
    if isinstance(x, list | tuple):
        if isinstance(index, slice):
            return list(x[index])
        return [x[i] for i in index.tolist()]
    return x[index]


def real_float64(x, name) -> torch.Tensor:
    """``x`` (a tensor or array-like of real numbers; bool counts as 0/1) as a float64 CPU
    tensor. Complex, string or object data is a TypeError naming ``name``: casting would drop
    the imaginary part or parse text silently."""
    if torch.is_tensor(x):
        if x.is_complex():
            raise TypeError(f"{name} must be real numbers, got a {x.dtype} tensor")
        return x.detach().to("cpu", torch.float64)
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be an array of real numbers ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    return torch.as_tensor(arr.astype(np.float64))


def check_indices(x, name, high) -> torch.Tensor:
    """``x`` as an int64 tensor of indices in [0, ``high``): a float, bool or complex index is
    a TypeError, one outside the range a ValueError (−1 would wrap to the last entry)."""
    idx = x if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise TypeError(f"{name} must be integer indices, got {idx.dtype}")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= high):
        raise ValueError(f"{name} must lie in [0, {high}), got entries in "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    return idx.long()


class PreferenceOracle:
    """Base class: subclasses implement ``_prefer(contexts, a, b) -> array-like (B,)``."""

    exact = False

    def __init__(self, *, batch_size=None):
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        self.batch_size = batch_size
        self.queries = 0

    def __call__(self, contexts, a, b, *, count=True) -> torch.Tensor:
        B = batch_length(a)
        if batch_length(b) != B or (contexts is not None and len(contexts) != B):
            raise ValueError("an oracle call needs contexts, a and b of the same batch length")
        step = self.batch_size or max(B, 1)
        parts = [self._checked(take(contexts, slice(i, i + step)), take(a, slice(i, i + step)),
                               take(b, slice(i, i + step))) for i in range(0, B, step)]
        if count:
            self.queries += B
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)

    def _checked(self, contexts, a, b):
        B = batch_length(a)
        name = type(self).__name__
        out = real_float64(self._prefer(contexts, a, b), f"{name}'s answer")
        if out.shape != (B,):
            raise ValueError(f"{name} must return one probability per pair, shape ({B},); "
                             f"got shape {tuple(out.shape)}")
        if not torch.isfinite(out).all() or (out < 0).any() or (out > 1).any():
            raise ValueError(f"{name} returned values outside [0, 1] (range "
                             f"[{out.min().item():.3g}, {out.max().item():.3g}]); preferences are "
                             "probabilities and are never clipped")
        return out

    def _prefer(self, contexts, a, b):
        raise NotImplementedError


class MatrixOracle(PreferenceOracle):
    """P(a ≻ b) = P[a, b] of a single ``PreferenceGame``; responses are indices (B,)."""

    exact = True

    def __init__(self, game, *, batch_size=None):
        super().__init__(batch_size=batch_size)
        if not isinstance(game, PreferenceGame) or game.batch_shape:
            raise TypeError("MatrixOracle needs a single (unbatched) PreferenceGame")
        self.game = game
        self.P = torch.from_numpy(np.array(game.P))

    def index(self, responses):
        """The rows of P: integer indices in [0, n)."""
        return check_indices(responses, "responses", self.P.shape[0])

    def _prefer(self, contexts, a, b):
        return self.P[self.index(a), self.index(b)]

    def expected_wins(self, opponent_probs, *, count=True):
        """The exact vector (Pπ')_y = P(y ≻ π') over every response (n² queries)."""
        if count:
            self.queries += self.P.shape[0] ** 2
        return self.P @ opponent_probs.detach().to(torch.float64)


class SequenceGameOracle(MatrixOracle):
    """The exact preferences of a ``SequenceGame``; responses are token sequences (B, L)."""

    def __init__(self, sequence_game, *, batch_size=None):
        super().__init__(sequence_game.preference_game(), batch_size=batch_size)
        self.sequence_game = sequence_game
        self._powers = sequence_game.vocab ** torch.arange(sequence_game.length - 1, -1, -1)

    def index(self, responses):
        if responses.ndim != 2 or responses.shape[1] != self.sequence_game.length:
            raise ValueError(f"responses must be token sequences of shape (B, "
                             f"{self.sequence_game.length}), got {tuple(responses.shape)}")
        tokens = check_indices(responses, "responses' tokens", self.sequence_game.vocab)
        return tokens @ self._powers


class CallableOracle(PreferenceOracle):
    """Wraps ``judge(contexts, a, b) -> (B,) probabilities`` (validated, never clipped)."""

    def __init__(self, judge, *, batch_size=None):
        super().__init__(batch_size=batch_size)
        if not callable(judge):
            raise TypeError(f"judge must be callable, got {type(judge).__name__}")
        self.judge = judge

    def _prefer(self, contexts, a, b):
        return self.judge(contexts, a, b)


class BradleyTerryOracle(PreferenceOracle):
    """P(a ≻ b | x) = σ(r(x, a) − r(x, b)) for a scalar reward ``reward(contexts, responses)``."""

    def __init__(self, reward, *, batch_size=None):
        super().__init__(batch_size=batch_size)
        if not callable(reward):
            raise TypeError(f"reward must be callable, got {type(reward).__name__}")
        self.reward = reward

    @classmethod
    def from_reward_model(cls, model, tokenizer, policy, *, batch_size=None):
        """A ``transformers`` sequence classifier with one label scores prompt + response
        text; ``policy`` (a ``CausalLMPolicy``) decodes the responses."""
        if model.config.num_labels != 1:
            raise ValueError(f"a reward model needs num_labels = 1, got {model.config.num_labels}")

        @torch.no_grad()
        def reward(contexts, responses):
            texts = [f"{c} {r}" for c, r in zip(contexts, policy.decode(responses), strict=True)]
            enc = tokenizer(texts, return_tensors="pt", padding=True).to(model.device)
            return model(**enc).logits[:, 0].double()

        return cls(reward, batch_size=batch_size)

    def _prefer(self, contexts, a, b):
        r_a = real_float64(self.reward(contexts, a), "reward")
        r_b = real_float64(self.reward(contexts, b), "reward")
        return torch.sigmoid(r_a - r_b)


class PairwiseModelOracle(PreferenceOracle):
    """A ``transformers`` sequence classifier over the pair (prompt + a, b) with one logit f.

    P(a ≻ b) = ½·(σ(f(x, a, b)) + 1 − σ(f(x, b, a))): the symmetrisation makes
    P(a ≻ b) + P(b ≻ a) = 1 and P(a ≻ a) = ½ exactly, whatever the classifier.
    """

    def __init__(self, model, tokenizer, policy, *, batch_size=None):
        super().__init__(batch_size=batch_size)
        if model.config.num_labels != 1:
            raise ValueError(f"a pairwise preference model needs num_labels = 1, "
                             f"got {model.config.num_labels}")
        if len(tokenizer) > model.get_input_embeddings().num_embeddings:
            raise ValueError("preference model and its tokenizer do not match: the tokenizer has "
                             f"{len(tokenizer)} tokens, the model's embedding "
                             f"{model.get_input_embeddings().num_embeddings}")
        self.model, self.tokenizer, self.policy = model, tokenizer, policy

    @torch.no_grad()
    def _logit(self, contexts, first, second):
        enc = self.tokenizer([f"{c} {f}" for c, f in zip(contexts, first, strict=True)], second,
                             return_tensors="pt", padding=True).to(self.model.device)
        return self.model(**enc).logits[:, 0].double()

    def _prefer(self, contexts, a, b):
        ta, tb = self.policy.decode(a), self.policy.decode(b)
        return 0.5 * (torch.sigmoid(self._logit(contexts, ta, tb))
                      + torch.sigmoid(-self._logit(contexts, tb, ta)))
