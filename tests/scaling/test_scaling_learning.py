"""Learning bridge: a small autoregressive network trained by neural Nash-MP on a sequence
game with |V|^L = 256 reaches KL(π*‖π_θ) ≤ 0.05, exact by enumeration against the
certified π*. Sampled pairs and opponents (the oracle is queried, not enumerated)."""

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")
pytest.importorskip("safetensors")

from nashlab.cli.train import main  # noqa: E402
from nashlab.scaling.policies import AutoregressivePolicy  # noqa: E402

torch.set_num_threads(1)
HIDDEN = 64


def test_tiny_network_learns_the_equilibrium_with_nash_mp(capsys):
    assert sum(p.numel() for p in AutoregressivePolicy(4, 4, hidden=HIDDEN).parameters()) <= 200_000
    code = main(["--game", "sequence", "--vocab", "4", "--length", "4", "--preference", "cyclic",
                 "--seed", "0", "--algorithm", "nash-mp", "--policy", "tiny",
                 "--hidden", str(HIDDEN), "--estimator", "sampled", "--batch-size", "8192",
                 "--batch-growth", "1",
                 "--inner-steps", "40", "--lr", "0.01", "--steps", "10", "--json",
                 "--no-progress"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert out["kl"] <= 0.05
    assert out["queries"] == 10 * 2 * 2 * 8192
    print(f"\nNash-MP tiny net: KL {out['kl']:.4f}, queries {out['queries']}, "
          f"{out['seconds']:.1f} s")
