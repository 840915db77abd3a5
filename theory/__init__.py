"""Theorems as objects, checks of trajectories against them, hypothesis strategies."""

from nashlab.theory.counterexample import Counterexample
from nashlab.theory.falsify import Falsification, falsify
from nashlab.theory.local_rate import LocalRate, local_rate
from nashlab.theory.registry import Assumption, Source, Theorem, all_theorems, get, register
from nashlab.theory.verdicts import Claim, Verdict, check, check_claim

__all__ = ["Assumption", "Claim", "Counterexample", "Falsification", "LocalRate", "Source", "Theorem",
           "Verdict", "all_theorems", "check", "check_claim", "falsify", "get", "local_rate", "register"]
