"""The README's Python examples run as printed (those that need no downloaded model), and
the falsification example finds what the README says it finds."""

import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
OFFLINE = [b for b in BLOCKS if "from_pretrained" not in b]


def test_the_readme_has_offline_examples():
    assert len(OFFLINE) >= 2


@pytest.mark.parametrize("code", OFFLINE, ids=lambda c: c.splitlines()[0][:40])
def test_readme_example_runs(code, tmp_path):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    if "falsify(" in code:
        assert "VIOLATED" in out.stdout and (tmp_path / "my-counterexample").is_dir()
