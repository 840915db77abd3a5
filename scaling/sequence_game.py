"""An exactly solvable sequence game: preferences over whole token sequences.

Responses are all sequences y = (y_1, …, y_L) over a vocabulary of V tokens, so the game has
n = V^L responses, small enough (n ≤ 4096) to enumerate. Enumerated, it is an ordinary
``PreferenceGame`` whose π*_β the certified solver (``nashlab.solvers.equilibrium``) gives
to machine precision, so a neural policy trained on the sequences can be scored by the
exact KL(π*‖π_θ). Sequences are ordered lexicographically: index(y) = Σ_t y_t·V^{L−t}.

Preference families (``preference=``), each P(y ≻ y') = σ(d(y, y')) with d antisymmetric,
symmetrised so that P + Pᵀ = 1 exactly:

- ``"bradley-terry"``: d = r(y) − r(y'), r(y) = Σ_t s_t[y_t] with token scores
  s ~ N(0, scale²): transitive (the Condorcet winner is argmax r).
- ``"cyclic"``: d = Σ_t C_t[y_t, y'_t] with C_t random antisymmetric token payoffs
  (entries scale·N(0, 1)): position-wise rock–paper–scissors, intransitive.
- ``"annotators"``: P = Σ_k w_k·σ(r_k(y) − r_k(y')), a mixture of three Bradley–Terry
  annotators with additive token scores (w ~ Dirichlet(1)): intransitive in general.
- ``"random"``: P(y ≻ y') ~ U(0, 1) independently per pair (the EGPO generator, Zhou et al.,
  arXiv 2503.08942), no sequence structure.

The reference μ is uniform (``reference_scale=0``) or a product of per-position token
distributions with logits ~ N(0, reference_scale²), which an autoregressive policy can
represent exactly.
"""

import numpy as np

from nashlab._xp import normalize_logits
from nashlab.games._validation import check_int, check_scalar, rng_from_seed
from nashlab.games.preference import PreferenceGame

FAMILIES = ("bradley-terry", "cyclic", "annotators", "random")

#: Largest enumerable game (P has MAX_RESPONSES² float64 entries: 128 MiB).
MAX_RESPONSES = 4096



def _sigmoid_matrix(d):
    """P = σ(d) for antisymmetric d, made exactly P + Pᵀ = 1."""
    P = 0.5 * (1.0 + np.tanh(0.5 * d))
    return 0.5 + 0.5 * (P - P.T)


class SequenceGame:
    """A β-regularized preference game over all V^L token sequences.

    Parameters
    ----------
    vocab : V ≥ 2 tokens.  length : L ≥ 1 positions; V^L must be ≤ 4096.
    preference : one of ``FAMILIES`` (see the module docstring).
    beta : KL weight β > 0.  scale : spread of the preference logits.
    reference_scale : 0 for a uniform μ, else the spread of the per-position token logits.
    seed : int or ``numpy.random.Generator`` for the random parts.
    """

    def __init__(self, vocab, length, preference="cyclic", *, beta=0.1, scale=1.0,
                 reference_scale=0.0, seed=0):
        self.vocab = check_int(vocab, "vocab", 2)
        self.length = check_int(length, "length", 1)
        if self.vocab ** self.length > MAX_RESPONSES:
            raise ValueError(f"vocab**length must be ≤ {MAX_RESPONSES} to enumerate the game, "
                             f"got {self.vocab}**{self.length} = {self.vocab ** self.length}")
        if preference not in FAMILIES:
            raise ValueError(f"preference must be one of {FAMILIES}, got {preference!r}")
        self.beta = check_scalar(beta, "beta", low=0.0, low_open=True)
        self.scale = check_scalar(scale, "scale", low=0.0)
        self.reference_scale = check_scalar(reference_scale, "reference_scale", low=0.0)
        self.preference = preference
        self.seed = seed
        rng = rng_from_seed(seed)
        self.sequences = self._enumerate()
        self.P = self._preferences(rng)
        self.P.setflags(write=False)
        self.token_log_reference = normalize_logits(
            self.reference_scale * rng.standard_normal((self.length, self.vocab)))
        self.log_reference = self.token_log_reference[np.arange(self.length), self.sequences].sum(-1)
        self._game = None

    @property
    def n(self) -> int:
        """Number of responses V^L."""
        return self.vocab ** self.length

    def _enumerate(self):
        digits = np.arange(self.n)[:, None] // self.vocab ** np.arange(self.length - 1, -1, -1)
        return (digits % self.vocab).astype(np.int64)

    def index(self, tokens) -> np.ndarray:
        """Lexicographic index of token sequences, shape (..., L) -> (...)."""
        tokens = np.asarray(tokens)
        if tokens.shape[-1:] != (self.length,):
            raise ValueError(f"tokens must have shape (..., {self.length}), got {tokens.shape}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab):
            raise ValueError(f"tokens must lie in [0, {self.vocab}), got range "
                             f"[{tokens.min()}, {tokens.max()}]")
        return tokens.astype(np.int64) @ (self.vocab ** np.arange(self.length - 1, -1, -1))

    def _preferences(self, rng):
        V, L, y = self.vocab, self.length, self.sequences
        if self.preference == "bradley-terry":
            r = (self.scale * rng.standard_normal((L, V)))[np.arange(L), y].sum(-1)
            return _sigmoid_matrix(r[:, None] - r[None, :])
        if self.preference == "cyclic":
            C = self.scale * rng.standard_normal((L, V, V))
            C = C - np.swapaxes(C, 1, 2)
            d = sum(C[t][y[:, t][:, None], y[:, t][None, :]] for t in range(L))
            return _sigmoid_matrix(d)
        if self.preference == "annotators":
            w = rng.dirichlet(np.ones(3))
            P = np.zeros((self.n, self.n))
            for k in range(3):
                r = (self.scale * rng.standard_normal((L, V)))[np.arange(L), y].sum(-1)
                P += w[k] * _sigmoid_matrix(r[:, None] - r[None, :])
            return 0.5 + 0.5 * (P - P.T)
        lower = rng.uniform(size=self.n * (self.n - 1) // 2)
        P = np.full((self.n, self.n), 0.5)
        i, j = np.tril_indices(self.n, -1)
        P[i, j] = lower
        P[j, i] = 1.0 - lower
        return P

    @property
    def reference(self) -> np.ndarray:
        """μ over the n sequences (a product of per-position token distributions)."""
        return np.exp(self.log_reference)

    def preference_game(self) -> PreferenceGame:
        """The enumerated game: a ``PreferenceGame`` over the n sequences (cached)."""
        if self._game is None:
            self._game = PreferenceGame(self.P, self.reference, self.beta)
        return self._game

    def __repr__(self):
        return (f"SequenceGame(vocab={self.vocab}, length={self.length}, "
                f"preference={self.preference!r}, beta={self.beta:g}, n={self.n})")
