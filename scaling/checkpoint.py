"""Checkpoints: safetensors for tensors, JSON for the rest, atomic directory writes.

A checkpoint is a directory ``step-NNNNNN`` holding ``<group>.safetensors`` files (model,
anchor, optimizer tensors, RNG states) and ``state.json``. It is written into a temporary
directory first and renamed into place; the ``latest`` pointer file is replaced atomically
after that (temp + rename), so an interrupted write never leaves a half checkpoint behind
the pointer. Nothing is unpickled on loading.
"""

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from nashlab._files import write_atomic

LATEST = "latest"


def _tensor_copy(t):
    return t.detach().to("cpu").contiguous().clone()


def flatten_optimizer_state(state_dict):
    """Split ``optimizer.state_dict()`` into safetensors-able tensors and JSON metadata.

    Per-parameter entries that are tensors become ``"<param>.<key>"``, lists of tensors
    (L-BFGS history) ``"<param>.<key>.<i>"``; everything else goes to JSON.
    """
    tensors, meta = {}, {"param_groups": state_dict["param_groups"], "state": {}}
    for pid, entries in state_dict["state"].items():
        kinds = {}
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = _tensor_copy(value)
                kinds[key] = "tensor"
            elif isinstance(value, list) and all(torch.is_tensor(v) for v in value):
                for i, v in enumerate(value):
                    tensors[f"{pid}.{key}.{i}"] = _tensor_copy(v)
                kinds[key] = ["list", len(value)]
            else:
                kinds[key] = ["value", value]
        meta["state"][str(pid)] = kinds
    return tensors, meta


def unflatten_optimizer_state(tensors, meta):
    state = {}
    for pid, kinds in meta["state"].items():
        entries = {}
        for key, kind in kinds.items():
            if kind == "tensor":
                entries[key] = tensors[f"{pid}.{key}"]
            elif kind[0] == "list":
                entries[key] = [tensors[f"{pid}.{key}.{i}"] for i in range(kind[1])]
            else:
                entries[key] = kind[1]
        state[int(pid)] = entries
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(directory, step, groups, state, *, keep=2) -> Path:
    """Write ``groups`` (name -> {key: tensor}) and ``state`` (JSON) as checkpoint ``step``.

    Keeps the newest ``keep`` checkpoints; returns the checkpoint's path.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step-{step:06d}"
    tmp = directory / f".tmp-step-{step:06d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name, tensors in groups.items():
        save_file({k: _tensor_copy(v) for k, v in tensors.items()}, str(tmp / f"{name}.safetensors"))
    (tmp / "state.json").write_text(json.dumps(state))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_atomic(directory / LATEST, final.name.encode())
    for old in sorted(directory.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(directory) -> Path | None:
    """The checkpoint the ``latest`` pointer names, or None."""
    pointer = Path(directory) / LATEST
    if not pointer.is_file():
        return None
    path = Path(directory) / pointer.read_text().strip()
    return path if (path / "state.json").is_file() else None


def load_checkpoint(path):
    """(groups, state) of a checkpoint directory (safetensors + JSON, no pickle)."""
    path = Path(path)
    groups = {p.name[: -len(".safetensors")]: load_file(str(p)) for p in path.glob("*.safetensors")}
    state = json.loads((path / "state.json").read_text())
    return groups, state
