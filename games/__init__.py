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
from nashlab.games.metrics import (
    best_response,
    best_response_logits,
    duality_gap,
    exploitability,
    kl_divergence,
    span_distance,
    unregularized_exploitability,
    win_probabilities,
    win_rate,
)
from nashlab.games.matrix import MatrixGame, random_matrix_game
from nashlab.games.preference import PreferenceGame

__all__ = [
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
