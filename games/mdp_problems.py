"""Benchmark MDPs with exact specifications (theory notes dp_robust.md §6).

* ``riverswim``           Osband, Russo, Van Roy (arXiv 1306.0940), TabulaRL ``make_riverSwim``.
* ``machine_replacement`` Delage & Mannor (2010), Fig. 3, 10 states, transition rewards folded.
* ``garnet``              Archibald, McKinnon, Thomas (1995) random MDPs.
* ``forest``              pymdptoolbox ``forest`` (rewards as in that toolbox).
* ``gridworld``           deterministic 5×5 grid with wall bounce, terminals +1 / −1.
* ``from_gymnasium``      toy-text environments that expose ``env.unwrapped.P``.

Every generator returns an ``MDP``; expected rewards are r(s, a) = Σ_s' P(s'|s, a) r(s, a, s').
"""


import numpy as np
import scipy.sparse as sp

from nashlab.games._validation import check_int, check_memory, check_scalar, rng_from_seed
from nashlab.games.mdp import MDP


def riverswim(n=6, gamma=0.95) -> MDP:
    """RiverSwim with n states, actions 0 = left, 1 = right (TabulaRL variant).

    Left: s → max(0, s − 1) w.p. 1, reward 0.005 at s = 0. Right: interior s → s + 1 (.35),
    s (.6), s − 1 (.05); s = 0 → 0 (.4), 1 (.6); s = n − 1 → n − 1 (.6), n − 2 (.4), reward 1.
    """
    n = check_int(n, "n", low=3)
    P = np.zeros((n, 2, n))
    r = np.zeros((n, 2))
    for s in range(n):
        P[s, 0, max(0, s - 1)] = 1.0
    r[0, 0] = 0.005
    P[0, 1, 0], P[0, 1, 1] = 0.4, 0.6
    for s in range(1, n - 1):
        P[s, 1, s + 1], P[s, 1, s], P[s, 1, s - 1] = 0.35, 0.6, 0.05
    P[n - 1, 1, n - 1], P[n - 1, 1, n - 2] = 0.6, 0.4
    r[n - 1, 1] = 1.0
    return MDP(P, r, gamma)


def machine_replacement(gamma=0.8) -> MDP:
    """Delage & Mannor's 10-state machine replacement (actions 0 = wait, 1 = repair).

    Wait at s ≤ 6: stay (.2) or s + 1 (.8). Repair at s ≤ 7: s + 1 (.3; 7 → 7), state 9 (.6,
    reward −2), state 8 (.1, reward −10). Entering 7 costs −20; (7, wait) → 7. State 8: wait
    → 8 (−10); repair → 9 (.6, −2), 8 (.4, −10). State 9: wait → 9 (.2, −2), 0 (.8, 0);
    repair → 9 (−2).
    """
    S = 10
    P = np.zeros((S, 2, S))
    R = np.zeros((S, 2, S))  # transition rewards r(s, a, s')
    R[:, :, 7], R[:, :, 8], R[:, :, 9] = -20.0, -10.0, -2.0
    for s in range(7):
        P[s, 0, s], P[s, 0, s + 1] = 0.2, 0.8
    P[7, 0, 7] = 1.0
    for s in range(8):
        P[s, 1, min(s + 1, 7)] += 0.3
        P[s, 1, 9] += 0.6
        P[s, 1, 8] += 0.1
    P[8, 0, 8] = 1.0
    P[8, 1, 9], P[8, 1, 8] = 0.6, 0.4
    P[9, 0, 9], P[9, 0, 0] = 0.2, 0.8
    P[9, 1, 9] = 1.0
    return MDP(P, np.sum(P * R, axis=-1), gamma)


def garnet(S, A, b, seed, gamma=0.9, sparse=False) -> MDP:
    """Garnet(S, A, b): for each (s, a), b distinct next states drawn uniformly, with
    probabilities the gaps of b − 1 sorted U(0, 1) cuts; r(s, a) ~ U(0, 1).

    ``seed`` is an int or a numpy Generator; ``sparse`` stores P as a CSR (S·A, S) matrix.
    """
    S, A = check_int(S, "S", low=1), check_int(A, "A", low=1)
    b = check_int(b, "b", low=1)
    if b > S:
        raise ValueError(f"b (branching) must be ≤ S = {S}, got {b}")
    needed = 24 * S * A * b + (0 if sparse else 8 * S * A * S)  # CSR triples (+ the dense P)
    check_memory(needed, f"garnet(S={S}, A={A}, b={b}, sparse={sparse})'s P")
    rng = rng_from_seed(seed)
    rows, cols, vals = [], [], []
    for i in range(S * A):
        cuts = np.sort(rng.random(b - 1))
        probs = np.diff(np.concatenate(([0.0], cuts, [1.0])))
        rows.append(np.full(b, i))
        cols.append(rng.choice(S, size=b, replace=False))
        vals.append(probs)
    flat = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(S * A, S))
    r = rng.random((S, A))
    P = flat if sparse else flat.toarray().reshape(S, A, S)
    return MDP(P, r, gamma)


def forest(S=3, r1=4.0, r2=2.0, p=0.1, gamma=0.9) -> MDP:
    """pymdptoolbox's forest management (actions 0 = wait, 1 = cut).

    Wait: s → min(s + 1, S − 1) w.p. 1 − p, → 0 w.p. p; reward r1 in the oldest state.
    Cut: → 0 w.p. 1; reward 0 at s = 0, r2 at s = S − 1, 1 otherwise.
    """
    S = check_int(S, "S", low=2)
    p = check_scalar(p, "p", low=0.0, high=1.0)
    r1, r2 = check_scalar(r1, "r1"), check_scalar(r2, "r2")
    P = np.zeros((S, 2, S))
    for s in range(S):
        P[s, 0, min(s + 1, S - 1)] += 1.0 - p
        P[s, 0, 0] += p
        P[s, 1, 0] = 1.0
    r = np.zeros((S, 2))
    r[S - 1, 0] = r1
    r[1:, 1] = 1.0
    r[0, 1] = 0.0
    r[S - 1, 1] = r2
    return MDP(P, r, gamma)


#: Moves of ``gridworld``: 0 = up, 1 = right, 2 = down, 3 = left (row, column offsets).
GRID_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))


def gridworld(size=5, goal=(0, 4), pit=(1, 4), step_reward=-0.01, gamma=0.95) -> MDP:
    """A size×size grid, state = row·size + column, deterministic moves (``GRID_MOVES``) that
    bounce off walls. Entering ``goal`` pays +1, entering ``pit`` pays −1, every other move
    pays ``step_reward``; goal and pit are absorbing with reward 0.
    """
    size = check_int(size, "size", low=2)
    cells = {}
    for name, cell in (("goal", goal), ("pit", pit)):
        cell = tuple(int(c) for c in cell)
        if len(cell) != 2 or not all(0 <= c < size for c in cell):
            raise ValueError(f"{name} must be a (row, column) inside the {size}×{size} grid, "
                             f"got {cell}")
        cells[name] = cell[0] * size + cell[1]
    if cells["goal"] == cells["pit"]:
        raise ValueError("goal and pit must be different cells")
    step_reward = check_scalar(step_reward, "step_reward")
    S = size * size
    P = np.zeros((S, 4, S))
    r = np.zeros((S, 4))
    for s in range(S):
        if s in (cells["goal"], cells["pit"]):
            P[s, :, s] = 1.0
            continue
        row, col = divmod(s, size)
        for a, (dr, dc) in enumerate(GRID_MOVES):
            nr, nc = row + dr, col + dc
            nxt = nr * size + nc if (0 <= nr < size and 0 <= nc < size) else s
            P[s, a, nxt] = 1.0
            r[s, a] = {cells["goal"]: 1.0, cells["pit"]: -1.0}.get(nxt, step_reward)
    return MDP(P, r, gamma)


def from_gymnasium(env, gamma) -> MDP:
    """An MDP from a toy-text environment exposing ``env.unwrapped.P`` (FrozenLake, Taxi,
    CliffWalking): ``P[s][a]`` is a list of (probability, next_state, reward, terminated).

    Rewards are folded into r(s, a). Terminated transitions go to one extra absorbing state
    (index S, reward 0), so that nothing is earned after the episode ends.
    gymnasium itself is not imported: any object with the same structure works.
    """
    table = getattr(getattr(env, "unwrapped", env), "P", None)
    if not isinstance(table, dict):
        raise TypeError("env must expose env.unwrapped.P as a dict "
                        "{state: {action: [(p, s', r, done)]}}")
    S = len(table)
    A = len(table[0])
    if set(table) != set(range(S)):
        raise ValueError(f"env.unwrapped.P must have states 0..{S - 1}")
    P = np.zeros((S + 1, A, S + 1))
    r = np.zeros((S + 1, A))
    P[S, :, S] = 1.0
    for s in range(S):
        if set(table[s]) != set(range(A)):
            raise ValueError(f"env.unwrapped.P[{s}] must have actions 0..{A - 1}")
        for a in range(A):
            for prob, nxt, reward, done in table[s][a]:
                P[s, a, S if done else int(nxt)] += prob
                r[s, a] += prob * reward
    return MDP(P, r, gamma)
