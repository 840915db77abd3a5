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
