"""Torch policies behind one small protocol.

A policy is a ``torch.nn.Module`` whose ``forward(responses, contexts=None)`` returns the
log-probabilities log π(y | x) of a batch of responses (shape (B,)), and whose
``sample(num, contexts=None, *, generator, temperature=1.0, mixture=None)`` draws ``num``
responses (one per context when contexts are given). Computing log-probabilities in
``forward`` lets accelerate's DDP wrapper see every gradient.

``mixture=(reference, w)`` samples from the geometric mixture π^{1−w}·μ^w (Nash-MD's
π^μ, Munos et al., arXiv 2312.00886, eq. 3), token by token: the mixed next-token
log-probabilities are (1−w)·log π(·|prefix) + w·log μ(·|prefix), renormalised. For a
single-token response this is the exact mixture; for sequences it is an approximation
(the normaliser of the sequence-level mixture does not factor over tokens). Enumerable
policies (tabular, ``AutoregressivePolicy``) also give ``log_probs_all()``, over every
response, for exact mixtures and exact metrics.

Policies:
- ``TabularPolicy``: one logit per response (responses are indices, or token sequences of a
  ``SequenceGame``).
- ``AutoregressivePolicy``: a small masked MLP over token sequences (MADE-style).
- ``CausalLMPolicy``: any ``transformers`` causal LM with its tokenizer (prompt masking,
  padding, sequence log-probabilities, sampling with temperature). A PEFT/LoRA model is a
  causal LM with the same call signature and works unchanged.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nashlab.solvers.prox import affine_step, eta_from_mirror_descent, step_coefficients


def prox_torch(log_anchor, g, *, eta, beta, log_reference):
    """``nashlab.solvers.prox.prox_step`` on torch tensors (computed in float64 NumPy, no
    gradient: the prox step only ever gives regression targets and sampling logits).

    The tensors are the network's own outputs, not user input: they are not validated here, so
    a diverged network gives a NaN target and the trainer's loss check stops the run at that
    step with its last good checkpoint (``TrainingError``)."""

    def arr(t):
        return t.detach().to("cpu", torch.float64).numpy() if torch.is_tensor(t) else np.asarray(t)

    out = affine_step(arr(log_anchor), arr(g), step_coefficients("prox", eta, beta),
                      arr(log_reference))
    like = log_anchor if torch.is_tensor(log_anchor) else g
    return torch.from_numpy(np.ascontiguousarray(out)).to(like.device)


def geometric_mixture(log_p, log_q, weight):
    """log of p^{1−w}·q^w / Z: the prox step from p with payoff 0, magnet q and KL weight 1
    at the mirror-descent step w (so the mixture is ``prox_step`` too)."""
    if weight == 0:
        return torch.log_softmax(log_p.to(torch.float64), -1).to(log_p.device)
    return prox_torch(log_p, torch.zeros_like(log_p), eta=eta_from_mirror_descent(weight, 1.0),
                      beta=1.0, log_reference=log_q)


def token_level_mixture(log_p, log_q, weight, *, vocab, length):
    """log-probabilities over all V^L sequences (lexicographic) of the token-level mixture.

    Nash-MD for LMs (and TRL's trainer before it) samples token by token from the mixed
    next-token distribution m(y_t | y_<t) ∝ p(y_t | y_<t)^{1−w}·q(y_t | y_<t)^w, so the
    sequence law is m(y) = Π_t m(y_t | y_<t). The sequence-level mixture of Nash-MD
    (Munos et al., arXiv 2312.00886, eq. 3) is p(y)^{1−w}q(y)^w / Z; the two agree at
    w ∈ {0, 1} and whenever p and q are products over positions, and differ otherwise
    because the normaliser of the sequence mixture does not factor over tokens.

    ``log_p``, ``log_q`` : (V^L,) finite joint log-probabilities. The conditionals come
    from the prefix marginals log p(y_≤t) (log-sum-exp over the later tokens); each
    position's mixture is ``geometric_mixture`` (the one mixture of the samplers).
    """
    if not 0 <= weight <= 1:
        raise ValueError(f"weight must be in [0, 1], got {weight!r}")
    shape = (vocab,) * length

    def prefix_logs(log_joint):
        lj = torch.as_tensor(log_joint, dtype=torch.float64)
        if lj.shape != (vocab ** length,) or not torch.isfinite(lj).all():
            raise ValueError(f"log-probabilities must be a finite vector of vocab**length = "
                             f"{vocab ** length} entries, got shape {tuple(lj.shape)}")
        lj = torch.log_softmax(lj, -1).reshape(shape)
        marginals = [lj]
        for _ in range(length - 1):
            marginals.append(torch.logsumexp(marginals[-1], -1))
        return marginals[::-1]  # marginals[t]: (V,)*(t+1), log p(y_≤t)

    mp, mq = prefix_logs(log_p), prefix_logs(log_q)
    total = torch.zeros(shape, dtype=torch.float64)
    for t in range(length):
        cond_p = mp[t] - (mp[t - 1][..., None] if t else 0.0)
        cond_q = mq[t] - (mq[t - 1][..., None] if t else 0.0)
        mixed = geometric_mixture(cond_p, cond_q, weight).reshape((vocab,) * (t + 1))
        total = total + mixed.reshape(mixed.shape + (1,) * (length - t - 1))
    return total.reshape(-1)


def token_mixture_kl(log_p, log_q, weight, *, vocab, length) -> dict:
    """The gap between the token-level and the sequence-level Nash-MD mixtures, exactly:
    ``{"token_to_sequence": KL(m_tok‖m_seq), "sequence_to_token": KL(m_seq‖m_tok)}`` with
    m_tok from ``token_level_mixture`` and m_seq = ``geometric_mixture`` of the joints (the
    exact mixture the samplers use on enumerable spaces). Both are 0 at w ∈ {0, 1}."""
    from nashlab.games.metrics import kl_from_logs

    tok = token_level_mixture(log_p, log_q, weight, vocab=vocab, length=length).numpy()
    seq = geometric_mixture(torch.as_tensor(log_p, dtype=torch.float64),
                            torch.as_tensor(log_q, dtype=torch.float64), weight).numpy()
    return {"token_to_sequence": float(kl_from_logs(np.exp(tok), tok, seq)),
            "sequence_to_token": float(kl_from_logs(np.exp(seq), seq, tok))}


def _check_temperature(temperature):
    if not (isinstance(temperature, int | float) and temperature > 0 and np.isfinite(temperature)):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")


class TabularPolicy(nn.Module):
    """π_θ = softmax(θ): one logit per response.

    ``logits``: the initial logits (n,). With ``vocab`` and ``length`` the responses are token
    sequences (B, L) of a ``SequenceGame`` (indexed lexicographically); otherwise indices (B,).
    """

    def __init__(self, logits, *, vocab=None, length=None, dtype=torch.float64):
        super().__init__()
        logits = torch.as_tensor(np.array(logits, dtype=np.float64), dtype=dtype)
        if logits.ndim != 1 or not torch.isfinite(logits).all():
            raise ValueError(f"logits must be a finite vector, got shape {tuple(logits.shape)}")
        self.logits = nn.Parameter(logits.clone())
        self.vocab, self.length = vocab, length
        if vocab is not None and vocab ** length != logits.numel():
            raise ValueError(f"logits must have vocab**length = {vocab ** length} entries, "
                             f"got {logits.numel()}")
        if vocab is not None:
            self.register_buffer("_powers", vocab ** torch.arange(length - 1, -1, -1),
                                 persistent=False)

    @property
    def num_responses(self) -> int:
        return self.logits.numel()

    def index_of(self, responses):
        """Indices of ``responses`` in the enumeration order of ``all_responses``."""
        return responses if self.vocab is None else responses @ self._powers

    def responses_from_indices(self, index):
        if self.vocab is None:
            return index
        return (index[:, None] // self._powers) % self.vocab

    def all_responses(self):
        return self.responses_from_indices(torch.arange(self.num_responses))

    def forward(self, responses, contexts=None):
        return torch.log_softmax(self.logits, -1)[self.index_of(responses)]

    def log_probs_all(self):
        return torch.log_softmax(self.logits, -1)

    @torch.no_grad()
    def sample(self, num, contexts=None, *, generator, temperature=1.0, mixture=None):
        _check_temperature(temperature)
        logp = self.log_probs_all()
        if mixture is not None:
            logp = geometric_mixture(logp, mixture[0].log_probs_all(), mixture[1])
        probs = torch.softmax(logp / temperature, -1)
        return self.responses_from_indices(torch.multinomial(probs, num, True, generator=generator))


class AutoregressivePolicy(nn.Module):
    """π_θ(y) = Π_t softmax(f_θ(y_<t, t))[y_t] over sequences in {0..V−1}^L.

    f_θ is an MLP whose input is the one-hot prefix y_<t (future positions zeroed, as in
    MADE's masking) and the one-hot position t. The output layer starts at zero, so π_θ
    starts uniform.
    """

    def __init__(self, vocab, length, *, hidden=128, layers=2, seed=0, dtype=torch.float64):
        super().__init__()
        if vocab < 2 or length < 1 or hidden < 1 or layers < 1:
            raise ValueError("AutoregressivePolicy needs vocab ≥ 2, length ≥ 1, hidden ≥ 1, layers ≥ 1")
        self.vocab, self.length = int(vocab), int(length)
        gen = torch.Generator().manual_seed(seed)
        dims = [length * vocab + length] + [hidden] * layers
        blocks = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            blocks += [nn.Linear(a, b, dtype=dtype), nn.Tanh()]
        out = nn.Linear(hidden, vocab, dtype=dtype)
        self.net = nn.Sequential(*blocks, out)
        with torch.no_grad():
            for layer in self.net:
                if isinstance(layer, nn.Linear):
                    bound = layer.in_features ** -0.5
                    layer.weight.uniform_(-bound, bound, generator=gen)
                    layer.bias.zero_()
            out.weight.zero_()
        self.register_buffer("_mask", torch.tril(torch.ones(length, length, dtype=dtype), -1),
                             persistent=False)
        self.register_buffer("_positions", torch.eye(length, dtype=dtype), persistent=False)
        self.register_buffer("_powers", vocab ** torch.arange(length - 1, -1, -1), persistent=False)

    @property
    def num_responses(self) -> int:
        return self.vocab ** self.length

    def token_log_probs(self, tokens):
        """(B, L, V): log π(· | y_<t) at every position t."""
        B, L = tokens.shape
        onehot = F.one_hot(tokens, self.vocab).to(self._mask.dtype)           # (B, L, V)
        prefix = onehot[:, None, :, :] * self._mask[None, :, :, None]         # (B, t, s, V)
        x = torch.cat([prefix.reshape(B, L, L * self.vocab),
                       self._positions.expand(B, L, L)], -1)
        return torch.log_softmax(self.net(x), -1)

    def forward(self, responses, contexts=None):
        lp = self.token_log_probs(responses)
        return lp.gather(-1, responses[..., None])[..., 0].sum(-1)

    def responses_from_indices(self, index):
        return (index[:, None] // self._powers) % self.vocab

    def index_of(self, responses):
        """Lexicographic indices of token sequences (the order of ``all_responses``)."""
        return responses @ self._powers

    def all_responses(self):
        return self.responses_from_indices(torch.arange(self.num_responses))

    def log_probs_all(self):
        return self(self.all_responses())

    @torch.no_grad()
    def sample(self, num, contexts=None, *, generator, temperature=1.0, mixture=None):
        _check_temperature(temperature)
        tokens = torch.zeros(num, self.length, dtype=torch.long)
        for t in range(self.length):
            logp = self.token_log_probs(tokens)[:, t]
            if mixture is not None:
                ref, w = mixture
                logp = geometric_mixture(logp, ref.token_log_probs(tokens)[:, t], w)
            probs = torch.softmax(logp / temperature, -1)
            tokens[:, t] = torch.multinomial(probs, 1, generator=generator)[:, 0]
        return tokens


@dataclass
class TokenResponses:
    """A batch of sampled LM responses: ``ids`` (B, T) right-padded, ``mask`` (B, T) marks
    the response tokens (up to and including the first end-of-sequence token)."""

    ids: torch.Tensor
    mask: torch.Tensor

    def __len__(self):
        return self.ids.shape[0]

    def __getitem__(self, index):
        return TokenResponses(self.ids[index], self.mask[index])


class CausalLMPolicy(nn.Module):
    """Adapter for a ``transformers`` causal LM and its tokenizer.

    Contexts are prompt strings; responses are ``TokenResponses``. log π(y|x) sums the
    response tokens' log-probabilities (prompt and padding masked out); prompts are
    left-padded and position ids follow the attention mask. The model is used in the mode
    it is given in: put it in eval mode (no dropout) for deterministic log-probabilities.
    """

    needs_contexts = True

    def __init__(self, model, tokenizer, *, max_new_tokens=8):
        super().__init__()
        embeddings = model.get_input_embeddings().num_embeddings
        if len(tokenizer) > embeddings:
            raise ValueError(f"tokenizer and model do not match: the tokenizer has {len(tokenizer)} "
                             f"tokens but the model's embedding has {embeddings} rows")
        if tokenizer.eos_token_id is None:
            raise ValueError("tokenizer must define an eos_token (it ends sampled responses)")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
        self.model, self.tokenizer, self.max_new_tokens = model, tokenizer, max_new_tokens
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.eos_id = tokenizer.eos_token_id

    def _device(self):
        return next(self.model.parameters()).device

    def encode_prompts(self, contexts):
        """Left-padded prompt ids and attention mask, (B, P)."""
        if isinstance(contexts, str) or not all(isinstance(c, str) for c in contexts):
            raise TypeError("contexts must be a list of prompt strings")
        rows = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in contexts]
        width = max(1, max(len(r) for r in rows))
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            if r:
                ids[i, width - len(r):] = torch.tensor(r)
                mask[i, width - len(r):] = 1
        return ids.to(self._device()), mask.to(self._device())

    def _logits(self, ids, mask):
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return self.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits

    def forward(self, responses, contexts=None):
        p_ids, p_mask = self.encode_prompts(contexts)
        r_ids, r_mask = responses.ids.to(p_ids.device), responses.mask.to(p_ids.device)
        ids = torch.cat([p_ids, r_ids], -1)
        mask = torch.cat([p_mask, r_mask.long()], -1)
        logits = self._logits(ids, mask)[:, p_ids.shape[1] - 1:-1]
        logp = torch.log_softmax(logits.float() if logits.dtype in (torch.float16, torch.bfloat16)
                                 else logits, -1)
        token_logp = logp.gather(-1, r_ids[..., None])[..., 0]
        return (token_logp * r_mask).sum(-1)

    @torch.no_grad()
    def next_token_log_probs(self, ids, mask):
        return torch.log_softmax(self._logits(ids, mask)[:, -1].double(), -1)

    @torch.no_grad()
    def sample(self, num, contexts=None, *, generator, temperature=1.0, mixture=None):
        _check_temperature(temperature)
        if contexts is None or len(contexts) != num:
            raise ValueError("CausalLMPolicy.sample needs one prompt per sample (contexts of length num)")
        ids, mask = self.encode_prompts(contexts)
        out = torch.full((num, self.max_new_tokens), self.pad_id, dtype=torch.long)
        out_mask = torch.zeros(num, self.max_new_tokens, dtype=torch.bool)
        alive = torch.ones(num, dtype=torch.bool)
        for t in range(self.max_new_tokens):
            logp = self.next_token_log_probs(ids, mask)
            if mixture is not None:
                ref, w = mixture
                logp = geometric_mixture(logp, ref.next_token_log_probs(ids, mask), w)
            token = torch.multinomial(torch.softmax(logp.cpu() / temperature, -1), 1,
                                      generator=generator)[:, 0]
            token = torch.where(alive, token, torch.full_like(token, self.pad_id))
            out[:, t], out_mask[:, t] = token, alive
            alive = alive & (token != self.eos_id)
            ids = torch.cat([ids, token[:, None].to(ids.device)], -1)
            mask = torch.cat([mask, out_mask[:, t:t + 1].long().to(mask.device)], -1)
            if not alive.any():
                break
        return TokenResponses(out, out_mask)

    def decode(self, responses):
        """Response texts (special tokens dropped)."""
        return [self.tokenizer.decode(r[m].tolist(), skip_special_tokens=True)
                for r, m in zip(responses.ids, responses.mask, strict=True)]
