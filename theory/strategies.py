"""Hypothesis strategies for preference games, exported so users can property-test their
own claims::

    from hypothesis import given
    from nashlab.theory.strategies import preference_games

    @given(preference_games(n_max=16))
    def test_my_claim(game): ...

Families: "uniform" (EGPO generator, P_ij ~ U(0,1)), "bradley-terry", "tournament",
"cyclic", "annotators" (mixtures of Bradley–Terry annotators). Peaked distributions have
logits ~ N(0, s²) with s up to 5, and optionally one coordinate pushed to a floor of 1e-8
(the smallest μ_min the library promises to handle).

Requires the ``dev`` extra (hypothesis).
"""

import numpy as np
from hypothesis import strategies as st

from nashlab.games import generators
from nashlab.games.preference import PreferenceGame

FAMILIES = ("uniform", "bradley-terry", "tournament", "cyclic", "annotators")

#: The smallest reference probability the strategies generate (documented μ_min floor).
MU_MIN = 1e-8


def _distribution_from(seed, n, scale, floor_one):
    rng = np.random.default_rng(seed)
    z = scale * rng.standard_normal(n)
    if floor_one and n > 1:
        z[rng.integers(n)] = -np.inf
    p = np.exp(z - z.max())
    p /= p.sum()
    if floor_one and n > 1:
        p = np.maximum(p, MU_MIN)
        p /= p.sum()
    return p


def distributions(n, peaked=True, min_size=1):
    """Strictly positive probability vectors of length ``n`` (an int or an int strategy).

    With ``peaked``, logits ~ N(0, s²), s ∈ [0, 5], and sometimes one entry at ~1e-8."""
    sizes = st.just(n) if isinstance(n, int) else n
    scales = st.sampled_from([0.0, 1.0, 4.0, 5.0]) if peaked else st.just(0.0)
    floors = st.booleans() if peaked else st.just(False)
    return st.builds(_distribution_from, st.integers(0, 2**32 - 1), sizes, scales, floors)


def _game(family, n, seed, beta, reference):
    rng = np.random.default_rng(seed)
    if family == "uniform":
        return generators.random_preference(n, beta=beta, reference=reference, seed=rng)
    if family == "bradley-terry":
        return generators.bradley_terry(2.0 * rng.standard_normal(n), beta=beta, reference=reference)
    if family == "tournament":
        return generators.tournament(n, beta=beta, reference=reference, tie_probability=0.2, seed=rng)
    if family == "cyclic":
        return generators.cyclic(n, beta=beta, reference=reference)
    if family == "annotators":
        return generators.annotator_mixture(n, 3, beta=beta, reference=reference, seed=rng)
    raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")


@st.composite
def preference_games(draw, n_min=2, n_max=64, beta_min=1e-3, beta_max=5.0, families=None,
                     peaked_reference=True) -> PreferenceGame:
    """A preference game from one of ``families`` with n ∈ [n_min, n_max], β log-uniform
    in [beta_min, beta_max] and a (peaked) reference policy."""
    family = draw(st.sampled_from(tuple(families or FAMILIES)))
    n = draw(st.integers(n_min, n_max))
    log_beta = draw(st.floats(np.log(beta_min), np.log(beta_max)))
    beta = float(np.clip(np.exp(log_beta), beta_min, beta_max))
    reference = draw(distributions(n, peaked=peaked_reference))
    seed = draw(st.integers(0, 2**32 - 1))
    return _game(family, n, seed, beta, reference)


#: Examples per property test under the CI hypothesis profile (``HYPOTHESIS_PROFILE=ci``).
CI_EXAMPLES = 100


def example_budget(n: int) -> int:
    """``n`` examples, or at least ``CI_EXAMPLES`` when ``HYPOTHESIS_PROFILE=ci`` (the CI
    profile of the test suite, ``tests/conftest.py``); for ``settings(max_examples=...)``."""
    import os

    return max(n, CI_EXAMPLES) if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else n
