"""Damped Newton with backtracking, shared by the certified equilibrium solvers
(preference games in ``equilibrium.py``, matrix-game QRE in ``matrix_games.py``)."""

import warnings

import numpy as np
import scipy.linalg


def _newton_direction(J, g):
    """−J⁻¹g, or None where J is singular to working precision or the data are not finite."""
    if not (np.all(np.isfinite(J)) and np.all(np.isfinite(g))):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
        try:
            return scipy.linalg.solve(J, -g, check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgWarning):
            return None


def damped_newton(residual, jacobian, normalize, z, *, floor, max_steps):
    """``_damped_newton`` with floating-point warnings off: far from the solution (β or τ
    near the float range) overflow is expected, and the certificate says what was reached."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        return _damped_newton(residual, jacobian, normalize, z, floor=floor, max_steps=max_steps)


def _damped_newton(residual, jacobian, normalize, z, *, floor, max_steps):
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
        delta = _newton_direction(jacobian(z), g)
        if delta is None:  # numerically singular: stop here, not converged unless at the floor
            return z, step - 1, bool(np.max(np.abs(g)) <= floor)
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
