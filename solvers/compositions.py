"""The four compositions of the one prox step that every family's methods are made of.

A method sees its problem through a payoff operator F: logits ↦ payoff g, and a step
S(ℓ, g) = normalise(a·ℓ + b·log μ + c·g) with (a, b, c) from ``prox.step_coefficients``:

* preference game   F(ℓ) = P·π                         (one symmetric player)
* matrix game       F(u, v) = (A·y, −Aᵀ·x)             (x = e^u maximises, y = e^v)
* population        F(ℓ)_i = P·π̄₋ᵢ                    (π̄₋ᵢ the others' average)
* Markov game       F(u, v)(s) = (Q(s)·y(s), −Q(s)ᵀ·x(s)) with Q frozen for the step

Logits and payoffs are arrays, or tuples of arrays (one per player) handled blockwise.

==============  ==============================================  ===========================
composition     update                                          methods
==============  ==============================================  ===========================
"single"        ℓ⁺ = S(ℓ, F(ℓ))                                 MMD, OMD/online IPO, Hedge
"extragradient" h = S(ℓ, F(ℓ));  ℓ⁺ = S(ℓ, F(h))                Nash-MP, EGPO/PU, Mirror Prox
"optimistic"    h = S(ℓ, ĝ);  g = F(h);  ℓ⁺ = S(ℓ, g);  ĝ ← g   OMWU / ONPO
"mixture"       h = S(ℓ, 0);  ℓ⁺ = S(ℓ, F(h))                   Nash-MD
==============  ==============================================  ===========================

(Korpelevich extragradient / Nemirovski Mirror Prox 2004; Rakhlin–Sridharan optimism as
in Cen, Wei, Chi arXiv 2105.15186 Alg. 2; Nash-MD, Munos et al. arXiv 2312.00886 eq. 5:
S(ℓ, 0) is the geometric mixture π^{1−ηβ}μ^{ηβ} in the mirror-descent form.)

Each composition returns ``(ℓ⁺, h, g)``: the new logits, the point where F was last
evaluated (the midpoint h, or ℓ for "single": Mirror Prox averages it) and F there (the
optimistic predictor ĝ of the next step).
"""

from nashlab.solvers.prox import affine_step

COMPOSITION_NAMES = ("single", "extragradient", "optimistic", "mixture")


def make_step(coefficients, log_reference):
    """S(ℓ, g) = normalise(a·ℓ + b·log μ + c·g), blockwise over tuples of players."""
    if isinstance(log_reference, tuple):
        def step(logits, g):
            g = (None,) * len(logits) if g is None else g
            return tuple(affine_step(ell, gi, coefficients, ref)
                         for ell, gi, ref in zip(logits, g, log_reference, strict=True))
    else:
        def step(logits, g):
            return affine_step(logits, g, coefficients, log_reference)
    return step


def single(logits, payoff, step, predictor=None):
    """ℓ⁺ = S(ℓ, F(ℓ))."""
    g = payoff(logits)
    return step(logits, g), logits, g


def extragradient(logits, payoff, step, predictor=None):
    """h = S(ℓ, F(ℓ)); ℓ⁺ = S(ℓ, F(h))."""
    half = step(logits, payoff(logits))
    g = payoff(half)
    return step(logits, g), half, g


def optimistic(logits, payoff, step, predictor=None):
    """h = S(ℓ, ĝ) with ĝ the last step's F(h) (F(ℓ) at the first step); ℓ⁺ = S(ℓ, F(h))."""
    half = step(logits, payoff(logits) if predictor is None else predictor)
    g = payoff(half)
    return step(logits, g), half, g


def mixture(logits, payoff, step, predictor=None):
    """h = S(ℓ, 0) (the geometric mixture with the reference); ℓ⁺ = S(ℓ, F(h))."""
    half = step(logits, None)
    g = payoff(half)
    return step(logits, g), half, g


COMPOSITIONS = {"single": single, "extragradient": extragradient, "optimistic": optimistic,
                "mixture": mixture}
