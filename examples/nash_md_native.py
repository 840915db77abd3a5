"""The nashlab twin of ``trl_nash_md.py``: the same Nash-MD run on ``nashlab.scaling.Trainer``.

Same models, judge, β, mixture weight α = η'β, prompts and response length; nashlab's own
loop instead of ``transformers.Trainer``, over the same step library (losses, sub-problem
closures, samplers), with verified checkpoints (``step-NNNNNN``) that resume to the result
of an uninterrupted run. Run it twice to see it resume:

    python examples/nash_md_native.py [OUTPUT_DIR]
"""

import sys

from nashlab.scaling import CausalLMPolicy, PairwiseModelOracle, Trainer
from nashlab.scaling.checkpoint import latest_checkpoint
from nashlab.scaling.tiny import model_from_config, tiny_config, word_tokenizer

PROMPTS = ["why is the sun", "how is it", "what a cat", "the dog is", "is it good", "why no rain"]


def main(output_dir="runs/nash-md", steps=4):
    tokenizer = word_tokenizer()                                              # tiny
    model = model_from_config(tiny_config(len(tokenizer)))                     # tiny
    judge = model_from_config(tiny_config(len(tokenizer), num_labels=1),      # tiny
                              "AutoModelForSequenceClassification", seed=1)
    policy = CausalLMPolicy(model, tokenizer, max_new_tokens=6)
    oracle = PairwiseModelOracle(judge, tokenizer, policy)
    beta, mixture_coef = 0.1, 0.2
    trainer = Trainer(policy, oracle, algorithm="nash-md", beta=beta, eta=mixture_coef / beta,
                      loss="pg", batch_size=3, inner_steps=1, lr=1e-3, steps=steps,
                      eval_samples=16, contexts=PROMPTS, progress=False)
    if latest_checkpoint(output_dir) is not None:
        trainer.load(output_dir)
    print(trainer.train(output_dir=output_dir))
    return trainer


if __name__ == "__main__":
    main(*sys.argv[1:2])
