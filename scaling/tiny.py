"""Tiny offline Hugging Face stand-ins: a word-level tokenizer and small model configs.

For smoke tests and examples that must run without downloads: the models are randomly
initialised from these configs, and the tokenizer is built from a word list with the
``tokenizers`` library.
"""

import json
from pathlib import Path

SPECIAL = ("[PAD]", "[EOS]", "[UNK]")
WORDS = ("good bad yes no maybe the a cat dog sun rain why how what is it").split()


def word_tokenizer(words=WORDS, directory=None):
    """A ``PreTrainedTokenizerFast`` over ``SPECIAL + words`` (whitespace split, [UNK] for
    anything else); saved to ``directory`` (``save_pretrained``) when given."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIAL + tuple(words))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]",
                                        eos_token="[EOS]", unk_token="[UNK]")
    if directory is not None:
        tokenizer.save_pretrained(str(directory))
    return tokenizer


def tiny_config(vocab_size, *, model_type="gpt2", num_labels=None, **overrides) -> dict:
    """A 2-layer config dict, hidden size 16, no dropout, for ``model_type`` "gpt2" or
    "llama"; ``num_labels`` makes it a sequence-classifier config. Pad id 0,
    end-of-sequence id 1 (as in ``word_tokenizer``)."""
    ids = {"pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 1}
    if model_type == "gpt2":
        config = {"model_type": "gpt2", "vocab_size": vocab_size, "n_positions": 64, "n_embd": 16,
                  "n_layer": 2, "n_head": 2, "resid_pdrop": 0.0, "embd_pdrop": 0.0,
                  "attn_pdrop": 0.0, **ids}
    elif model_type == "llama":
        config = {"model_type": "llama", "vocab_size": vocab_size, "hidden_size": 16,
                  "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                  "num_key_value_heads": 2, "max_position_embeddings": 64, **ids}
    else:
        raise ValueError(f"model_type must be 'gpt2' or 'llama', got {model_type!r}")
    if num_labels is not None:
        config["num_labels"] = num_labels
    config.update(overrides)
    return config


def write_config(config: dict, path) -> Path:
    """Write a config dict as JSON (what ``nashlab train --hf-model-config`` reads)."""
    path = Path(path)
    path.write_text(json.dumps(config))
    return path


def model_from_config(config: dict, auto_class="AutoModelForCausalLM", *, seed=0):
    """A randomly initialised (seeded), float64 ``transformers`` model from a config dict."""
    import torch
    import transformers

    options = dict(config)
    hf_config = transformers.AutoConfig.for_model(options.pop("model_type"), **options)
    torch.manual_seed(seed)
    return getattr(transformers, auto_class).from_config(hf_config).double()
