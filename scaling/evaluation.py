"""The trainer's metrics: KL(π_θ‖μ), the win rate P(π_θ ≻ μ) and, given π*, KL(π*‖π_θ).

Exact on enumerable spaces with an exact oracle; otherwise estimated from ``samples``
samples drawn from a generator seeded by (seed, step), so an evaluation never moves the
training generator (and its oracle calls are not counted in ``queries``).
"""

import torch

from nashlab.games.metrics import kl_divergence


@torch.no_grad()
def evaluate(policy, reference, oracle, *, equilibrium=None, contexts=None, seed=0, step=0,
             samples=64) -> dict:
    if hasattr(policy, "log_probs_all") and oracle.exact:
        logp = policy.log_probs_all().to(torch.float64)
        p = logp.exp().numpy()
        mu = reference.log_probs_all().to(torch.float64).exp().numpy()
        out = {"kl_to_reference": float(kl_divergence(p, mu)),
               "win_rate": float(p @ oracle.P.numpy() @ mu)}
        if equilibrium is not None:
            out["kl"] = float(kl_divergence(equilibrium, p))
        return out
    gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
    ctx = None
    if contexts is not None:
        pick = torch.randint(len(contexts), (samples,), generator=gen).tolist()
        ctx = [contexts[i] for i in pick]
    y = policy.sample(samples, ctx, generator=gen)
    y_ref = reference.sample(samples, ctx, generator=gen)
    return {"kl_to_reference": float((policy(y, ctx) - reference(y, ctx)).mean()),
            "win_rate": float(oracle(ctx, y, y_ref, count=False).mean())}
