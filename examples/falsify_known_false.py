"""
Rediscovering known-false statements
====================================

``falsify`` on each statement of ``nashlab.theory.known_false`` (a constant tightened, a
term or a condition dropped, a bound moved to the wrong iterate), each with the same
budget, in the instance space the statement's own algorithm and assumptions define. Prints
the counterexample found (its size, parameters, the iteration where the bound fails, the
ratio measured/bound at 50 digits) and the seconds it took, search and shrinking together.

Run as ``python examples/falsify_known_false.py [BUDGET_SECONDS] [SEED]`` (default 60, 0).
It takes a few minutes; the documentation build does not run it.
"""

import sys

from nashlab.theory import falsify
from nashlab.theory.known_false import KNOWN_FALSE

SHOWN = ("beta", "eta", "tau", "gamma", "set", "iterations")


def main(budget_seconds=60.0, seed=0):
    print(f"budget {budget_seconds:g} s per statement, seed {seed}")
    missed = 0
    for entry in KNOWN_FALSE:
        result = falsify(entry.theorem, budget_seconds=budget_seconds, seed=seed)
        c = result.counterexample
        if c is None:
            missed += 1
            print(f"{entry.theorem.id}: NOT FOUND, worst ratio {result.worst_ratio} "
                  f"({result.evaluations} instances, {result.seconds:.1f} s)")
            continue
        params = ", ".join(f"{key} = {c.params[key]:.3g}" if isinstance(c.params[key], float)
                           else f"{key} = {c.params[key]}" for key in SHOWN if key in c.params
                           and c.params[key] is not None)
        print(f"{entry.theorem.id}: {c.size}, {params}; fails at k = {c.iteration}, ratio "
              f"{c.ratio_high_precision[:16]} at 50 digits; {result.evaluations} instances, "
              f"{result.seconds:.1f} s")
    return missed


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(1 if main(float(args[0]) if args else 60.0, int(args[1]) if len(args) > 1 else 0)
             else 0)
