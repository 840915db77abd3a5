"""Prompts from a ``datasets.Dataset`` with a "prompt" column, plain or conversational.

A plain prompt is a string. A conversational prompt is a list of messages
``{"role": ..., "content": ...}``, rendered by the tokenizer's chat template with the
generation prompt appended (``apply_chat_template(..., add_generation_prompt=True)``).
"""


def check_dataset(dataset, name="train_dataset"):
    """A ``datasets.Dataset`` with a "prompt" column (TypeError / ValueError otherwise)."""
    try:
        from datasets import Dataset
    except ImportError:  # pragma: no cover - datasets ships with the neural extra's transformers
        Dataset = ()
    if not isinstance(dataset, Dataset):
        raise TypeError(f"{name} must be a datasets.Dataset with a 'prompt' column, got "
                        f"{type(dataset).__name__}")
    if "prompt" not in dataset.column_names:
        raise ValueError(f"{name} must have a 'prompt' column; its columns are {dataset.column_names}")
    if len(dataset) == 0:
        raise ValueError(f"{name} is empty")
    return dataset


def render_prompt(prompt, tokenizer):
    """The prompt text of one dataset row."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and all(
            isinstance(m, dict) and {"role", "content"} <= set(m) for m in prompt):
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError("a conversational prompt needs a tokenizer with a chat_template")
        return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    raise TypeError("a prompt must be a string or a list of messages {'role': ..., 'content': ...}; "
                    f"got {prompt!r}")


class PromptCollator:
    """Collates dataset rows into ``{"prompt": [text, ...]}``."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, rows):
        return {"prompt": [render_prompt(row["prompt"], self.tokenizer) for row in rows]}
