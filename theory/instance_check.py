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


#: metrics a method records without being asked to track them (nashlab.solvers.nlhf)
_ALWAYS_RECORDED = ("average_exploitability", "queries", "eta")


def _track(metric):
    return ("unregularized_exploitability",) if metric in _ALWAYS_RECORDED else (metric,)
