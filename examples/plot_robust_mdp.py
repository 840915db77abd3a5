"""
Regularized and robust MDPs
===========================

RiverSwim solved three ways with ``nashlab.solve``: nominal (Howard policy iteration,
certified by its Bellman residual), entropy-regularized (``regularizer=``) and robust to
an (s, a)-rectangular L1 ball of transition kernels (``uncertainty=``), then value
iteration's convergence (``nashlab.run``) for each, against its γ-contraction.
"""

import matplotlib.pyplot as plt
import numpy as np

import nashlab
from nashlab import games

mdp = games.riverswim(n=6, gamma=0.9)
objectives = {
    "nominal": {},
    "entropy τ=0.1": {"regularizer": games.Entropy(0.1)},
    "robust L1, ξ=0.2": {"uncertainty": games.L1Ball(0.2)},
}

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
for label, objective in objectives.items():
    solution = nashlab.solve(mdp, **objective)
    print(f"{label:18s} certified={solution.certified} residual={solution.residual:.1e} "
          f"v(0)={solution.values[0]:.3f}")
    left.plot(solution.values, "o-", label=label)
    traj = nashlab.run(mdp, "vi", iterations=60, solution=solution, **objective)
    right.semilogy(traj["value_error"], label=label)
k = np.arange(61)
right.semilogy(traj["value_error"][0] * 0.9 ** k, "k:", label="γ^k · error₀")
left.set_xlabel("state")
left.set_ylabel("optimal value")
left.legend(fontsize=8)
right.set_xlabel("iteration k")
right.set_ylabel("‖v_k − v*‖∞")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()
