"""One candidate instance of a falsification search, run and checked: the step shared by
the search (``theory/falsify.py``) and the shrinking (``theory/shrink.py``)."""

import numpy as np

from nashlab.solvers.front import run
from nashlab.theory.verdicts import check


def run_and_check(theorem, instance):
    """(trajectory, verdict) of ``instance`` through ``nashlab.run`` and ``check``; (None,
    None) when the run refuses the instance (e.g. an equilibrium that cannot be certified)."""
    try:
        trajectory = run(instance.problem, instance.method, track=_track(theorem.metric),
                         **instance.run_options())
    except (ValueError, RuntimeError, FloatingPointError, np.linalg.LinAlgError):
        return None, None
    trajectory.params["init"] = instance.init_label
    return trajectory, check(trajectory, theorem)


#: metrics a method records without being asked to track them (nashlab.solvers.nlhf; matrix
#: games' mirror-prox), with a metric the run accepts in ``track`` in their place
_ALWAYS_RECORDED = {"average_exploitability": "unregularized_exploitability",
                    "queries": "unregularized_exploitability",
                    "eta": "unregularized_exploitability",
                    "average_duality_gap": "duality_gap"}


def _track(metric):
    return (_ALWAYS_RECORDED.get(metric, metric),)
