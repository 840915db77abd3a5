"""Saving results is atomic (issue 11, item 8): a write interrupted half-way leaves the
previous file whole and no temporary file behind."""

import numpy as np
import pytest

import nashlab
from nashlab import games
from nashlab.solvers import results
from nashlab.solvers.results import Solution, Trajectory


def _half_written_then_killed(real_savez):
    """np.savez that writes half of its output to wherever it was pointed, then is killed."""
    def savez(file, *args, **kwargs):
        import io
        buffer = io.BytesIO()
        real_savez(buffer, *args, **kwargs)
        data = buffer.getvalue()[: len(buffer.getvalue()) // 2]
        if hasattr(file, "write"):
            file.write(data)
        else:
            with open(file, "wb") as f:
                f.write(data)
        raise KeyboardInterrupt
    return savez


@pytest.mark.parametrize("kind", ["trajectory", "solution"])
def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch, kind):
    game = games.rps(beta=0.1)
    if kind == "trajectory":
        first = nashlab.run(game, "nash-mp", eta=0.5, iterations=3)
        second = nashlab.run(game, "nash-mp", eta=0.5, iterations=7)
        load = Trajectory.load
    else:
        first, second, load = nashlab.solve(game), nashlab.solve(games.rps(beta=0.5)), Solution.load
    path = tmp_path / "result.npz"
    first.save(path)
    before = path.read_bytes()
    monkeypatch.setattr(results.np, "savez", _half_written_then_killed(np.savez))
    with pytest.raises(KeyboardInterrupt):
        second.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["result.npz"]
    again = load(path)
    np.testing.assert_array_equal(again.policy, first.policy)
    second.save(path)  # and an uninterrupted save replaces it
    np.testing.assert_array_equal(load(path).policy, second.policy)
