"""The one method table: every iterative method of every family, described once.

Drivers validate against it, the kernels read their composition and step form from it, the
trainer and the CLI list it. ``Method`` fields:

* ``family``: the problem family (``nashlab.solvers.results.FAMILIES``);
* ``composition``: the composition of ``nashlab.solvers.compositions`` it runs (None for
  the dynamic-programming methods, whose steps are Bellman maps);
* ``step_form``: "prox" (η) or "mirror-descent" (η', needs η'β ≤ 1) — how ``eta`` is read;
  "policy-gradient" (η: the softmax policy-gradient step θ ← θ + η·∇J(θ) of EGPO's
  Online IPO 2 and Nash-MD-PG, ``nashlab.solvers.nlhf``);
* ``needs_regularization``: the method is defined only for β > 0 (τ > 0);
* ``queries_per_step``: oracle calls g(π) per iteration (preference games, populations);
* ``kernels``: the compiled backends that cover it ("numba", "cuda");
* ``options``: the method options it accepts, beyond the common ones of its driver;
* ``alias_of``: the method it is another name for.

Theorem ids are not repeated here: ``nashlab.theory`` finds them by ``Theorem.algorithm``.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    name: str
    family: str
    composition: str | None
    step_form: str | None
    needs_regularization: bool = False
    queries_per_step: int | None = None
    kernels: tuple = ()
    options: tuple = ()
    alias_of: str | None = None
    summary: str = ""


_BOTH = ("numba", "cuda")
_ORACLE = ("oracle", "samples")

_TABLE = (
    # preference games (nashlab.solvers.nlhf)
    Method("nash-mp", "preference", "extragradient", "prox", False, 2, _BOTH, _ORACLE,
           summary="Nash Mirror Prox, Tiapkin et al. arXiv 2505.19731"),
    Method("nash-mp-inexact", "preference", "extragradient", "prox", True, 2, (),
           _ORACLE + ("inner_steps",),
           summary="Nash-MP with each prox step solved by stochastic policy gradient"),
    Method("nash-md", "preference", "mixture", "mirror-descent", True, 1, _BOTH,
           _ORACLE + ("schedule", "mixture_weight"),
           summary="Nash-MD, Munos et al. arXiv 2312.00886 eq. 5 (mixture_weight: EGPO's convention)"),
    Method("egpo", "preference", "extragradient", "mirror-descent", False, 2, _BOTH, _ORACLE,
           summary="extragradient preference optimisation, Zhou, Fazel, Du arXiv 2503.08942"),
    Method("omd", "preference", "single", "mirror-descent", False, 1, _BOTH, _ORACLE,
           summary="online mirror descent = online IPO / INPO"),
    Method("omwu", "preference", "optimistic", "mirror-descent", False, 1, _BOTH, _ORACLE,
           summary="optimistic MWU, Cen, Wei, Chi arXiv 2105.15186"),
    Method("onpo", "preference", "optimistic", "mirror-descent", False, 1, _BOTH, _ORACLE,
           alias_of="omwu", summary="optimistic Nash policy optimisation (= omwu)"),
    Method("mmd", "preference", "single", "prox", True, 1, _BOTH, _ORACLE,
           summary="magnetic mirror descent, Sokota et al. arXiv 2206.05825"),
    Method("hedge", "preference", "single", "prox", False, 1, (), _ORACLE,
           summary="Hedge / exponential weights (β not used), averaged iterate"),
    Method("sppo", "preference", "single", "prox", False, 1, (), _ORACLE, alias_of="hedge",
           summary="SPPO, Wu et al. arXiv 2405.00675 (tabular form = hedge)"),
    Method("magnet-refresh", "preference", "extragradient", "prox", True, 2, (),
           _ORACLE + ("refresh_every",),
           summary="Nash-MP with the magnet refreshed every K steps (MPO / COMAL)"),
    Method("nash-prox", "preference", "single", "prox", False, 10, (), _ORACLE + ("inner_steps",),
           summary="Nash Prox (Tiapkin et al. arXiv 2505.19731 v2): proximal point outer steps, "
                   "each solved by inner_steps (default 10 = queries_per_step) self-play "
                   "online-IPO steps"),
    Method("online-ipo-2", "preference", "single", "policy-gradient", False, 1, (), _ORACLE,
           summary="Online IPO 2 of EGPO (arXiv 2503.08942): a softmax policy-gradient step"),
    Method("nash-md-pg", "preference", "mixture", "policy-gradient", True, 1, (),
           _ORACLE + ("mixture_weight",),
           summary="Nash-MD-PG (Munos et al. 2312.00886 §7; EGPO's tabular form): a softmax "
                   "policy-gradient step against the geometric mixture"),
    # two-player zero-sum matrix games (nashlab.solvers.matrix_games)
    Method("pu", "matrix", "extragradient", "mirror-descent", False, None, ("numba",),
           summary="predictive update, Cen, Wei, Chi arXiv 2105.15186 Alg. 1"),
    Method("omwu", "matrix", "optimistic", "mirror-descent", False, None, ("numba",),
           summary="optimistic MWU, Cen, Wei, Chi arXiv 2105.15186 Alg. 2"),
    Method("mirror-prox", "matrix", "extragradient", "prox", False, None, ("numba",),
           summary="Mirror Prox, Nemirovski 2004, with the midpoint average"),
    Method("mmd", "matrix", "single", "prox", True, None, ("numba",),
           summary="magnetic mirror descent, Sokota et al. arXiv 2206.05825"),
    # populations of m players (nashlab.solvers.multiplayer)
    Method("prox", "population", "single", "prox", True, 1,
           summary="MNPO population prox step, Wu et al. arXiv 2509.23102"),
    Method("mirror-prox", "population", "extragradient", "prox", True, 2,
           summary="Nash-MP for every player of the population"),
    # zero-sum Markov games (nashlab.solvers.markov_games)
    Method("shapley", "markov-game", None, None, summary="Shapley value iteration"),
    Method("pu", "markov-game", "extragradient", "mirror-descent", True, options=("value_step",),
           summary="per-state PU with a slow value update, Cen, Chi, Du, Xiao arXiv 2210.01050"),
    Method("omwu", "markov-game", "optimistic", "mirror-descent", True, options=("value_step",),
           summary="per-state OMWU with a slow value update, arXiv 2210.01050"),
    Method("mmd", "markov-game", "single", "prox", True, options=("value_step",),
           summary="per-state magnetic mirror descent with a slow value update"),
    # MDPs (nashlab.solvers.dp_methods; common options: init, eta where step_form, seed)
    Method("vi", "mdp", None, None, kernels=("numba",), options=("tol",),
           summary="(regularized) value iteration; init = v_0; tol: Puterman §6.6 span stop"),
    Method("gauss-seidel", "mdp", None, None, kernels=("numba",), options=("tol",),
           summary="Gauss–Seidel value iteration, Puterman §6.3.3; init = v_0"),
    Method("policy-evaluation", "mdp", None, None, options=("policy", "tol"),
           summary="iterative evaluation v ← T_π v of policy; init = v_0"),
    Method("pi", "mdp", None, None, summary="(regularized) policy iteration; init = π_0"),
    Method("mpi", "mdp", None, None, options=("m", "tol"),
           summary="modified policy iteration, Geist et al. arXiv 1901.11275; init = v_0"),
    Method("md-mpi", "mdp", None, None, options=("m", "lam"),
           summary="mirror-descent MPI, Geist et al. arXiv 1901.11275 §5; init = v_0"),
    Method("npg-entropy", "mdp", None, "mirror-descent", True, options=("q_noise",),
           summary="entropy-regularized NPG, Cen et al. arXiv 2007.06558; seed for q_noise"),
    Method("pmd", "mdp", None, "prox", True,
           summary="policy mirror descent, Lan arXiv 2102.00135"),
    Method("npg", "mdp", None, "prox", False, options=("step_growth", "rho"),
           summary="NPG with growing steps, Xiao arXiv 2201.07443"),
    # robust MDPs (nashlab.solvers.robust_methods; common options: init, eta where step_form)
    Method("vi", "robust-mdp", None, None, kernels=("numba",),
           summary="robust value iteration; init = v_0"),
    Method("pi", "robust-mdp", None, None, kernels=("numba",),
           summary="robust policy iteration, Iyengar 2005; init = π_0"),
    Method("rpmd", "robust-mdp", None, "prox", kernels=("numba",), options=("step_growth",),
           summary="robust policy mirror descent, Li, Lan, Zhao arXiv 2209.10579"),
)

METHODS = {(m.family, m.name): m for m in _TABLE}


def methods(family) -> tuple:
    """The method names of ``family``, in table order."""
    return tuple(m.name for m in _TABLE if m.family == family)


def get_method(family, name) -> Method:
    """The table entry of ``name`` in ``family``; ValueError listing the family's methods."""
    if not isinstance(name, str):
        raise TypeError(f"method must be a method name (str), one of {methods(family)}, "
                        f"got {type(name).__name__}")
    try:
        return METHODS[(family, name)]
    except KeyError:
        raise ValueError(f"method must be one of {methods(family)} for a {family} problem, "
                         f"got {name!r}") from None


def check_options(method: Method, options: dict) -> None:
    """TypeError naming any option ``method`` does not accept."""
    unknown = sorted(set(options) - set(method.options))
    if unknown:
        accepted = ", ".join(method.options) or "none"
        raise TypeError(f"method {method.name!r} ({method.family}) got unknown option(s) "
                        f"{', '.join(unknown)}; it accepts: {accepted}")
