"""falsify's parallel restarts: forked local processes (the claim, lambdas included, is
inherited, never pickled) and a dask.distributed client; each restart is the seed's own
deterministic search, and together they count every instance run."""

import mpmath
import pytest

from nashlab.theory.falsify import _ClusterStop, falsify
from nashlab.theory.known_false import SPAN_STEP

TRUE_ID, TRUE_SPACE = "nash-mp/kl-contraction", {"n": 3}
SPAN_SPACE = {"n": 3, "iterations": (1, 8)}


def _trace(result):
    return [(h["evaluation"], h["phase"], h["ratio"]) for h in result.history]


def _restarts_of_a_true_theorem(**parallel):
    alone = falsify(TRUE_ID, budget_seconds=600, seed=0, workers=1, space=TRUE_SPACE,
                    max_evaluations=20)
    together = falsify(TRUE_ID, budget_seconds=600, seed=0, space=TRUE_SPACE,
                       max_evaluations=20, **parallel)
    assert not together.found and together.evaluations == 40, together.summary()
    # the seed-0 restart is the search workers=1 runs; the seed-1 restart is another one
    assert _trace(together)[:len(_trace(alone))] == _trace(alone)
    assert _trace(together) != _trace(alone)
    assert together.worst_ratio >= alone.worst_ratio


def _finds_span_step(**parallel):
    result = falsify(SPAN_STEP, budget_seconds=600, seed=0, space=SPAN_SPACE,
                     max_evaluations=150, **parallel)
    assert result.found, result.summary()
    assert mpmath.mpf(result.counterexample.ratio_high_precision) > 1
    # a restart ends at its own confirmation or when the other's stops it: never both at 150
    assert result.evaluations < 300


def test_forked_restarts_run_every_seed():
    _restarts_of_a_true_theorem(workers=2)


def test_forked_restarts_find_a_lambda_claim():
    _finds_span_step(workers=2)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def test_dask_restarts_run_every_seed(client):
    _restarts_of_a_true_theorem(client=client)


def test_dask_restarts_find_a_lambda_claim(client):
    _finds_span_step(client=client)


def test_the_cluster_stop_is_shared_by_name(client):
    """What one task sets, another task (any worker) reads: the stop travels by name."""
    stop = _ClusterStop("nashlab-test-stop", period=0.0)
    assert not client.submit(lambda s: s.is_set(), stop, pure=False).result()
    client.submit(lambda s: s.set(), stop, pure=False).result()
    assert client.submit(lambda s: s.is_set(), stop, pure=False).result()
    assert stop.is_set()


@pytest.mark.parametrize("workers", [0, -1, True, 1.5, "2"])
def test_bad_workers(workers):
    with pytest.raises(ValueError, match="workers"):
        falsify(SPAN_STEP, workers=workers)
