"""What more than one theorem module shares: sources cited by several families and the
small helpers their suites and assumptions are written with."""

import math

from nashlab.theory.registry import Assumption, Source

MMD = Source("A Unified Approach to Reinforcement Learning, Quantal Response Equilibria, and "
             "Two-Player Zero-Sum Games (Sokota et al., MMD)", "2206.05825",
             "Theorem 3.4 (number recalled)")
MMD_VERIFIED = Source(MMD.title, MMD.arxiv, "Theorem 3.4")


def method_is(*names) -> Assumption:
    """The assumption params["method"] ∈ names."""
    return Assumption(f"method ∈ {set(names)}", lambda p: p.get("method") in names)


def iterations_for(rate_per_step, cap) -> int:
    """Enough steps for KL to fall ~e^{-30} at the per-step factor ``rate_per_step``."""
    return int(min(cap, math.ceil(30.0 / -math.log(rate_per_step)) + 5))
