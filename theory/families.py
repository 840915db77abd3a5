"""The instance families ``falsify`` searches, and the protocol each one implements.

``FAMILIES`` maps a family name (the prefix of a ``Theorem.methods`` entry, "family/method")
to the module that implements it. Such a module defines

* ``space_for_method(method) -> space | None``: the default instance space of a method of
  the family (None: the method is not searched);
* ``problem_arrays(problem) -> dict`` and ``problem_from_arrays(arrays, params)``: the
  problem of a saved ``Counterexample`` as plain arrays and back (``params`` are the
  counterexample's, e.g. β or γ);
* ``problem_size(problem) -> str``: its size for summaries ("n = 3", "S = 4, A = 2");
* ``HIGH_PRECISION``: the mpmath module (numpy + mpmath imports only) that the reproduction
  script embeds verbatim, and ``REPRODUCTION_EVALUATE``: the source of the script's
  ``reproduce_values(meta, data)`` -> (metric values at 50 digits, {symbol: value} the run
  fixes, e.g. η, γ, D0, δ), called by the check every family shares
  (``counterexample._CHECK``).

A space has ``family``, ``method``, ``iterations`` (low, high), ``narrowed(**changes)``,
``dimension(spec)``, ``specs(draw_int, draw_bool, draw_choice)`` (a hashable spec: the
discrete choices) and ``decode(spec, θ, admissible)`` (an instance or None; θ a real vector
of length ``dimension(spec)``, mapped smoothly onto valid instances).

An instance (a frozen dataclass) has ``family``, ``problem``, ``method``, ``eta``,
``iterations``, ``init``, ``run_options()`` (keywords of ``nashlab.run``), ``init_label``
(``params["init"]`` as the run records it), ``describe()``, ``size`` (an int: n or S),
``prospective_params()`` (the params the claim's assumptions read, or None to leave them to
the run's verdict), ``certifiable(theorem)``, ``high_values(theorem, iterations)`` (the
metric at 50 digits: (values, constants replacing float params, steps η_k or None)),
``shrink_moves()`` (groups of moves instance → instance | None, coarsest first; a group's
first accepted move ends the group), ``smaller()`` (instances with one action fewer, or
none) and ``counterexample_params()`` (the JSON-able params of a saved counterexample;
``HIGH_PRECISION_CONSTANTS`` names the bound symbols its 50-digit run recomputes).
"""

import importlib

FAMILIES = {
    "preference": "nashlab.theory.instance_spaces",
    "mdp": "nashlab.theory.mdp_space",
    "matrix": "nashlab.theory.matrix_space",
    "robust-mdp": "nashlab.theory.robust_space",
    "markov-game": "nashlab.theory.markov_space",
}


def family_module(family: str):
    """The module implementing ``family`` (a KeyError names the known ones)."""
    if family not in FAMILIES:
        raise KeyError(f"no instance family {family!r}; known: {sorted(FAMILIES)}")
    return importlib.import_module(FAMILIES[family])


def space_for_entry(entry: str):
    """The default space of a ``Theorem.methods`` entry "family/method", or None."""
    family, _, method = entry.partition("/")
    if family not in FAMILIES:
        return None
    return family_module(family).space_for_method(method)
