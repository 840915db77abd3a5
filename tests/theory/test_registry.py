"""Every registered theorem carries what verify and the docs read: a source with an arXiv id
(or the reference that exists), a suite, a derivation when derived, a rate when slope-only."""

import pytest

from nashlab.theory.registry import all_theorems

THEOREMS = {t.id: t for t in all_theorems()}


def test_the_registry_is_not_empty():
    assert len(THEOREMS) >= 40


@pytest.mark.parametrize("theorem_id", sorted(THEOREMS))
def test_registered_with_source_status_and_suite(theorem_id):
    theorem = THEOREMS[theorem_id]
    assert theorem.source.arxiv and theorem.suite is not None
    if theorem.status == "derived":
        assert theorem.derivation
    if theorem.status == "slope-only":
        assert theorem.rate is not None
