"""Problems as data: preference games, their generators and exact evaluation quantities."""

from nashlab.games.generators import (
    annotator_mixture,
    bradley_terry,
    cyclic,
    perturbed_rps,
    random_preference,
    random_reference,
    rps,
    tournament,
)
from nashlab.games.markov_game import ZeroSumMarkovGame, random_markov_game
from nashlab.games.matrix import MatrixGame, random_matrix_game
from nashlab.games.mdp import MDP
from nashlab.games.mdp_problems import forest, from_gymnasium, garnet, gridworld, machine_replacement, riverswim
from nashlab.games.metrics import (
    best_response,
    best_response_logits,
    duality_gap,
    exploitability,
    kl_divergence,
    nash_conv,
    span_distance,
    unregularized_exploitability,
    win_probabilities,
    win_rate,
)
from nashlab.games.population import Population
from nashlab.games.preference import PreferenceGame
from nashlab.games.regularizers import KL, Entropy, Tsallis, sparsemax
from nashlab.games.uncertainty import (
    Chi2Ball,
    Chi2Penalty,
    KLBall,
    KLPenalty,
    L1Ball,
    LpBall,
    TVPenalty,
    WassersteinBall,
    parse_uncertainty,
)

__all__ = [
    "MDP",
    "KL",
    "Chi2Ball",
    "Chi2Penalty",
    "Entropy",
    "KLBall",
    "KLPenalty",
    "L1Ball",
    "LpBall",
    "TVPenalty",
    "Tsallis",
    "WassersteinBall",
    "ZeroSumMarkovGame",
    "forest",
    "from_gymnasium",
    "garnet",
    "gridworld",
    "machine_replacement",
    "parse_uncertainty",
    "random_markov_game",
    "riverswim",
    "sparsemax",
    "MatrixGame",
    "PreferenceGame",
    "random_matrix_game",
    "annotator_mixture",
    "best_response",
    "best_response_logits",
    "bradley_terry",
    "cyclic",
    "duality_gap",
    "exploitability",
    "kl_divergence",
    "nash_conv",
    "Population",
    "perturbed_rps",
    "random_preference",
    "random_reference",
    "rps",
    "span_distance",
    "tournament",
    "unregularized_exploitability",
    "win_probabilities",
    "win_rate",
]
