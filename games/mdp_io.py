"""MDPs from the array layouts of other toolboxes, and back (the ``MDP.from_*`` / ``to_*``
methods call these). Each ``*_args`` function returns the keyword arguments of ``MDP(...)``
(P, r, gamma, horizon, feasible, terminal), so that this module does not import ``MDP``.

Layouts are named by their axes: "SAS" = P[s, a, s'] (nashlab, QuantEcon's product form),
"ASS" = P[a, s, s'] (pymdptoolbox, MDPtoolbox for MATLAB); rewards "SA" = r[s, a],
"SAS" / "ASS" = R[s, a, s'] / R[a, s, s'] (folded into r(s, a) = Σ_s' P(s'|s, a) R(s, a, s')),
"S" = r[s] for every action. Nothing is inferred from shapes: when S = A an (A, S, S) array
has the shape of an (S, A, S) one, so the layout is always an argument.

* ``arrays_args(P, R, gamma, layout, reward, horizon, terminal)``;
* ``state_action_pairs_args(s_indices, a_indices, R, Q, gamma, horizon, n_actions)`` — QuantEcon's ``DiscreteDP``
  state–action-pair form (Q of shape (L, S), dense or sparse; R of shape (L,)): pairs not
  listed, and listed pairs with R = −inf, are infeasible; the model is stored in CSR form with
  an empty row for each infeasible pair (no padding into the model, ``MDP`` docstring);
* ``quantecon_args(ddp, horizon)`` — a ``quantecon.markov.DiscreteDP`` (either form; beta = 1 needs
  ``horizon``);
* ``pymdptoolbox_args(P, R, gamma, horizon)`` — pymdptoolbox's inputs: P an (A, S, S) array or a
  sequence of A (S, S) arrays / sparse matrices; R of shape (S,), (S, A) or (A, S, S), or a
  sequence of A (S, S) arrays (pymdptoolbox's own rules, ``mdptoolbox.util.check``);
* ``to_arrays(mdp, layout, reward)`` — (P, R) dense in a layout, R = −inf at infeasible pairs
  (QuantEcon's convention; P's row is zero there); ``to_state_action_pairs(mdp)`` —
  (s_indices, a_indices, R, Q) of the feasible pairs, Q a CSR (L, S) matrix.
"""

import numpy as np
import scipy.sparse as sp

from nashlab.games._validation import as_float_array

LAYOUTS = ("SAS", "ASS")
REWARDS = ("SA", "SAS", "ASS", "S")


def _choice(value, name, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def _dense_kernel(P, layout):
    """P as an (S, A, S) array from ``layout``."""
    P = as_float_array(P, "P", ndim=3)
    if layout == "ASS":
        if P.shape[1] != P.shape[2]:
            raise ValueError(f"P in layout 'ASS' must have shape (A, S, S), got {P.shape}")
        return np.ascontiguousarray(P.transpose(1, 0, 2))
    if P.shape[0] != P.shape[2]:
        raise ValueError(f"P in layout 'SAS' must have shape (S, A, S), got {P.shape}")
    return P


def _expected_reward(R, reward, P):
    """r(s, a) of shape (S, A) from R in the ``reward`` layout, P of shape (S, A, S)."""
    S, A, _ = P.shape
    R = as_float_array(R, "R")
    expected = {"SA": (S, A), "S": (S,), "SAS": (S, A, S), "ASS": (A, S, S)}[reward]
    if R.shape != expected:
        raise ValueError(f"R in reward layout {reward!r} must have shape {expected} for this P, "
                         f"got {R.shape}")
    if reward == "SA":
        return R
    if reward == "S":
        return np.repeat(R[:, None], A, axis=1)
    if reward == "ASS":
        R = R.transpose(1, 0, 2)
    return np.sum(P * R, axis=-1)


def _args(P, r, gamma, horizon=None, feasible=None, terminal=None) -> dict:
    return {"P": P, "r": r, "gamma": gamma, "horizon": horizon, "feasible": feasible,
            "terminal": terminal}


def arrays_args(P, R, gamma, layout="SAS", reward="SA", horizon=None, terminal=None) -> dict:
    """The model of a dense kernel in ``layout`` and rewards in ``reward`` (module
    docstring); every action feasible (infeasible pairs: ``state_action_pairs_args``)."""
    layout = _choice(layout, "layout", LAYOUTS)
    reward = _choice(reward, "reward", REWARDS)
    P = _dense_kernel(P, layout)
    return _args(P, _expected_reward(R, reward, P), gamma, horizon, terminal=terminal)


def _index_vector(x, name, low, high):
    arr = np.asarray(x)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise TypeError(f"{name} must be a 1-D integer array, got dtype {arr.dtype} and shape "
                        f"{arr.shape}")
    if arr.size and (arr.min() < low or (high is not None and arr.max() >= high)):
        bound = f"[{low}, {high})" if high is not None else f"≥ {low}"
        raise ValueError(f"{name} must lie in {bound}, got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


def state_action_pairs_args(s_indices, a_indices, R, Q, gamma, horizon=None,
                            n_actions=None) -> dict:
    """The model of QuantEcon's state–action-pair form (module docstring). ``n_actions``:
    A (default 1 + max a_indices). The pairs may come in any order; a repeated pair is a
    ValueError, as is a state with no feasible pair."""
    if sp.issparse(Q):
        Q = sp.csr_matrix(Q)
        if not (np.issubdtype(Q.dtype, np.floating) or np.issubdtype(Q.dtype, np.integer)):
            raise TypeError(f"Q must hold real numbers, got dtype {Q.dtype}")
        Q = Q.astype(np.float64)
    else:
        Q = sp.csr_matrix(as_float_array(Q, "Q", ndim=2))
    L, S = Q.shape
    R = np.asarray(R, dtype=np.float64) if np.asarray(R).dtype.kind in "fiub" else R
    if not isinstance(R, np.ndarray) or R.shape != (L,):
        raise ValueError(f"R must be a real array of shape (L,) = ({L},) (one reward per pair), "
                         f"got {getattr(R, 'shape', type(R).__name__)}")
    if np.any(np.isnan(R)) or np.any(R == np.inf):
        raise ValueError("R must be finite or −inf (infeasible), found NaN or +inf")
    s_idx = _index_vector(s_indices, "s_indices", 0, S)
    a_idx = _index_vector(a_indices, "a_indices", 0, None)
    if s_idx.shape != (L,) or a_idx.shape != (L,):
        raise ValueError(f"s_indices and a_indices must have length L = {L} (the rows of Q), got "
                         f"{s_idx.shape[0]} and {a_idx.shape[0]}")
    A = int(a_idx.max()) + 1 if n_actions is None else int(n_actions)
    if A < 1 or (L and a_idx.max() >= A):
        raise ValueError(f"n_actions must exceed every a_indices entry, got {n_actions}")
    rows = s_idx * A + a_idx
    if np.unique(rows).size != L:
        raise ValueError("s_indices, a_indices: a state–action pair is listed twice")
    keep = R > -np.inf
    feasible = np.zeros((S, A), dtype=bool)
    feasible[s_idx[keep], a_idx[keep]] = True
    r = np.zeros((S, A))
    r[s_idx[keep], a_idx[keep]] = R[keep]
    # row i of Q goes to row s_i·A + a_i; infeasible pairs get an empty row
    placement = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], np.flatnonzero(keep))),
                              shape=(S * A, L))
    P = (placement @ Q).tocsr()
    P.sort_indices()
    return _args(P, r, gamma, horizon, None if feasible.all() else feasible)


def quantecon_args(ddp, horizon=None) -> dict:
    """The model of a ``quantecon.markov.DiscreteDP`` (duck-typed: R, Q, beta, s_indices,
    a_indices). Product form: R = −inf marks an infeasible pair, whose Q row is not read."""
    for name in ("R", "Q", "beta"):
        if not hasattr(ddp, name):
            raise TypeError(f"ddp must be a quantecon DiscreteDP (no attribute {name!r})")
    if getattr(ddp, "s_indices", None) is not None:
        return state_action_pairs_args(ddp.s_indices, ddp.a_indices, ddp.R, ddp.Q, ddp.beta,
                                       horizon)
    R = np.asarray(ddp.R, dtype=np.float64)
    Q = as_float_array(ddp.Q, "ddp.Q", ndim=3)
    if R.ndim != 2 or Q.shape != R.shape + (R.shape[0],):
        raise ValueError(f"ddp.R, ddp.Q must have shapes (S, A), (S, A, S), got {R.shape}, "
                         f"{Q.shape}")
    feasible = R > -np.inf
    if np.any(np.isnan(R)) or np.any(R == np.inf):
        raise ValueError("ddp.R must be finite or −inf (infeasible), found NaN or +inf")
    r = np.where(feasible, R, 0.0)
    P = np.where(feasible[:, :, None], Q, 0.0)
    return _args(P, r, ddp.beta, horizon, None if feasible.all() else feasible)


def _sequence_of_matrices(X, name):
    """An (A, S, S) dense array from an array or a sequence of A (S, S) arrays / sparse."""
    if isinstance(X, list | tuple) or (isinstance(X, np.ndarray) and X.dtype == object):
        mats = [m.toarray() if sp.issparse(m) else m for m in X]
        shapes = {np.shape(m) for m in mats}
        if len(shapes) != 1:
            raise ValueError(f"{name} must hold A matrices of one shape (S, S), got {shapes}")
        X = np.stack([as_float_array(m, name, ndim=2) for m in mats])
    return as_float_array(X, name, ndim=3)


def pymdptoolbox_args(P, R, gamma, horizon=None) -> dict:
    """The model of pymdptoolbox's (P, R) (module docstring), e.g. ``mdptoolbox.example
    .forest()``. R's layout follows pymdptoolbox's rules: (S,) per state, (S, A), or
    (A, S, S) / a sequence of A (S, S) per transition."""
    P = _sequence_of_matrices(P, "P")
    if isinstance(R, list | tuple) or (isinstance(R, np.ndarray) and R.dtype == object):
        R = _sequence_of_matrices(R, "R")
    R = as_float_array(R, "R")
    reward = {1: "S", 2: "SA", 3: "ASS"}.get(R.ndim)
    if reward is None:
        raise ValueError(f"R must have shape (S,), (S, A) or (A, S, S), got {R.shape}")
    return arrays_args(P, R, gamma, layout="ASS", reward=reward, horizon=horizon)


def to_arrays(mdp, layout="SAS", reward="SA"):
    """(P, R) dense: P in ``layout``; R in ``reward`` ("SA", or "SAS" / "ASS" with R(s, a, s')
    = r(s, a), which folds back to r), −inf at infeasible pairs (P's row is zero there)."""
    layout = _choice(layout, "layout", LAYOUTS)
    reward = _choice(reward, "reward", ("SA", "SAS", "ASS"))
    P = mdp.dense_P().copy()
    r = mdp.mask(mdp.r).copy()
    if reward != "SA":
        r = np.repeat(r[:, :, None], mdp.n_states, axis=2)
        if reward == "ASS":
            r = np.ascontiguousarray(r.transpose(1, 0, 2))
    if layout == "ASS":
        P = np.ascontiguousarray(P.transpose(1, 0, 2))
    return P, r


def to_state_action_pairs(mdp):
    """(s_indices, a_indices, R, Q): the feasible pairs in (s, a) order, R of shape (L,), Q the
    CSR (L, S) matrix of their rows (QuantEcon's DiscreteDP form)."""
    feasible = (np.ones((mdp.n_states, mdp.n_actions), dtype=bool) if mdp.feasible is None
                else mdp.feasible)
    s_idx, a_idx = np.nonzero(feasible)
    rows = s_idx * mdp.n_actions + a_idx
    Q = sp.csr_matrix(mdp.P_flat)[rows]
    return s_idx, a_idx, mdp.r[s_idx, a_idx].copy(), Q
