"""A population: m ≥ 2 players sharing one preference game (MNPO, Wu et al., arXiv 2509.23102).

Player i plays π_i against the average of the others π̄₋ᵢ = (Σ_{j≠i} π_j)/(m − 1) and is
regularised to the game's reference: J_i(π) = P(π_i ≻ π̄₋ᵢ) − β·KL(π_i‖μ) (uniform opponent
weights; theory notes nlhf.md §7). Joint policies have shape (m, *batch, n).
"""

from dataclasses import dataclass

from nashlab.games._validation import check_int
from nashlab.games.preference import PreferenceGame


@dataclass(frozen=True, eq=False)
class Population:
    """``players`` copies of the preference game ``game`` (β > 0 for a unique equilibrium)."""

    game: PreferenceGame
    players: int

    def __post_init__(self):
        if not isinstance(self.game, PreferenceGame):
            raise TypeError(f"game must be a PreferenceGame, got {type(self.game).__name__}")
        object.__setattr__(self, "players", check_int(self.players, "players", 2))

    @property
    def n(self) -> int:
        return self.game.n

    @property
    def batch_shape(self) -> tuple:
        return self.game.batch_shape

    def __repr__(self):
        return f"Population(players={self.players}, game={self.game!r})"
