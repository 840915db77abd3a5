"""A TRL-style Nash-MD script on nashlab's ``NashMDTrainer`` (the migration's "after").

The arguments are those of TRL's removed ``NashMDTrainer``; only the import changed. Runs
offline in seconds on CPU: the policy is a tiny, randomly initialised GPT-2, the judge a
tiny pairwise preference model (a sequence classifier reading the pair), the tokenizer a
word-level one built locally. With real models, replace the three lines marked ``# tiny``
by ``from_pretrained`` calls. Run it twice to see it resume from its last checkpoint:

    python examples/trl_nash_md.py [OUTPUT_DIR] [--lora]
"""

import os
import sys

from datasets import Dataset
from transformers.trainer_utils import get_last_checkpoint

from nashlab.scaling.tiny import model_from_config, tiny_config, word_tokenizer
from nashlab.scaling.trl import NashMDConfig, NashMDTrainer

PROMPTS = ["why is the sun", "how is it", "what a cat", "the dog is", "is it good", "why no rain"]


def main(output_dir="runs/trl-nash-md", max_steps=4, lora=False):
    tokenizer = word_tokenizer()                                              # tiny
    model = model_from_config(tiny_config(len(tokenizer)))                     # tiny
    judge = model_from_config(tiny_config(len(tokenizer), num_labels=1),      # tiny
                              "AutoModelForSequenceClassification", seed=1)
    peft_config = None
    if lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["c_attn"],
                                 fan_in_fan_out=True)
    args = NashMDConfig(output_dir=output_dir, beta=0.1, mixture_coef=0.2, max_new_tokens=6,
                        temperature=1.0, per_device_train_batch_size=3, learning_rate=1e-3,
                        max_steps=max_steps, save_steps=2, logging_steps=1, report_to="none",
                        use_cpu=True, disable_tqdm=True)
    trainer = NashMDTrainer(model=model, judge=judge, args=args, processing_class=tokenizer,
                            train_dataset=Dataset.from_dict({"prompt": PROMPTS}),
                            peft_config=peft_config)
    resume = os.path.isdir(output_dir) and get_last_checkpoint(output_dir) is not None
    trainer.train(resume_from_checkpoint=True if resume else None)
    print({"steps": trainer.state.global_step, "queries": trainer.oracle.queries})
    return trainer


if __name__ == "__main__":
    main(*[a for a in sys.argv[1:2] if a != "--lora"], lora="--lora" in sys.argv)
