"""
The NLHF method family side by side
===================================

Every NLHF method of the method table (``nashlab.solvers.methods``) on one random
preference game, each with the step size its theory asks for, against the certified
equilibrium π*_β: KL(π*‖π_k) against the number of preference queries.
"""

import matplotlib.pyplot as plt

import nashlab
from nashlab import games

game = games.random_preference(30, beta=0.05, seed=0)
solution = nashlab.solve(game)  # certified π*_β, reused by every run below
print(f"certified: {solution.certified}, residual {solution.residual:.1e}")

# (method, eta): prox-form methods take the prox step η, mirror-descent ones η' with η'β ≤ 1.
runs = [("nash-mp", 2.0), ("egpo", 1.0), ("mmd", 2.0), ("omd", 1.0), ("omwu", 1.0), ("nash-md", 1.0)]

fig, ax = plt.subplots(figsize=(7, 4.2))
for method, eta in runs:
    traj = nashlab.run(game, method, eta=eta, iterations=300, solution=solution, track=("kl",))
    ax.semilogy(traj["queries"], traj["kl"], label=f"{method} (η={eta})")
    print(f"{method:8s} KL after {traj['queries'][-1]:4.0f} queries: {traj['kl'][-1]:.2e}")
ax.set_xlabel("preference queries")
ax.set_ylabel("KL(π*‖π_k)")
ax.set_title("one preference game, n = 30, β = 0.05")
ax.legend(ncol=2, fontsize=8)
fig.tight_layout()
plt.show()
