"""The TRL-shaped trainers (``nashlab.scaling.trl``) on CPU with tiny randomly initialised
models from configs; the PEFT reference; resuming; the token-level Nash-MD mixture."""

import copy
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("datasets")
pytest.importorskip("tokenizers")

from datasets import Dataset  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from nashlab.scaling.policies import (  # noqa: E402
    AutoregressivePolicy,
    CausalLMPolicy,
    geometric_mixture,
    token_level_mixture,
    token_mixture_kl,
)
from nashlab.scaling.tiny import model_from_config, tiny_config, word_tokenizer  # noqa: E402
from nashlab.scaling.trl import (  # noqa: E402
    EGPOConfig,
    EGPOTrainer,
    NashMDConfig,
    NashMDTrainer,
    NashMPConfig,
    NashMPTrainer,
    NashProxConfig,
    NashProxTrainer,
    OnlineIPOConfig,
    OnlineIPOTrainer,
)
from nashlab.scaling.trl.feedback import judge_oracle, reward_oracle  # noqa: E402

torch.set_num_threads(1)
PROMPTS = ["why is the sun", "how is it", "what a cat", "the dog is"]
COMMON = {"report_to": "none", "use_cpu": True, "disable_tqdm": True, "logging_steps": 1,
          "per_device_train_batch_size": 2, "learning_rate": 3e-2, "max_new_tokens": 3}


@pytest.fixture(scope="module")
def tok():
    t = word_tokenizer()
    t.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }} {% endfor %}"
                       "{% if add_generation_prompt %}assistant: {% endif %}")
    return t


def _lm(tok, kind="gpt2", seed=0):
    return model_from_config(tiny_config(len(tok), model_type=kind), seed=seed)


def _classifier(tok, kind="gpt2", seed=1):
    return model_from_config(tiny_config(len(tok), model_type=kind, num_labels=1),
                             "AutoModelForSequenceClassification", seed=seed)


def _trainable(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


# ---- configs ------------------------------------------------------------------------------
def test_configs_read_the_step_library(tmp_path):
    md = NashMDConfig(output_dir=str(tmp_path), beta=0.1, mixture_coef=0.2)
    assert md.eta == pytest.approx(2.0) and md.train_config().mixture_weight == pytest.approx(0.2)
    assert NashMDConfig(output_dir=str(tmp_path), beta=0.1).mixture_coef == pytest.approx(0.01)
    assert NashMPConfig(output_dir=str(tmp_path)).train_config().algorithm == "nash-mp"
    assert EGPOConfig(output_dir=str(tmp_path)).train_config().algorithm == "egpo"
    assert OnlineIPOConfig(output_dir=str(tmp_path)).train_config().algorithm == "omd"
    with pytest.raises(ValueError, match="mixture_coef"):
        NashMDConfig(output_dir=str(tmp_path), beta=0.1, mixture_coef=0.2, eta=1.0)
    with pytest.raises(ValueError, match="mixture_coef"):
        NashMDConfig(output_dir=str(tmp_path), mixture_coef=[0.5, 0.2])
    with pytest.raises(ValueError, match="loss"):
        NashMPConfig(output_dir=str(tmp_path), loss="sigmoid")
    with pytest.raises(ValueError, match="beta"):
        NashMPConfig(output_dir=str(tmp_path), beta=0.0)
    with pytest.raises(ValueError, match="remove_unused_columns"):
        NashMPConfig(output_dir=str(tmp_path), remove_unused_columns=True)
    with pytest.raises(ValueError, match="max_new_tokens"):
        NashMPConfig(output_dir=str(tmp_path), max_new_tokens=0)


def test_trainer_arguments_are_checked(tok, tmp_path):
    args = NashMDConfig(output_dir=str(tmp_path), **COMMON)
    lm, rm, ds = _lm(tok), _classifier(tok), Dataset.from_dict({"prompt": PROMPTS})
    with pytest.raises(ValueError, match="exactly one of reward_funcs"):
        NashMDTrainer(model=lm, reward_funcs=rm, judge=rm, args=args, processing_class=tok,
                      train_dataset=ds)
    with pytest.raises(ValueError, match="'prompt' column"):
        NashMDTrainer(model=lm, reward_funcs=rm, args=args, processing_class=tok,
                      train_dataset=Dataset.from_dict({"text": PROMPTS}))
    with pytest.raises(TypeError, match="args must be a NashMDConfig"):
        NashMDTrainer(model=lm, reward_funcs=rm, args=NashMPConfig(output_dir=str(tmp_path)),
                      processing_class=tok, train_dataset=ds)
    with pytest.raises(TypeError, match="processing_class"):
        NashMDTrainer(model=lm, reward_funcs=rm, args=args, train_dataset=ds)


# ---- feedback -----------------------------------------------------------------------------
def test_reward_functions_and_judges_become_oracles(tok):
    policy = CausalLMPolicy(_lm(tok), tok, max_new_tokens=3)
    a = policy.sample(3, PROMPTS[:3], generator=torch.Generator().manual_seed(0))
    b = policy.sample(3, PROMPTS[:3], generator=torch.Generator().manual_seed(1))
    length = [float(len(t.split())) for t in policy.decode(a)], [float(len(t.split())) for t in policy.decode(b)]

    def words(prompts, completions):
        return [float(len(c.split())) for c in completions]

    oracle = reward_oracle([words, words], [tok, tok], policy)       # rewards add up
    expected = torch.sigmoid(2 * (torch.tensor(length[0]) - torch.tensor(length[1]))).double()
    torch.testing.assert_close(oracle(PROMPTS[:3], a, b), expected)

    class Shorter:  # TRL's pairwise-judge shape: index of the preferred completion
        def judge(self, prompts, completions, shuffle_order=True):
            return [0 if len(x) <= len(y) else 1 for x, y in completions]

    got = judge_oracle(Shorter(), tok, policy)(PROMPTS[:3], a, b)
    ta, tb = policy.decode(a), policy.decode(b)
    assert got.tolist() == [1.0 if len(x) <= len(y) else 0.0 for x, y in zip(ta, tb, strict=True)]

    class Bad:
        def judge(self, prompts, completions, shuffle_order=True):
            return [2] * len(completions)

    with pytest.raises(ValueError, match="index"):
        judge_oracle(Bad(), tok, policy)(PROMPTS[:3], a, b)
    with pytest.raises(TypeError, match="judge must be"):
        judge_oracle(3, tok, policy)


# ---- training end to end --------------------------------------------------------------------
def test_nash_md_with_a_reward_model_trains_and_counts_queries(tok, tmp_path):
    lm = _lm(tok)
    before = _trainable(lm)
    args = NashMDConfig(output_dir=str(tmp_path), beta=0.1, mixture_coef=0.2, max_steps=3,
                        save_strategy="no", **COMMON)
    trainer = NashMDTrainer(model=lm, reward_funcs=_classifier(tok), args=args,
                            processing_class=tok,
                            train_dataset=Dataset.from_dict({"prompt": PROMPTS}))
    trainer.train()
    assert trainer.state.global_step == 3
    assert trainer.oracle.queries == 3 * 2                           # pg: one query per response
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    assert len(losses) == 3 and np.isfinite(losses).all()
    logged = [e for e in trainer.state.log_history if "loss" in e]
    assert [e["queries"] for e in logged] == [2, 4, 6]              # evaluation is not counted
    assert all(e["kl_to_reference"] >= 0 and 0 <= e["win_rate"] <= 1 for e in logged)
    assert logged[-1]["kl_to_reference"] > 0
    assert any(not torch.equal(before[n], p) for n, p in _trainable(lm).items())


def test_nash_mp_with_a_pairwise_judge_on_conversational_prompts(tok, tmp_path):
    chats = [[{"role": "user", "content": p}] for p in PROMPTS]
    args = NashMPConfig(output_dir=str(tmp_path), loss="regression", inner_steps=1, max_steps=2,
                        save_strategy="no", **COMMON)
    trainer = NashMPTrainer(model=_lm(tok, "llama"), judge=_classifier(tok, "llama"), args=args,
                            processing_class=tok, train_dataset=Dataset.from_dict({"prompt": chats}))
    trainer.train()
    assert trainer.oracle.queries == 2 * 2 * 2                       # regression: g(y), g(y')
    # phase 0 (opponent π_k) at step 0, phase 1 (opponent π_{k+½}, the policy after step 0)
    assert trainer._phase == 1
    half = dict(zip(trainer.half.names, trainer.half.tensors, strict=True))
    anchor = dict(zip(trainer.anchor.names, trainer.anchor.tensors, strict=True))
    now = _trainable(trainer.policy)
    assert any(not torch.equal(half[n], anchor[n]) for n in now)
    assert any(not torch.equal(half[n], now[n]) for n in now)


@pytest.mark.parametrize("trainer_class, config_class", [(OnlineIPOTrainer, OnlineIPOConfig),
                                                          (EGPOTrainer, EGPOConfig)])
def test_online_ipo_and_egpo_with_a_reward_function(tok, tmp_path, trainer_class, config_class):
    def words(prompts, completions):  # TRL's reward-function signature
        return [float(len(c.split())) for c in completions]

    args = config_class(output_dir=str(tmp_path), max_steps=2, save_strategy="no", **COMMON)
    trainer = trainer_class(model=_lm(tok), reward_funcs=words, args=args, processing_class=tok,
                            train_dataset=Dataset.from_dict({"prompt": PROMPTS}))
    trainer.train()
    assert trainer.oracle.queries == 2 * 2
    assert trainer.plan == (("anchor",) if trainer_class is OnlineIPOTrainer else ("anchor", "half"))


def test_nash_prox_freezes_each_self_play_round_and_anchors_the_proximal_step(tok, tmp_path):
    seen = {}

    class Watch(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            seen[state.global_step] = _trainable(trainer.policy)

    # gradient accumulation: two micro-batches (each with its own queries) per optimiser step
    args = NashProxConfig(output_dir=str(tmp_path), self_play_rounds=2, max_steps=2,
                          gradient_accumulation_steps=2, save_strategy="no", **COMMON)
    assert args.train_config().self_play_rounds == 2
    trainer = NashProxTrainer(model=_lm(tok), reward_funcs=_classifier(tok), args=args,
                              processing_class=tok, callbacks=[Watch()],
                              train_dataset=Dataset.from_dict({"prompt": PROMPTS}))
    start = _trainable(trainer.policy)
    assert trainer.plan == ("half", "half") and trainer.target.anchor == "half"
    trainer.train()
    half = trainer.half.state_dict()
    anchor = trainer.anchor.state_dict()
    for name in start:
        assert torch.equal(anchor[name], start[name])        # π_k: the policy at the outer step
        assert torch.equal(half[name], seen[1][name])         # round 2's π_j: after round 1
    assert any(not torch.equal(seen[1][n], start[n]) for n in start)
    assert trainer.oracle.queries == 2 * 2 * 2


def _states(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_resume_from_checkpoint_ends_at_the_uninterrupted_weights(tok, tmp_path):
    ds = Dataset.from_dict({"prompt": PROMPTS})

    def run(out, resume=None):
        args = NashMPConfig(output_dir=str(out), inner_steps=2, max_steps=4, save_steps=3,
                            seed=5, **COMMON)
        trainer = NashMPTrainer(model=_lm(tok), reward_funcs=_classifier(tok), args=args,
                                processing_class=tok, train_dataset=ds)
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    whole = run(tmp_path / "a")
    # interrupt after step 3 (mid sub-problem: the anchor and π_{k+½} come from the checkpoint)
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "b" / "checkpoint-3")
    resumed = run(tmp_path / "b", resume=True)
    assert resumed.state.global_step == 4 and resumed.oracle.queries == whole.oracle.queries
    a, b = _states(whole.model), _states(resumed.model)
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=0, atol=1e-12)
    assert (tmp_path / "b" / "checkpoint-3" / "nlhf_state_0.safetensors").is_file()


# ---- PEFT ---------------------------------------------------------------------------------
def test_lora_trains_adapters_only_and_the_reference_never_moves(tok, tmp_path):
    peft = pytest.importorskip("peft")
    lm = _lm(tok, "llama")
    base = copy.deepcopy(lm).eval()
    base_policy = CausalLMPolicy(base, tok, max_new_tokens=3)
    prompts = PROMPTS * 2
    responses = base_policy.sample(len(prompts), prompts, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        base_logp = base_policy(responses, prompts)
    seen = []

    class Watch(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            seen.append(trainer.reference(responses, prompts))

    args = NashMDConfig(output_dir=str(tmp_path), beta=0.1, mixture_coef=0.3, max_steps=3,
                        save_strategy="no", **COMMON)
    trainer = NashMDTrainer(model=lm, reward_funcs=_classifier(tok, "llama"), args=args,
                            processing_class=tok, train_dataset=Dataset.from_dict({"prompt": PROMPTS}),
                            peft_config=peft.LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0,
                                                        target_modules=["q_proj", "v_proj"]),
                            callbacks=[Watch()])
    model = trainer.model
    trainable = list(_trainable(trainer.policy))
    assert trainable and all("lora_" in n for n in trainable)
    # the anchor stores the adapters only (no second copy of the base weights)
    assert sorted(trainer.anchor.names) == sorted(trainable)
    assert not hasattr(trainer.reference, "tensors")
    trainer.train()
    assert len(seen) == 3
    for logp in seen:
        torch.testing.assert_close(logp, base_logp, rtol=0, atol=0)
    with torch.no_grad():
        assert not torch.allclose(trainer.policy(responses, prompts), base_logp)
    base_weights = dict(base.named_parameters())
    for name, p in model.get_base_model().named_parameters():
        if "lora_" not in name:
            key = name.replace("base_layer.", "")
            assert torch.equal(p, base_weights[key]), name


# ---- the token-level mixture ----------------------------------------------------------------
def _random_joint(rng, n):
    x = rng.standard_normal(n)
    return torch.log_softmax(torch.tensor(x), -1)


def test_token_level_mixture_is_exact_at_the_ends_and_for_products():
    rng = np.random.default_rng(0)
    V, L = 3, 3
    lp, lq = _random_joint(rng, V ** L), _random_joint(rng, V ** L)
    torch.testing.assert_close(token_level_mixture(lp, lq, 0.0, vocab=V, length=L), lp)
    torch.testing.assert_close(token_level_mixture(lp, lq, 1.0, vocab=V, length=L), lq)
    for w in (0.0, 1.0):
        gap = token_mixture_kl(lp, lq, w, vocab=V, length=L)
        assert gap["token_to_sequence"] == pytest.approx(0, abs=1e-13)
    # products over positions: the normaliser factors, the two mixtures agree at every w
    def product(rng):
        t = torch.log_softmax(torch.tensor(rng.standard_normal((L, V))), -1)
        seq = torch.cartesian_prod(*[torch.arange(V)] * L)
        return t[torch.arange(L), seq].sum(-1)
    pp, pq = product(rng), product(rng)
    torch.testing.assert_close(token_level_mixture(pp, pq, 0.3, vocab=V, length=L),
                               geometric_mixture(pp, pq, 0.3))
    gap = token_mixture_kl(lp, lq, 0.3, vocab=V, length=L)
    assert gap["token_to_sequence"] > 1e-4 and gap["sequence_to_token"] > 1e-4
    with pytest.raises(ValueError, match="weight"):
        token_level_mixture(lp, lq, 1.5, vocab=V, length=L)


def test_token_level_mixture_is_what_the_sampler_draws():
    """Two computations: from the joints' prefix marginals, and from the network's own
    next-token conditionals mixed position by position (what ``sample(mixture=...)`` uses)."""
    V, L, w = 3, 3, 0.4
    nets = []
    for seed in (1, 2):
        net = AutoregressivePolicy(V, L, hidden=8, layers=1, seed=seed)
        with torch.no_grad():
            net.net[-1].weight.normal_(0, 1.0, generator=torch.Generator().manual_seed(seed))
        nets.append(net)
    p, q = nets
    with torch.no_grad():
        want = token_level_mixture(p.log_probs_all(), q.log_probs_all(), w, vocab=V, length=L)
        seqs = p.all_responses()
        cond = geometric_mixture(p.token_log_probs(seqs), q.token_log_probs(seqs), w)
        direct = cond.gather(-1, seqs[..., None])[..., 0].sum(-1)
    torch.testing.assert_close(want, direct, rtol=0, atol=1e-10)


# ---- the migration examples ------------------------------------------------------------------
def _example(name):
    import runpy
    from pathlib import Path

    return runpy.run_path(str(Path(__file__).resolve().parents[2] / "examples" / name))


def test_trl_style_example_and_its_nashlab_twin_run_and_resume(tmp_path):
    trl_main = _example("trl_nash_md.py")["main"]
    first = trl_main(str(tmp_path / "trl"), max_steps=2)
    resumed = trl_main(str(tmp_path / "trl"), max_steps=4)            # picks up checkpoint-2
    assert first.state.global_step == 2 and resumed.state.global_step == 4
    assert resumed.oracle.queries == 4 * 3
    # the first two log entries come from the checkpoint (a fresh 4-step run decays the
    # learning rate differently: 7.5e-4 at step 2, not 5e-4)
    logged = [e for e in resumed.state.log_history if "loss" in e]
    assert logged[:2] == [e for e in first.state.log_history if "loss" in e]
    assert (tmp_path / "trl" / "checkpoint-4" / "nlhf_state_0.safetensors").is_file()
    native_main = _example("nash_md_native.py")["main"]
    first = native_main(str(tmp_path / "native"), steps=2)
    resumed = native_main(str(tmp_path / "native"), steps=4)          # loads step-000002
    assert resumed.step == 4 and resumed.queries > first.queries
    assert resumed.history[:3] == first.history                       # incl. measured seconds
