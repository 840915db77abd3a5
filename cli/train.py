"""``nashlab train``: train a policy with Nash-MP, Nash-MD, EGPO, OMD or Nash Prox.

    nashlab train CONFIG.toml [flags]          # flags override the file's keys
    nashlab train --game sequence --vocab 4 --length 4 --preference cyclic --seed 0 \\
                  --algorithm nash-mp --policy tiny --max-queries 2000000 --json
    nashlab train --resume DIR [--steps N] [--max-seconds T]

A sequence game prints the exact KL(π*‖π_θ) (π* certified by the exact solver); the "hf"
game trains a ``transformers`` causal LM (from a config JSON, randomly initialised, or a
local directory) against a sequence-classifier preference model on a list of prompts.
``--output DIR`` writes checkpoints (and the run's options, ``run.json``); ``--resume DIR``
continues the run in DIR from its latest checkpoint, to the same result as an
uninterrupted run. ``--max-queries N`` stops before the step that would take the preference
queries past N (a budget that does not depend on the machine's speed); the batch grows by
``--batch-growth`` per step (default 1.25 for enumerable policies, 1 for LMs). With
``--json`` the last line on stdout is one JSON object: kl (null without an exact π*),
queries, steps, seconds, loss, kl_to_reference, win_rate.

Exit status: 0 on success, 1 if training stopped on a non-finite loss (the last good
checkpoint is kept) or a checkpoint to resume from cannot be trusted (a changed file, a
config that differs from the run's, ...: one line naming the file and the problem), 2 on a
usage error (reported before any training step) or without the ``neural`` extra.
"""

import argparse
import inspect
import json
import re
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from nashlab.cli._errors import INTERRUPTED, Parser, UsageError, one_line, plain, report, writable_dir
from nashlab.scaling.config import (
    RESUMABLE,
    ProblemConfig,
    TrainConfig,
    field_names,
    load_toml,
    split_options,
)
from nashlab.scaling.errors import CheckpointError, TrainingError

RUN_FILE = "run.json"
#: The third-party modules of the ``neural`` extra that ``nashlab train`` needs.
NEURAL_MODULES = ("torch", "accelerate", "safetensors", "tqdm")
NEEDS_NEURAL = "nashlab train needs the neural extra: pip install 'nashlab[neural]'"


_ENTRY = re.compile(r"(?:^|(?<=[.)])\s+)(\w+(?:(?:, | / )\w+)*) : ")


def field_help(cls) -> dict:
    """Each field's description from the class docstring: its "name : text" entry (one entry
    may name several fields, "a, b : text" or "a / b : text"), else the docstring's sentence
    that names it in double backticks; without reST markup."""
    text = one_line(plain(inspect.cleandoc(cls.__doc__).partition("\n\n")[2]))
    entries = list(_ENTRY.finditer(text))
    found = {}
    for entry, after in zip(entries, entries[1:] + [None], strict=True):
        description = text[entry.end():len(text) if after is None else after.start()].strip()
        for name in re.split(r", | / ", entry.group(1)):
            found[name] = description
    raw = one_line(inspect.cleandoc(cls.__doc__))
    for f in fields(cls):
        if f.name not in found:
            sentence = re.search(rf"[^.;]*``{f.name}``[^.;]*[.;]", raw)
            found[f.name] = plain(sentence.group(0)).strip() if sentence else ""
    return found


def _flag(name):
    return "--" + name.replace("_", "-")


def _default(f) -> str:
    value = f.default if f.default is not MISSING else None
    return "" if value is None else f" (default {value})"


def build_parser():
    parser = Parser(prog="nashlab train", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="Every flag is a field of nashlab.scaling.config.ProblemConfig or "
                           "TrainConfig, and a key of the TOML file.")
    parser.add_argument("config", nargs="?", help="a TOML file of options (one flat table)")
    parser.add_argument("--resume", metavar="DIR", help="continue the run checkpointed in DIR")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                        help="no progress bar")
    parser.add_argument("--prompt", dest="prompts", action="append",
                        help="a training prompt (repeat the flag for several)")
    for cls in (ProblemConfig, TrainConfig):
        described = field_help(cls)
        for f in fields(cls):
            if f.name in ("prompts", "progress"):
                continue
            kind = int if f.type in (int, int | None) else float if f.type in (float, float | None) else str
            parser.add_argument(_flag(f.name), dest=f.name, type=kind, default=None,
                                metavar=f.name.upper(), help=described[f.name] + _default(f))
    return parser


def _options(args) -> dict:
    """File options, overridden by the flags given."""
    options = load_toml(args.config) if args.config else {}
    for name in field_names(ProblemConfig) + field_names(TrainConfig):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    return options


def _load_json_config(path):
    with open(path) as f:
        return json.load(f)


def _hf_model(config_path, local_dir, auto_class, seed):
    import transformers

    from nashlab.scaling.tiny import model_from_config

    if local_dir is not None:
        return getattr(transformers, auto_class).from_pretrained(local_dir, local_files_only=True)
    try:
        options = _load_json_config(config_path)
        options["model_type"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{config_path}: not a transformers config JSON with a model_type "
                         f"({exc})") from None
    return model_from_config(options, auto_class, seed=seed)


def _tokenizer(path):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if Path(path).suffix == ".json":
        raise ValueError("tokenizer must be a directory saved by save_pretrained")
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError):
        return PreTrainedTokenizerFast.from_pretrained(path, local_files_only=True)


def build_trainer(problem: ProblemConfig, train: TrainConfig):
    """The trainer a configuration describes (used by the CLI and by resume)."""
    from nashlab.scaling.trainer import Trainer

    if problem.game == "sequence":
        from nashlab.scaling.sequence_game import SequenceGame

        seed = train.seed if problem.game_seed is None else problem.game_seed
        game = SequenceGame(problem.vocab, problem.length, problem.preference, beta=train.beta,
                            scale=problem.scale, reference_scale=problem.reference_scale, seed=seed)
        return Trainer.for_sequence_game(game, problem.policy, train, hidden=problem.hidden,
                                         layers=problem.layers)
    from nashlab.scaling.oracles import BradleyTerryOracle, PairwiseModelOracle
    from nashlab.scaling.policies import CausalLMPolicy

    tokenizer = _tokenizer(problem.tokenizer)
    model = _hf_model(problem.hf_model_config, problem.hf_model, "AutoModelForCausalLM", train.seed)
    judge = _hf_model(problem.preference_model_config, problem.preference_model,
                      "AutoModelForSequenceClassification", train.seed + 1)
    judge.requires_grad_(False).eval()
    policy = CausalLMPolicy(model, tokenizer, max_new_tokens=problem.max_new_tokens)
    if problem.oracle == "pairwise":
        oracle = PairwiseModelOracle(judge, tokenizer, policy)
    else:
        oracle = BradleyTerryOracle.from_reward_model(judge, tokenizer, policy)
    return Trainer(policy, oracle, train, contexts=problem.prompts)


def _configs(args):
    if args.resume is None:
        options = _options(args)
        if args.progress is not None:
            options["progress"] = args.progress
        problem_options, train_options = split_options(options)
        return ProblemConfig(**problem_options), TrainConfig(**train_options)
    run_file = Path(args.resume) / RUN_FILE
    if not run_file.is_file():
        raise ValueError(f"--resume: {args.resume} has no {RUN_FILE} (not a run directory)")
    try:
        options = _load_json_config(run_file)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{run_file}: not readable JSON ({exc})") from None
    if not isinstance(options, dict):
        raise CheckpointError(f"{run_file}: not a JSON object of run options")
    try:
        saved_problem, saved_train = split_options(options)
        ProblemConfig(**saved_problem), TrainConfig(**saved_train)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{run_file}: not the options of a run ({exc})") from None
    changed = {k: v for k, v in _options(args).items() if options.get(k) != v}
    if args.progress is not None:
        changed["progress"] = args.progress
    if set(changed) - RESUMABLE - {"output"}:
        raise ValueError(f"--resume can only change {sorted(RESUMABLE)}, "
                         f"got {sorted(set(changed) - RESUMABLE - {'output'})}")
    options.update(changed)
    options["output"] = str(args.resume)
    problem_options, train_options = split_options(options)
    return ProblemConfig(**problem_options), TrainConfig(**train_options)


def _import_neural(problem):
    """Import the neural extra's modules (``transformers`` too for the "hf" game); a
    ModuleNotFoundError for one of them means the extra is not installed."""
    import importlib

    for name in NEURAL_MODULES + (("transformers",) if problem.game == "hf" else ()):
        importlib.import_module(name)


def _missing_extra(exc) -> bool:
    return (exc.name or "").partition(".")[0] in NEURAL_MODULES + ("transformers",)


def _stopped(trainer, args, problem) -> str:
    """Where an interrupted run stopped, and how to go on."""
    if trainer is None:
        return "interrupted (Ctrl-C) before the first training step; nothing was trained"
    where = f"interrupted (Ctrl-C) during step {trainer.step + 1}"
    run_dir = args.resume if args.resume is not None else problem.output
    if run_dir is None:
        return f"{where}; nothing was saved (no --output)"
    if trainer.last_checkpoint is None:
        return f"{where}; no checkpoint was written yet in {run_dir}"
    return (f"{where}; the last checkpoint is {trainer.last_checkpoint}; "
            f"resume with: nashlab train --resume {run_dir}")


def main(argv=None) -> int:
    """Entry point of ``nashlab train``; returns the exit status."""
    from nashlab._files import write_atomic
    from nashlab.scaling.config import as_dict

    argv = sys.argv[1:] if argv is None else list(argv)
    trainer = problem = args = None
    try:
        args = build_parser().parse_args(argv)
        problem, train = _configs(args)
        run_dir = args.resume if args.resume is not None else problem.output
        if run_dir is not None:
            writable_dir(run_dir, "--resume" if args.resume is not None else "--output")
        _import_neural(problem)
        trainer = build_trainer(problem, train)
        trainer.run_options = {**as_dict(problem), **as_dict(train)}
        if args.resume is not None:
            trainer.load(args.resume)
        elif problem.output is not None and trainer.accelerator.is_main_process:
            write_atomic(Path(problem.output) / RUN_FILE, json.dumps(trainer.run_options).encode())
        summary = trainer.train(output_dir=problem.output)
    except ModuleNotFoundError as exc:
        if not _missing_extra(exc):
            raise
        print(NEEDS_NEURAL, file=sys.stderr)
        return 2
    except CheckpointError as exc:
        report("nashlab train", exc, kind="cannot resume")
        return 1
    except TrainingError as exc:
        report("nashlab train", exc)
        return 1
    except KeyboardInterrupt:
        report("nashlab train", _stopped(trainer, args, problem), kind="stopped")
        return INTERRUPTED
    except (UsageError, ValueError, TypeError) as exc:
        report("nashlab train", exc)
        return 2
    if trainer.accelerator.is_main_process:
        summary.setdefault("kl", None)
        if args.json:
            print(json.dumps(summary))
        else:
            print("\n".join(f"{k}: {v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
