"""Training configuration: plain dataclasses, validated before any training step.

``TrainConfig`` holds the algorithm and its optimisation; ``ProblemConfig`` (used by the
command line) says which game, policy and preference oracle to build. A TOML file is one
flat table whose keys are the fields of the two; an unknown key is an error.

The algorithms are the rows of the one method table (``nashlab.solvers.methods``, family
"preference") that the trainer implements (``TRAINED``); each row's ``composition`` gives
the opponents of its sub-problems (``PLANS``) and its ``step_form`` says how ``eta`` is
read: "prox" (``nash-mp``: the prox step η of Nash Mirror Prox, Tiapkin et al., arXiv
2505.19731; contraction 1/(1 + ηβ) for η ≤ 2) or "mirror-descent" (``nash-md``, ``egpo``,
``omd``: the step η' of log π⁺ = (1 − η'β)·log π + η'β·log μ + η'·g, needs η'β < 1,
converted to the prox step by ``eta_from_mirror_descent``).

The checks of a trainer's setup that need its policy and oracle (``check_contexts``,
``check_setup``) live here too, so that every validation happens before any training step.
"""

import math
from dataclasses import asdict, dataclass, field, fields, replace

import tomllib

from nashlab.solvers.methods import get_method, methods
from nashlab.solvers.nlhf import NASH_PROX_INNER_STEPS
from nashlab.solvers.prox import eta_from_mirror_descent

#: The preference methods the trainer implements (it needs β > 0, one opponent per
#: sub-problem and no extra method option).
TRAINED = ("nash-mp", "nash-md", "egpo", "omd", "nash-prox")
#: The opponents of the prox sub-problems of one algorithm step, for each composition of
#: ``nashlab.solvers.compositions`` ("anchor": π_k; "half": the frozen first solution
#: π_{k+½}; "mixture": the geometric mixture π_k^{1−η'β}·μ^{η'β}).
COMPOSITION_PLANS = {"extragradient": ("anchor", "half"), "mixture": ("mixture",),
                     "single": ("anchor",)}
#: The plan of each trained method, read from its table row's composition; Nash Prox's is
#: one self-play round ("half": the frozen current policy π_j, the opponent and the round's
#: anchor), repeated ``self_play_rounds`` times per algorithm step (``plan``).
PLANS = {name: COMPOSITION_PLANS[get_method("preference", name).composition]
         for name in TRAINED if name != "nash-prox"} | {"nash-prox": ("half",)}
#: The trained methods in table order.
ALGORITHMS = tuple(name for name in methods("preference") if name in PLANS)
#: Options a resumed run may change (everything else must equal the checkpoint's).
RESUMABLE = frozenset({"steps", "max_seconds", "max_queries", "progress"})
LOSSES = ("regression", "pg")
ESTIMATORS = ("sampled", "exact")
OPTIMIZERS = ("adam", "sgd", "lbfgs")
PAIR_SOURCES = ("auto", "anchor", "reference", "uniform")
#: the batch growth per algorithm step of an enumerable policy when ``batch_growth`` is None:
#: measured on the 256-sequence game (``tests/scaling/test_convergence.py``), KL(π*‖π_θ) with
#: sampled queries falls from 1.6 to 6e-4 in 1.7e6 queries (1.1 with a constant batch of 256
#: hovers at 0.03–0.09); the query total of K steps is ≈ 4·batch_size·g^K/(g − 1)
AUTO_BATCH_GROWTH = 1.25


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x):
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _require(ok, message):
    if not ok:
        raise ValueError(message)


def plan(config) -> tuple:
    """The opponents of the sub-problems of one algorithm step of ``config``."""
    if config.algorithm == "nash-prox":
        return PLANS["nash-prox"] * config.self_play_rounds
    return PLANS[config.algorithm]


def default_eta(algorithm, beta):
    """Nash-MP: η = 2 (the largest step of its contraction proof). EGPO: η' = 2/(1 + 2β), the
    same map (Nash-MP(η) ≡ EGPO(η/(1 + ηβ)), theory notes §2). Nash-MD and OMD: η' = β (a
    step that keeps OMD, whose rate is 1 − Θ(β²), stable). Nash Prox: the outer proximal
    step η = 2 (outer contraction 1/(1 + 2β), inner game β' = β + ½)."""
    return {"nash-mp": 2.0, "egpo": 2.0 / (1.0 + 2.0 * beta), "nash-prox": 2.0}.get(algorithm, beta)


@dataclass
class TrainConfig:
    """How to train.

    algorithm : nash-mp | nash-md | egpo | omd | nash-prox.
    beta : KL weight β > 0 towards the reference μ.
    eta : step size (see the module docstring); None picks ``default_eta``.
    loss : "regression" (pairwise, IPO-style) or "pg" (policy gradient, Nash-MD-PG).
    estimator : "sampled" (oracle queries on sampled pairs) or "exact" (expectations by
        enumeration; needs an exact oracle and an enumerable policy).
    batch_size : sampled triples (y, y', y'') per half-step (regression) or per inner step (pg)
        at the first algorithm step; step k uses ``batch_at(config, k)``.
    batch_growth : g ≥ 1, the batch of step k is batch_size·g^k (rounded up to a multiple of
        the process count; capped by ``max_batch_size``). The sampling error of a prox step
        falls like 1/√batch, so g > 1 drives the inexactness δ_k of the approximate Nash-MP
        bound KL_{k+1} ≤ KL_k/(1 + ηβ) + δ_k (theory notes nlhf.md §2) to zero: training
        longer gives a better policy instead of hovering at a noise floor. None (default):
        ``AUTO_BATCH_GROWTH`` for an enumerable policy (its inner steps evaluate every
        response once, so a step's compute does not grow with the batch), 1 otherwise (an
        LM's memory grows with the batch: choose g and ``max_batch_size`` for it).
    max_batch_size : None, or the largest batch (memory bound for LMs; the floor of δ_k
        then stays at this batch's sampling error).
    inner_steps : optimiser steps per prox sub-problem.
    self_play_rounds : Nash Prox only: self-play online-IPO rounds per proximal (outer) step
        (default: the tabular default, ``nashlab.solvers.nlhf.NASH_PROX_INNER_STEPS``).
    optimizer, lr : the inner optimiser ("lbfgs": full-batch, for solving exactly).
    pairs : where the regression pairs (y, y') come from: the anchor π_k, the reference μ
        (EGPO's choice), uniform over an enumerable space, or "auto" (uniform when the
        policy is enumerable, else the anchor).
    anchor_ema : 0 for the frozen anchor π_k; m ∈ (0, 1) for the EMA anchor
        θ̄ ← m·θ̄ + (1 − m)·θ_k.
    temperature : sampling temperature of the policy samples (1 = on-policy).
    steps : algorithm steps (Nash-MP/EGPO: two prox sub-problems each); None: 10, or as
        many as ``max_seconds`` / ``max_queries`` allow when one is given.
    max_seconds : stop after this wall time (checked between algorithm steps).
    max_queries : stop before the algorithm step whose preference queries would take the
        total past this budget (a budget that does not depend on the machine's speed).
    seed : the training generator's seed.  checkpoint_every : steps between checkpoints.
    eval_samples : samples for the sampled metrics of non-enumerable policies.
    progress : show a progress bar.
    """

    algorithm: str = "nash-mp"
    beta: float = 0.1
    eta: float | None = None
    loss: str = "regression"
    estimator: str = "sampled"
    batch_size: int = 256
    batch_growth: float | None = None
    max_batch_size: int | None = None
    inner_steps: int = 20
    self_play_rounds: int = NASH_PROX_INNER_STEPS
    optimizer: str = "adam"
    lr: float = 1e-2
    pairs: str = "auto"
    anchor_ema: float = 0.0
    temperature: float = 1.0
    steps: int | None = None
    max_seconds: float | None = None
    max_queries: int | None = None
    seed: int = 0
    checkpoint_every: int = 1
    eval_samples: int = 64
    progress: bool = True

    def __post_init__(self):
        self.validate()

    def validate(self):
        _require(isinstance(self.algorithm, str) and self.algorithm in ALGORITHMS,
                 f"algorithm must be one of {ALGORITHMS} (the preference methods the trainer "
                 f"implements), got {self.algorithm!r}")
        method = get_method("preference", self.algorithm)
        _require(_is_real(self.beta) and self.beta > 0, f"beta must be a number > 0, got {self.beta!r}")
        if self.eta is None:
            self.eta = default_eta(self.algorithm, self.beta)
        _require(_is_real(self.eta) and self.eta > 0, f"eta must be a number > 0, got {self.eta!r}")
        if method.step_form == "mirror-descent":
            _require(self.eta * self.beta < 1, f"{self.algorithm} takes the mirror-descent step "
                     f"eta' with eta'·beta < 1, got eta·beta = {self.eta * self.beta:g}")
        _require(self.loss in LOSSES, f"loss must be one of {LOSSES}, got {self.loss!r}")
        _require(self.estimator in ESTIMATORS,
                 f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        _require(self.optimizer in OPTIMIZERS,
                 f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        _require(self.pairs in PAIR_SOURCES, f"pairs must be one of {PAIR_SOURCES}, got {self.pairs!r}")
        if self.steps is None and self.max_seconds is None and self.max_queries is None:
            self.steps = 10
        _require(self.steps is None or (_is_int(self.steps) and self.steps >= 1),
                 f"steps must be a positive integer, got {self.steps!r}")
        for name in ("batch_size", "inner_steps", "self_play_rounds", "checkpoint_every",
                     "eval_samples"):
            value = getattr(self, name)
            _require(_is_int(value) and value >= 1, f"{name} must be a positive integer, got {value!r}")
        _require(_is_int(self.seed), f"seed must be an integer, got {self.seed!r}")
        _require(self.batch_growth is None or (_is_real(self.batch_growth)
                                               and self.batch_growth >= 1),
                 f"batch_growth must be a number ≥ 1 or None, got {self.batch_growth!r}")
        _require(self.max_batch_size is None or (_is_int(self.max_batch_size)
                                                 and self.max_batch_size >= self.batch_size),
                 f"max_batch_size must be None or an integer ≥ batch_size ({self.batch_size!r}), "
                 f"got {self.max_batch_size!r}")
        _require(self.max_queries is None or (_is_int(self.max_queries) and self.max_queries >= 1),
                 f"max_queries must be a positive integer or None, got {self.max_queries!r}")
        _require(_is_real(self.lr) and self.lr > 0, f"lr must be a number > 0, got {self.lr!r}")
        _require(_is_real(self.anchor_ema) and 0 <= self.anchor_ema < 1,
                 f"anchor_ema must be in [0, 1), got {self.anchor_ema!r}")
        _require(_is_real(self.temperature) and self.temperature > 0,
                 f"temperature must be a number > 0, got {self.temperature!r}")
        _require(self.max_seconds is None or (_is_real(self.max_seconds) and self.max_seconds > 0),
                 f"max_seconds must be a number > 0 or None, got {self.max_seconds!r}")
        _require(isinstance(self.progress, bool), "progress must be true or false")

    @property
    def step_form(self) -> str:
        """How ``eta`` is read: the method table's "prox" or "mirror-descent"."""
        return get_method("preference", self.algorithm).step_form

    @property
    def prox_eta(self) -> float:
        """The prox step η of the sub-problems (η' converted for a mirror-descent method)."""
        if self.step_form == "mirror-descent":
            return eta_from_mirror_descent(self.eta, self.beta)
        return self.eta

    @property
    def mixture_weight(self) -> float:
        """η'β, the reference's weight in Nash-MD's geometric mixture."""
        return self.eta * self.beta

    def batch_at(self, step, processes=1) -> int:
        """The batch of algorithm step ``step`` (0-based): ⌈batch_size·g^step⌉ rounded up to a
        multiple of ``processes``, at most ``max_batch_size`` (rounded down to one); g = 1
        while ``batch_growth`` is None (the trainer resolves it, ``resolve_batch_growth``)."""
        exponent = step * math.log(self.batch_growth or 1.0)
        cap = self.max_batch_size if self.max_batch_size is not None else math.inf
        raw = min(cap, self.batch_size * math.exp(min(exponent, 700.0)))
        batch = processes * math.ceil(round(raw / processes, 6))
        return batch if batch <= cap else processes * int(cap // processes)

    def differences(self, saved: dict) -> list[str]:
        """The fields (other than ``RESUMABLE``) whose value differs from ``saved`` (a
        checkpoint's ``asdict``), as "name: saved -> now" strings."""
        now = asdict(self)
        return [f"{k}: {saved.get(k, '<missing>')!r} (saved) != {now.get(k, '<missing>')!r}"
                for k in sorted((set(now) | set(saved)) - RESUMABLE) if saved.get(k) != now.get(k)]


def resolve_batch_growth(config, *, enumerable):
    """``config`` with ``batch_growth`` set: as given, or ``AUTO_BATCH_GROWTH`` for an
    enumerable policy and 1 otherwise when it is None."""
    if config.batch_growth is not None:
        return config
    return replace(config, batch_growth=AUTO_BATCH_GROWTH if enumerable else 1.0)


def check_contexts(policy, contexts):
    """The prompts as a list; ValueError if the policy needs them and none are given."""
    if contexts is None:
        if getattr(policy, "needs_contexts", False):
            raise ValueError(f"{type(policy).__name__} needs contexts (a list of prompts)")
        return None
    if isinstance(contexts, str) or not contexts or not all(isinstance(c, str) for c in contexts):
        raise ValueError("contexts must be a non-empty list of prompt strings")
    return list(contexts)


def check_setup(config, policy, oracle, *, enumerable, processes):
    """The combinations of config, policy and oracle a trainer cannot run, as ValueErrors."""
    c = config
    if c.estimator == "exact" and not (oracle.exact and enumerable):
        raise ValueError("estimator 'exact' needs an exact oracle (MatrixOracle, "
                         "SequenceGameOracle) and an enumerable policy (log_probs_all)")
    if oracle.exact and enumerable and oracle.P.shape[0] != policy.num_responses:
        raise ValueError(f"the oracle has {oracle.P.shape[0]} responses, the policy "
                         f"{policy.num_responses}")
    if c.pairs == "uniform" and not enumerable:
        raise ValueError("pairs 'uniform' needs an enumerable policy")
    if c.optimizer == "lbfgs" and c.loss == "pg" and c.estimator == "sampled":
        raise ValueError("optimizer 'lbfgs' needs a deterministic objective: use the exact "
                         "estimator or the regression loss")
    if c.batch_size % processes:
        raise ValueError(f"batch_size ({c.batch_size}) must be divisible by the number of "
                         f"processes ({processes})")


GAMES = ("sequence", "hf")
POLICIES = ("tabular", "tiny", "hf")
HF_ORACLES = ("pairwise", "reward")


@dataclass
class ProblemConfig:
    """What to train (command line).

    game : "sequence" (an exactly solvable ``SequenceGame``) or "hf" (prompts, a causal LM
        and a preference model).
    vocab, length, preference, scale, reference_scale, game_seed : the sequence game
        (``game_seed`` None: use ``seed``).
    policy : "tabular" | "tiny" (``AutoregressivePolicy``) for sequence games, "hf" otherwise.
    hidden, layers : size of the tiny network.
    hf_model_config / hf_model : a causal LM from a transformers config JSON (randomly
        initialised with ``seed``, no download) or from a local directory.
    tokenizer : a local tokenizer directory (or a ``tokenizer.json`` file).
    preference_model_config / preference_model : a sequence classifier with one label, from
        a config JSON or a local directory; ``oracle`` uses it as a pairwise model over
        (prompt + y, y') or as a Bradley–Terry reward model.
    prompts : the training prompts.  max_new_tokens : response length cap.
    output : checkpoint directory.
    """

    game: str = "sequence"
    vocab: int = 4
    length: int = 4
    preference: str = "cyclic"
    scale: float = 1.0
    reference_scale: float = 0.0
    game_seed: int | None = None
    policy: str = "tiny"
    hidden: int = 128
    layers: int = 2
    hf_model_config: str | None = None
    hf_model: str | None = None
    tokenizer: str | None = None
    preference_model_config: str | None = None
    preference_model: str | None = None
    oracle: str = "pairwise"
    prompts: list = field(default_factory=list)
    max_new_tokens: int = 8
    output: str | None = None

    def __post_init__(self):
        _require(self.game in GAMES, f"game must be one of {GAMES}, got {self.game!r}")
        _require(self.policy in POLICIES, f"policy must be one of {POLICIES}, got {self.policy!r}")
        _require(self.oracle in HF_ORACLES, f"oracle must be one of {HF_ORACLES}, got {self.oracle!r}")
        if self.game == "sequence":
            _require(self.policy in ("tabular", "tiny"),
                     f"a sequence game trains a tabular or tiny policy, got {self.policy!r}")
        else:
            _require(self.policy == "hf", "game 'hf' needs policy 'hf'")
            _require((self.hf_model_config is None) != (self.hf_model is None),
                     "game 'hf' needs exactly one of hf_model_config and hf_model")
            _require(self.tokenizer is not None, "game 'hf' needs tokenizer")
            _require((self.preference_model_config is None) != (self.preference_model is None),
                     "game 'hf' needs exactly one of preference_model_config and preference_model")
            _require(isinstance(self.prompts, list) and self.prompts
                     and all(isinstance(p, str) for p in self.prompts),
                     "game 'hf' needs prompts: a non-empty list of strings")
        for name in ("vocab", "length", "hidden", "layers", "max_new_tokens"):
            value = getattr(self, name)
            _require(_is_int(value) and value >= 1, f"{name} must be a positive integer, got {value!r}")


def field_names(cls):
    return [f.name for f in fields(cls)]


def split_options(options: dict):
    """Split one flat table into (ProblemConfig kwargs, TrainConfig kwargs); unknown keys
    are an error that lists the known ones."""
    problem, train = set(field_names(ProblemConfig)), set(field_names(TrainConfig))
    unknown = sorted(set(options) - problem - train)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; known keys: {sorted(problem | train)}")
    return ({k: v for k, v in options.items() if k in problem},
            {k: v for k, v in options.items() if k in train})


def load_toml(path) -> dict:
    """Read a flat TOML table (keys of ``ProblemConfig`` and ``TrainConfig``)."""
    try:
        with open(path, "rb") as f:
            options = tomllib.load(f)
    except OSError as exc:
        raise ValueError(f"config: cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config: {path} is not valid TOML: {exc}") from None
    nested = [k for k, v in options.items() if isinstance(v, dict)]
    if nested:
        raise ValueError(f"config: {path} must be one flat table; found sections {nested}")
    split_options(options)
    return options


def as_dict(config) -> dict:
    return asdict(config)
