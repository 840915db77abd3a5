"""Checkpoints: safetensors for tensors, JSON for the rest, atomic directory writes, verified
on loading.

A checkpoint is a directory ``step-NNNNNN`` (at least six digits; the step is read as an
integer, never compared as a name) in a run directory, holding ``<group>.safetensors`` files
(policy, anchor, reference, optimizer tensors, RNG states), ``state.json`` (step, queries,
seconds, history, the ``TrainConfig`` and the run's options) and ``manifest.json``: the
sha256 of every other file and the dtype of every tensor. It is written into a temporary
directory first and renamed into place; the ``latest`` pointer file is replaced atomically
after that (temp + rename), so an interrupted write never leaves a half checkpoint behind
the pointer. Nothing is unpickled on loading.

``load_checkpoint`` trusts nothing it reads: every listed file must be present with its
recorded hash, ``state.json`` must hold a non-negative integer step equal to the directory's,
every tensor must have its recorded dtype, and ``latest`` must name a checkpoint inside the
run directory. ``check_module`` refuses tensors whose names, shapes or dtypes differ from
the module's (``load_state_dict`` would cast float32 to float64 silently). Every failure is
one ``CheckpointError`` naming the file and the problem.
"""

import hashlib
import json
import math
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from nashlab._files import write_atomic
from nashlab.scaling.config import RESUMABLE
from nashlab.scaling.errors import CheckpointError

LATEST = "latest"
MANIFEST = "manifest.json"
STATE = "state.json"
FORMAT = 1
_NAME = re.compile(r"step-(\d{6,})")
#: Groups every trainer checkpoint holds, besides one per module ("half" for two-step methods).
GROUPS = ("optimizer", "rng")


def _tensor_copy(t):
    return t.detach().to("cpu").contiguous().clone()


def checkpoint_name(step) -> str:
    return f"step-{step:06d}"


def checkpoint_step(path) -> int | None:
    """The step of a checkpoint directory's name ``step-NNNNNN``, or None for another name."""
    match = _NAME.fullmatch(Path(path).name)
    return int(match.group(1)) if match else None


def checkpoints(directory) -> list[Path]:
    """The checkpoint directories of a run directory, by increasing integer step."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(checkpoint_step(p), p) for p in directory.iterdir() if p.is_dir()]
    return [p for step, p in sorted((s, p) for s, p in found if s is not None)]


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def _is_count(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def save_checkpoint(directory, step, groups, state, *, keep=2) -> Path:
    """Write ``groups`` (name -> {key: tensor}) and ``state`` (JSON) as checkpoint ``step``,
    with its manifest (sha256 of each file, dtype of each tensor).

    Keeps the newest ``keep`` checkpoints by integer step (never the one just written);
    returns the checkpoint's path.
    """
    if not _is_count(step):
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / checkpoint_name(step)
    tmp = directory / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    dtypes = {}
    for name, tensors in groups.items():
        tensors = {k: _tensor_copy(v) for k, v in tensors.items()}
        save_file(tensors, str(tmp / f"{name}.safetensors"))
        dtypes[name] = {k: str(v.dtype).removeprefix("torch.") for k, v in tensors.items()}
    (tmp / STATE).write_text(json.dumps(state))
    files = {p.name: sha256(p) for p in sorted(tmp.iterdir())}
    manifest = {"format": FORMAT, "step": step, "files": files, "dtypes": dtypes}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_atomic(directory / LATEST, final.name.encode())
    for old in checkpoints(directory)[:-keep]:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(directory) -> Path | None:
    """The checkpoint the ``latest`` pointer names, or None without a pointer.

    CheckpointError if the pointer names anything but a checkpoint directory of this run
    directory (``../x``, an absolute path, a link out of it) or one that does not exist.
    """
    directory = Path(directory)
    pointer = directory / LATEST
    if not pointer.is_file():
        return None
    try:
        name = pointer.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{pointer}: unreadable ({exc})") from None
    path = directory / name
    if _NAME.fullmatch(name) is None or path.resolve().parent != directory.resolve():
        raise CheckpointError(f"{pointer}: points at {name!r}, which is not a checkpoint "
                              f"directory (step-NNNNNN) inside the run directory {directory}")
    if not path.is_dir():
        raise CheckpointError(f"{pointer}: points at {name!r}, which does not exist")
    return path


def _read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path}: not readable JSON ({exc})") from None


def _manifest(path):
    file = path / MANIFEST
    if not file.is_file():
        raise CheckpointError(f"{file}: missing (an incomplete checkpoint, or one written "
                              "before checkpoints were verified)")
    manifest = _read_json(file)
    ok = (isinstance(manifest, dict) and manifest.get("format") == FORMAT
          and isinstance(manifest.get("files"), dict) and isinstance(manifest.get("dtypes"), dict)
          and STATE in manifest["files"] and _is_count(manifest.get("step")))
    if not ok:
        raise CheckpointError(f"{file}: not a checkpoint manifest of format {FORMAT} "
                              "(files, dtypes, step)")
    return manifest


def _check_files(path, manifest):
    for name, digest in manifest["files"].items():
        file = path / name
        if Path(name).name != name or name in (MANIFEST, ""):
            raise CheckpointError(f"{path / MANIFEST}: lists {name!r}, not a file of the checkpoint")
        if not file.is_file():
            raise CheckpointError(f"{file}: missing (listed in the manifest)")
        actual = sha256(file)
        if actual != digest:
            raise CheckpointError(f"{file}: content changed since it was saved (sha256 "
                                  f"{actual[:12]}…, recorded {str(digest)[:12]}…)")
    groups = {p.name[: -len(".safetensors")] for p in path.glob("*.safetensors")}
    unlisted = sorted(g for g in groups if f"{g}.safetensors" not in manifest["files"])
    if unlisted:
        raise CheckpointError(f"{path}: {', '.join(f'{g}.safetensors' for g in unlisted)} "
                              "not in the manifest")


def _check_state(path, state, manifest):
    file = path / STATE
    if not isinstance(state, dict):
        raise CheckpointError(f"{file}: not a JSON object")
    step = state.get("step")
    if not _is_count(step):
        raise CheckpointError(f"{file}: step must be a non-negative integer, got {step!r}")
    if step != manifest["step"] or step != checkpoint_step(path):
        raise CheckpointError(f"{file}: step {step} differs from the checkpoint's "
                              f"({path.name}, manifest step {manifest['step']})")
    if not _is_count(state.get("queries")):
        raise CheckpointError(f"{file}: queries must be a non-negative integer, "
                              f"got {state.get('queries')!r}")
    seconds = state.get("seconds")
    if not (isinstance(seconds, int | float) and not isinstance(seconds, bool)
            and math.isfinite(seconds) and seconds >= 0):
        raise CheckpointError(f"{file}: seconds must be a finite number >= 0, got {seconds!r}")
    for key, kind in (("history", list), ("config", dict), ("optimizer", dict)):
        if not isinstance(state.get(key), kind):
            raise CheckpointError(f"{file}: {key} must be a JSON {kind.__name__}")


def load_checkpoint(path):
    """(groups, state) of a checkpoint directory (safetensors + JSON, no pickle), verified
    against its manifest (see the module docstring); CheckpointError otherwise."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a checkpoint directory")
    if checkpoint_step(path) is None:
        raise CheckpointError(f"{path}: not a checkpoint directory name (step-NNNNNN)")
    manifest = _manifest(path)
    _check_files(path, manifest)
    state = _read_json(path / STATE)
    _check_state(path, state, manifest)
    groups = {}
    for name in manifest["files"]:
        if not name.endswith(".safetensors"):
            continue
        group, file = name[: -len(".safetensors")], path / name
        try:
            tensors = load_file(str(file))
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{file}: not a readable safetensors file ({exc})") from None
        recorded = manifest["dtypes"].get(group)
        actual = {k: str(v.dtype).removeprefix("torch.") for k, v in tensors.items()}
        if recorded != actual:
            raise CheckpointError(f"{file}: tensors or dtypes differ from the manifest's")
        groups[group] = tensors
    return groups, state


def check_module(module, tensors, file):
    """CheckpointError unless ``tensors`` have exactly the names, shapes and dtypes of
    ``module.state_dict()`` (``load_state_dict`` would cast float32 to float64 silently);
    ``file`` names their source in the error."""
    own = module.state_dict()
    if set(own) != set(tensors):
        missing, extra = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
        raise CheckpointError(f"{file}: tensor names differ from the module's "
                              f"(missing {missing}, unexpected {extra})")
    for key, value in own.items():
        saved = tensors[key]
        if saved.dtype != value.dtype:
            raise CheckpointError(f"{file}: {key} is {str(saved.dtype).removeprefix('torch.')}, "
                                  f"the module's is {str(value.dtype).removeprefix('torch.')} "
                                  "(no silent cast)")
        if saved.shape != value.shape:
            raise CheckpointError(f"{file}: {key} has shape {tuple(saved.shape)}, the module's "
                                  f"is {tuple(value.shape)}")


def _dtype(t) -> str:
    return str(t.dtype).removeprefix("torch.")


def check_resumable(path, groups, state, *, config, run_options, modules, rng_states):
    """CheckpointError unless a verified checkpoint (``load_checkpoint``) can resume this run:
    the same ``TrainConfig`` and run options (except ``RESUMABLE`` and ``output``), exactly
    the groups of ``modules`` plus ``GROUPS``, each module's tensors with its names, shapes and
    dtypes, and RNG states of the current ones' shape and dtype."""
    path = Path(path)
    state_file = path / STATE
    differences = config.differences(state["config"])
    if differences:
        raise CheckpointError(f"{state_file}: saved with a different config than this "
                              f"run's: {'; '.join(differences)}")
    saved_run = state.get("run")
    if saved_run is not None and not isinstance(saved_run, dict):
        raise CheckpointError(f"{state_file}: run must be a JSON object or null")
    if saved_run is not None and run_options is not None:
        ignore = RESUMABLE | {"output"}
        changed = sorted(k for k in set(saved_run) | set(run_options)
                         if k not in ignore and saved_run.get(k) != run_options.get(k))
        if changed:
            raise CheckpointError(f"{state_file}: saved with different run options: "
                                  + "; ".join(f"{k}: {saved_run.get(k)!r} (saved) != "
                                              f"{run_options.get(k)!r}" for k in changed))
    required = set(GROUPS) | set(modules)
    missing = sorted(required - set(groups))
    if missing:
        raise CheckpointError(f"{path}: no {', '.join(g + '.safetensors' for g in missing)}")
    unexpected = sorted(set(groups) - required)
    if unexpected:
        raise CheckpointError(f"{path}: unexpected {', '.join(g + '.safetensors' for g in unexpected)}"
                              f" for {config.algorithm}")
    for name, module in modules.items():
        check_module(module, groups[name], path / f"{name}.safetensors")
    for key, current in rng_states.items():
        saved = groups["rng"].get(key)
        if saved is None or saved.dtype != current.dtype or saved.shape != current.shape:
            raise CheckpointError(f"{path / 'rng.safetensors'}: {key} is not a "
                                  f"{tuple(current.shape)} {_dtype(current)} RNG state")
