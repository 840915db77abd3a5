"""Fine-tune a transformers causal LM with Nash-MP against a reward model.

Runs offline on CPU in 15-55 s (measured on 2 loaded cores: 53 s with cold caches, 15 s
warm; most of it importing torch and transformers): the LM and the reward model are tiny,
randomly initialised GPT-2s and the tokenizer is a word-level one built locally. With real models, replace the
first three lines of the recipe by ``AutoTokenizer.from_pretrained(...)``,
``AutoModelForCausalLM.from_pretrained(...)`` (a PEFT/LoRA model works unchanged) and
``AutoModelForSequenceClassification.from_pretrained(..., num_labels=1)``.

    python examples/finetune_hf.py [OUTPUT_DIR]
"""

import sys

from nashlab.scaling import BradleyTerryOracle, CausalLMPolicy, Trainer
from nashlab.scaling.tiny import model_from_config, tiny_config, word_tokenizer


def main(output_dir="runs/nash-mp"):
    tokenizer = word_tokenizer()
    lm = model_from_config(tiny_config(len(tokenizer)))
    reward_model = model_from_config(tiny_config(len(tokenizer), num_labels=1),
                                     "AutoModelForSequenceClassification", seed=1)
    policy = CausalLMPolicy(lm, tokenizer, max_new_tokens=6)
    oracle = BradleyTerryOracle.from_reward_model(reward_model, tokenizer, policy)
    trainer = Trainer(policy, oracle, algorithm="nash-mp", beta=0.1, eta=2.0, lr=1e-3,
                      batch_size=16, inner_steps=4, steps=3, contexts=["why is the sun", "how"])
    summary = trainer.train(output_dir=output_dir)
    print(summary)
    return summary


if __name__ == "__main__":
    main(*sys.argv[1:2])
