"""Damped Newton with backtracking, shared by the certified equilibrium solvers
(preference games in ``equilibrium.py``, matrix-game QRE in ``matrix_games.py``)."""

import numpy as np
import scipy.linalg


def damped_newton(residual, jacobian, normalize, z, *, floor, max_steps):
    """Newton on residual(z) = 0 with backtracking on ‖residual‖₂.

    ``normalize`` maps z to its canonical representative (the residual is invariant under
    it). Stops when no step decreases the residual (or after ``max_steps``); returns
    (z, steps, converged) with converged meaning ‖residual‖∞ ≤ ``floor``, the size that
    rounding alone produces. At the floor only the full step is tried, and only kept if it
    halves the residual (rounding noise would otherwise buy one useless solve after another).
    """
    g = residual(z)
    norm = np.linalg.norm(g)
    for step in range(1, max_steps + 1):
        delta = scipy.linalg.solve(jacobian(z), -g, check_finite=False)
        at_floor = np.max(np.abs(g)) <= floor
        t = 1.0
        while t > (0.75 if at_floor else 1e-10):
            z_new = normalize(z + t * delta)
            g_new = residual(z_new)
            norm_new = np.linalg.norm(g_new)
            if norm_new <= (0.5 if at_floor else 1.0 - 1e-4 * t) * norm:
                break
            t *= 0.5
        else:
            return z, step, bool(np.max(np.abs(g)) <= floor)
        z, g, norm = z_new, g_new, norm_new
        if norm == 0.0:
            return z, step, True
    return z, max_steps, bool(np.max(np.abs(g)) <= floor)
