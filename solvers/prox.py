"""The one primitive: an entropic proximal step in log-space, and its coefficient form.

    log π⁺ = ( log π  +  ηβ·log μ  +  η·g ) / (1 + ηβ)  −  log Z

is the maximiser of ⟨p, g⟩ − β·KL(p‖μ) − (1/η)·KL(p‖π) over the simplex (closed form of
the mirror step with the composite KL regulariser; Nash-MP, Tiapkin et al., arXiv
2505.19731, and theory notes nlhf.md §2). With β = 0 it is the Hedge / exponential-weights
step; with η = ∞ it is the regularized best response log π⁺ = log μ + g/β − log Z.

The mirror-descent form used by Nash-MD, PU/EGPO and OMD,

    log π⁺ = (1 − η'β)·log π + η'β·log μ + η'·g,   0 < η'β ≤ 1,

is the same step with η = η'/(1 − η'β) (``eta_from_mirror_descent``).

Both are the affine step ℓ⁺ = normalise(a·ℓ + b·log μ + c·g) with the coefficients of
``step_coefficients``: every method of every family, the equilibrium warm start, the packed
solver and the compiled kernels take their (a, b, c) from there, and the compositions of
``nashlab.solvers.compositions`` apply it through ``affine_step``.

All functions work on the array namespace of their inputs (NumPy or CuPy) and broadcast
over leading batch axes.
"""

import math

from nashlab._xp import array_namespace, normalize_logits
from nashlab.games._validation import as_float_array, check_logits, check_scalar

#: the two parametrisations of the step size
STEP_FORMS = ("prox", "mirror-descent")


def step_coefficients(form, eta, beta):
    """(a, b, c) of ℓ⁺ = normalise(a·ℓ + b·log μ + c·g) for the step form ``form``.

    "prox" (Nash-MP arXiv 2505.19731, MMD arXiv 2206.05825): (1, ηβ, η)/(1+ηβ), and
    (0, 1, 1/β) at η = ∞ (the regularized best response). "mirror-descent" (Nash-MD arXiv
    2312.00886 eq. 5, EGPO arXiv 2503.08942, PU/OMWU arXiv 2105.15186): (1 − η'β, η'β, η').
    """
    if not isinstance(form, str):
        raise TypeError(f"form must be one of {STEP_FORMS} (a str), got {type(form).__name__}")
    if not (isinstance(eta, float) and math.isinf(eta) and eta > 0):
        eta = check_scalar(eta, "eta", low=0.0, low_open=True)
    beta = check_scalar(beta, "beta", low=0.0)
    if form == "mirror-descent":
        if eta * beta > 1:
            raise ValueError(f"the mirror-descent step needs eta·beta ≤ 1, got {eta * beta:g}")
        return 1.0 - eta * beta, eta * beta, eta
    if form != "prox":
        raise ValueError(f"form must be one of {STEP_FORMS}, got {form!r}")
    if math.isinf(eta):
        if beta <= 0:
            raise ValueError("eta = inf (the best response) needs beta > 0")
        return 0.0, 1.0, 1.0 / beta
    scale = 1.0 / (1.0 + eta * beta)
    return scale, eta * beta * scale, eta * scale


def affine_step(log_anchor, g, coefficients, log_reference):
    """normalise(a·ℓ + b·log μ + c·g) without validation (the compositions' inner step).

    ``g`` None is the zero payoff; ``log_reference`` is not read when b = 0.
    """
    a, b, c = coefficients
    xp = array_namespace(log_anchor)
    if a == 0:  # the best response: the anchor does not enter (also where it is −inf)
        z = xp.zeros_like(log_anchor)
    else:
        z = log_anchor if a == 1 else a * log_anchor
    if b != 0:
        z = z + b * log_reference
    if g is not None:
        z = z + c * g
    return normalize_logits(z, xp)


def prox_step(log_anchor, g, *, eta, beta, log_reference):
    """One entropic prox step from the anchor ``log_anchor`` with payoff ``g``.

    Parameters
    ----------
    log_anchor : (..., n) log-probabilities of the anchor π (−inf allowed off its support).
    g : (..., n) payoff vector (e.g. Pπ' for a preference game, a Q-row for an MDP), finite.
    eta : step size η > 0, or ``math.inf`` for the regularized best response (β > 0).
    beta : KL weight β ≥ 0 towards the reference μ.
    log_reference : (..., n) or (n,) log μ (ignored when β = 0; may be None then).
    Returns the normalised log-probabilities of π⁺.
    """
    xp = array_namespace(log_anchor, g)
    if xp.__name__ == "numpy":
        log_anchor, g = _check_step_inputs(log_anchor, g)
    coefficients = step_coefficients("prox", eta, beta)
    if coefficients[1] != 0 and log_reference is None:
        raise ValueError("log_reference is required when beta > 0")
    if coefficients[1] != 0 and xp.__name__ == "numpy":
        log_reference = check_logits(log_reference, "log_reference")
        if log_reference.shape[-1:] != log_anchor.shape[-1:]:
            raise ValueError(f"log_reference must have the last axis of log_anchor, got shapes "
                             f"{log_reference.shape} and {log_anchor.shape}")
    return affine_step(log_anchor, g, coefficients, log_reference)


def _check_step_inputs(log_anchor, g):
    """NumPy inputs as float arrays with one last axis (−inf allowed in the anchor, not NaN)."""
    anchor, g = check_logits(log_anchor, "log_anchor"), as_float_array(g, "g")
    if anchor.shape[-1:] != g.shape[-1:]:
        raise ValueError(f"log_anchor and g must have the same last axis, got shapes "
                         f"{anchor.shape} and {g.shape}")
    return anchor, g


def eta_from_mirror_descent(eta_md, beta):
    """The prox step size η equivalent to the mirror-descent step η' (η = η'/(1 − η'β)).

    η'β = 1 is the best response (η = ∞); η'β > 1 over-shoots and has no prox form.
    """
    eta_md = check_scalar(eta_md, "eta_md", low=0.0, low_open=True)
    beta = check_scalar(beta, "beta", low=0.0)
    if eta_md * beta > 1:
        raise ValueError(f"the mirror-descent step needs eta_md·beta ≤ 1, got {eta_md * beta:g}")
    if eta_md * beta == 1:
        return math.inf
    return eta_md / (1.0 - eta_md * beta)
