"""
Check a theorem, then write a claim of your own and falsify it
==============================================================

A theorem of the registry (``nashlab.theory``) is an object: a sympy bound on one metric
of a ``Trajectory``, its assumptions, source and status. ``check`` holds a run against it
at every iteration. Here: Nash Mirror Prox's KL contraction, drawn with its bound, then a
made-up, too strong rate for the same run, which ``check`` refutes.
"""

import matplotlib.pyplot as plt
import sympy

import nashlab
from nashlab import games
from nashlab.theory import Source, Theorem, check, get
from nashlab.theory.registry import SYMBOLS
from nashlab.theory.report import theory_line

game = games.random_preference(20, beta=0.1, seed=1)
traj = nashlab.run(game, "nash-mp", eta=2.0, iterations=60)

theorem = get("nash-mp/kl-contraction")
print(theorem.statement)
print("bound:", sympy.latex(theorem.bound))
verdict = check(traj, theorem.id)
print(f"passed: {verdict.passed}, tightness (measured / bound): {verdict.tightness:.3f}")

# %%
# A claim of our own: "Nash-MP contracts KL by (1 + ηβ)³ per step" (too strong: the
# theorem's factor is 1 + ηβ). Its bound uses the registry's symbols; ``check`` finds the
# first iteration that violates it.
k, eta, beta, err0 = (SYMBOLS[s] for s in ("k", "eta", "beta", "err0"))
too_strong = Theorem(
    id="my/nash-mp-cubed-rate", algorithm="nash-mp", metric="kl",
    statement="KL(π*‖π_k) ≤ KL₀·(1+ηβ)^(−3k)  (a made-up claim)",
    bound=err0 * (1 + eta * beta) ** (-3 * k),
    source=Source("this example", None, "made up"), status="derived")
refuted = check(traj, too_strong)
print(f"made-up claim passed: {refuted.passed}, first violation at k = {refuted.first_violation}")

fig, ax = plt.subplots(figsize=(7, 4.2))
ax.semilogy(traj["kl"], "k.-", label="Nash-MP, measured KL(π*‖π_k)")
ax.semilogy(theory_line(theorem, traj), label=f"{theorem.id} (per-step bound, iterated)")
ax.semilogy(theory_line(too_strong, traj), "--", label="made-up (1+ηβ)^(−3k) envelope")
ax.set_xlabel("iteration k")
ax.set_ylabel("KL")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
