"""The iterative methods of robust MDPs, run by ``nashlab.solvers.robust.run_robust``.

Theory notes dp_robust.md §3. Each runner takes the prepared robust Bellman maps ``op``
(``RobustBellman``), the number of iterations and the certified ``solve_robust`` solution,
and returns (metrics, final policy, params of the run); metric index 0 = the initial point:

* "vi"   v_{k+1} = T_U v_k; value_error[k] = ‖v_k − v*‖∞ ≤ γ·value_error[k−1];
         ``init`` = the initial values v_0 (default 0).
* "pi"   robust policy iteration (Iyengar 2005): exact robust evaluation v^{π_k}_U (nature's
         MDP solved by nature policy iteration), then π_{k+1} greedy for T_U v^{π_k};
         value_error[k] = ‖v* − v^{π_k}_U‖∞, rate γ; ``init`` = the initial policy π_0.
* "rpmd" robust policy mirror descent (Li, Lan, Zhao, arXiv 2209.10579) with the KL
         divergence: log π_{k+1} = log π_k + η_k Q^{π_k}_U − log Z (the prox step with β = 0),
         η_{k+1} = η_k·step_growth; (s,a)-rectangular sets only (Q^π_U is per (s, a));
         ``init`` = the initial policy π_0 (default uniform), ``eta`` = η_0 (default 1).
"""

import numpy as np

from nashlab.games._validation import as_float_array, check_scalar
from nashlab.solvers.prox import prox_step


def _initial_policy(mdp, init):
    if init is None:
        return mdp.uniform_policy()  # uniform on the feasible actions
    return mdp.as_policy(init, "init")


def _run_vi(op, iterations, solution, init=None):
    v = (np.zeros(op.mdp.n_states) if init is None
         else op.mdp._values(as_float_array(init, "init"), "init"))
    errors = [np.max(np.abs(v - solution.values))]
    for _ in range(iterations):
        v = op.backup(v)[0]
        errors.append(np.max(np.abs(v - solution.values)))
    return {"value_error": np.array(errors)}, op.backup(v)[1], {}


def _run_pi(op, iterations, solution, init=None):
    errors = []
    policy = _robust_pi_fixed(op, iterations, init, lambda v: errors.append(
        np.max(np.abs(solution.values - v))))
    errors += [errors[-1]] * (iterations + 1 - len(errors))  # policy stable: error stays put
    return {"value_error": np.array(errors)}, policy, {}


def _robust_pi_fixed(op, iterations, init, record):
    """Exactly ``iterations`` improvement steps (stops early only once the policy is stable)."""
    policy = _initial_policy(op.mdp, init)
    deterministic = op.rectangularity == "sa" and op.regularizer is None
    for k in range(iterations + 1):
        v = op.evaluate(policy)
        record(v)
        if k == iterations:
            break
        incumbent = np.argmax(policy, axis=1) if deterministic and k > 0 else None
        new_policy = op.backup(v, incumbent)[1]
        if deterministic and k > 0 and np.array_equal(new_policy, policy):
            break
        policy = new_policy
    return policy


def _run_rpmd(op, iterations, solution, init=None, eta=None, step_growth=1.0):
    """log π_{k+1} = log π_k + η_k Q^{π_k}_U − log Z (Li, Lan, Zhao 2209.10579, KL Bregman)."""
    if op.rectangularity != "sa":
        raise ValueError("rpmd needs an (s,a)-rectangular uncertainty set (Q^π_U per (s, a))")
    if op.regularizer is not None:
        raise ValueError("rpmd is the unregularized robust PMD; pass regularizer=None")
    eta = 1.0 if eta is None else check_scalar(eta, "eta", low=0.0, low_open=True)
    step_growth = check_scalar(step_growth, "step_growth", low=1.0)
    policy = _initial_policy(op.mdp, init)
    with np.errstate(divide="ignore"):
        logits = np.log(policy)
    errors, step = [], eta
    for k in range(iterations + 1):
        v = op.evaluate(np.exp(logits))
        errors.append(np.max(np.abs(solution.values - v)))
        if k < iterations:
            # infeasible pairs: logit −∞ already; their q (−∞) enters as 0 (the step's g is finite)
            g = op.mdp.mask(op.q(v), 0.0)
            logits = prox_step(logits, g, eta=step, beta=0.0, log_reference=logits)
            step *= step_growth
    return ({"value_error": np.array(errors)}, np.exp(logits),
            {"eta": eta, "step_growth": step_growth})


#: method name -> runner(op, iterations, solution, init=None, [eta=None,] **method options)
METHODS = {"vi": _run_vi, "pi": _run_pi, "rpmd": _run_rpmd}
#: params["init"] of a run without ``init``: what the method starts from
DEFAULT_INIT = {"vi": "zeros", "pi": "uniform", "rpmd": "uniform"}
