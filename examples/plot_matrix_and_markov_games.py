"""
Matrix games, populations and Markov games
==========================================

The same front door for two-player zero-sum games: the entropy-regularized equilibrium
(QRE) of a random matrix game by ``nashlab.solve``, and the duality gap of four
methods against it; a population of m players sharing one preference game; and a
zero-sum Markov game, solved exactly (Hoffman–Karp) and by per-state MMD.
"""

import matplotlib.pyplot as plt

import nashlab
from nashlab import games

matrix = games.random_matrix_game(8, 10, tau=0.1, seed=0)
qre = nashlab.solve(matrix)
x, y = qre.split()
print(f"QRE certified: {qre.certified}, duality gap {qre.gap:.1e}, |x| = {x.size}, |y| = {y.size}")

fig, (left, middle, right) = plt.subplots(1, 3, figsize=(11, 3.6))
for method in ("pu", "omwu", "mirror-prox", "mmd"):
    traj = nashlab.run(matrix, method, eta=0.2, iterations=200, solution=qre)
    left.semilogy(traj["duality_gap"], label=method)
left.set_title("matrix game 8×10, τ = 0.1")
left.set_xlabel("iteration k")
left.set_ylabel("duality gap")
left.legend(fontsize=8)

# %%
# A population: m players, each against the average of the others.
population = games.Population(games.random_preference(10, beta=0.1, seed=2), players=4)
for method in ("prox", "mirror-prox"):
    traj = nashlab.run(population, method, eta=1.0, iterations=100)
    middle.semilogy(traj["nikaido_isoda"], label=method)
middle.set_title("population, m = 4")
middle.set_xlabel("iteration k")
middle.set_ylabel("Nikaido–Isoda gap")
middle.legend(fontsize=8)

# %%
# A zero-sum Markov game: exact solution, then MMD run per state with a slow value update.
markov = games.random_markov_game(4, 3, 3, gamma=0.8, seed=0)
exact = nashlab.solve(markov, tau=0.1)
print(f"Markov game certified: {exact.certified}")
traj = nashlab.run(markov, "mmd", eta=0.5, iterations=150, tau=0.1, solution=exact)
right.semilogy(traj["exploitability"], label="mmd, τ = 0.1")
right.set_title("Markov game, S = 4")
right.set_xlabel("iteration k")
right.set_ylabel("exploitability")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()
