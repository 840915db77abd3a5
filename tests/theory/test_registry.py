"""Every registered theorem carries what verify and the docs read: a source with an arXiv id
(or, without one, the venue in the title), a suite, a derivation when derived, a rate when slope-only."""

import pytest

from nashlab.theory.registry import all_theorems

THEOREMS = {t.id: t for t in all_theorems()}


def test_the_registry_is_not_empty():
    assert len(THEOREMS) >= 40


@pytest.mark.parametrize("theorem_id", sorted(THEOREMS))
def test_registered_with_source_status_and_suite(theorem_id):
    theorem = THEOREMS[theorem_id]
    assert theorem.suite is not None
    reference = str(theorem.source).lower()
    assert "arxiv none" not in reference and "n/a" not in reference, reference
    assert theorem.source.arxiv or "(" in theorem.source.title, "a work without an arXiv " \
        "id names its venue in the title"
    if theorem.status == "derived":
        assert theorem.derivation
    if theorem.status == "slope-only":
        assert theorem.rate is not None


def test_unknown_or_mistyped_theorem_id_is_a_value_or_type_error():
    """An unknown id is a ValueError naming it (it was a bare KeyError, whose message
    printed as a quoted repr); an id that is not a str a TypeError, not a lookup miss."""
    from nashlab import run, theory
    from nashlab.games import rps

    trajectory = run(rps(beta=0.1), "nash-mp", eta=0.5, iterations=3)
    with pytest.raises(ValueError, match="unknown theorem 'no/such'; known: ") as info:
        theory.check(trajectory, "no/such")
    assert isinstance(info.value, KeyError) and str(info.value).startswith("unknown theorem")
    for bad in (3, 2.5, ["nash-mp/kl-contraction"]):
        with pytest.raises(TypeError, match="a theorem id must be a str"):
            theory.check(trajectory, bad)
