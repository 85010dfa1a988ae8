"""Fine-tune training on the tiny chat model: masking, loss, adapters, cancel, resume, queue."""

from __future__ import annotations

import json
import shutil
import time

import pytest
import yaml

from playground.cli import main as cli
from playground.finetune import jobs
from playground.finetune.render import IGNORE_INDEX, encode, render

SAME_ANSWER = "Hello! I am a helpful assistant."
PROMPTS = [
    "Say hello",
    "Greet me",
    "Who are you?",
    "Hi there",
    "Introduce yourself",
    "Good morning",
    "你好",
    "Start",
]
# No warmup: 20 steps on the toy set must learn it (warmup_ratio is honoured, so say it).
FAST = ["--lr", "3e-2", "--warmup-ratio", "0", "--batch-size", "8", "--grad-accum", "1"]
FAST += ["--seed", "7"]


@pytest.fixture(scope="module")
def learnable(tiny_models, tmp_path_factory):
    """The tiny chat model with embeddings scaled up, plus a models file for it.

    At the random init (std 0.02) the tied output layer caps every logit near 1,
    so no adapter could make a confident prediction; scaled embeddings give the
    LoRA layers something to steer. The tokenizer and chat template are unchanged.
    """
    import torch
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("learnable")
    src = tiny_models.parent / "tiny-chat"
    dst = folder / "learn-chat"
    model = AutoModelForCausalLM.from_pretrained(src)
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(10)
    model.save_pretrained(dst)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)
    config = {
        "defaults": {"device": "cpu", "dtype": "float32", "memory_budget": "4GB"},
        "models": [{"name": "learn-chat", "task": "chat", "source": str(dst)}],
    }
    (folder / "models.yaml").write_text(yaml.safe_dump(config))
    data = folder / "toy.jsonl"
    data.write_text(
        "".join(
            json.dumps({"instruction": p, "output": SAME_ANSWER}, ensure_ascii=False) + "\n"
            for p in PROMPTS
        ),
        encoding="utf-8",
    )
    return folder


def test_loss_mask_covers_only_assistant_turns(tiny_models):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_models.parent / "tiny-chat")
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": "Hi! 你好"},
        {"role": "user", "content": "Again"},
        {"role": "assistant", "content": "Sure."},
    ]
    enc = encode(tok, messages, max_length=512)
    text = render(tok, messages)
    assert enc.input_ids == tok(text, add_special_tokens=False)["input_ids"]
    trained = [
        t for t, label in zip(enc.input_ids, enc.labels, strict=True) if label != IGNORE_INDEX
    ]
    assert [label for label in enc.labels if label != IGNORE_INDEX] == trained
    assert tok.decode(trained) == "Hi! 你好<|im_end|>\nSure.<|im_end|>\n"
    # Everything up to and including the first assistant header is masked.
    header = render(tok, messages[:2], add_generation_prompt=True)
    n_prompt = len(tok(header, add_special_tokens=False)["input_ids"])
    assert all(label == IGNORE_INDEX for label in enc.labels[:n_prompt])
    cut = encode(tok, messages, max_length=10)
    assert len(cut.input_ids) == 10 and cut.truncated and cut.trained_tokens == 0


def _run(learnable, out, *extra):
    args = ["finetune", "run", "--config", str(learnable / "models.yaml"), "--base", "learn-chat"]
    args += [
        "--data",
        str(learnable / "toy.jsonl"),
        "--out",
        str(out),
        "--max-steps",
        "20",
        *FAST,
        *extra,
    ]
    assert cli(args) == 0
    return json.loads((out / "adapter" / "manifest.json").read_text())


@pytest.fixture(scope="module")
def trained_job(learnable, tmp_path_factory):
    out = tmp_path_factory.mktemp("jobs") / "first"
    return out, _run(learnable, out)


def test_training_loss_falls_and_is_deterministic(learnable, trained_job, tmp_path, capsys):
    out, manifest = trained_job
    assert manifest["global_step"] == 20
    assert manifest["train_loss"] < manifest["first_loss"] / 2, manifest
    assert (out / "adapter" / "adapter_model.safetensors").exists()
    assert (out / "adapter" / "adapter_config.json").exists()
    assert manifest["base"] == "learn-chat" and len(manifest["dataset_sha256"]) == 64
    assert manifest["settings"]["learning_rate"] == 3e-2 and manifest["tokens_per_second"] > 0
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "completed" and status["step"] == 20
    metrics = jobs.read_metrics(out)
    assert [m["step"] for m in metrics if "loss" in m] == list(range(1, 21))
    assert all("learning_rate" in m for m in metrics if "loss" in m)
    again = _run(learnable, tmp_path / "again")
    losses = [m["loss"] for m in metrics if "loss" in m]
    assert [
        m["loss"] for m in jobs.read_metrics(tmp_path / "again") if "loss" in m
    ] == pytest.approx(losses, abs=1e-5)
    assert again["train_loss"] == pytest.approx(manifest["train_loss"], abs=1e-5)
    assert "final loss" in capsys.readouterr().out


def test_adapter_loads_through_registry_and_changes_output(learnable, trained_job):
    import torch

    from playground.config import load_config
    from playground.finetune import adapter_entry
    from playground.registry import Registry

    out, manifest = trained_job
    registry = Registry(load_config(learnable / "models.yaml"))
    entry = adapter_entry(out)
    assert entry.base == "learn-chat" and entry.task == "chat"
    registry.register(entry)
    prompt = [{"role": "user", "content": "Greet me"}]
    with registry.use("learn-chat") as base, registry.use(entry.name) as tuned:
        ids = base.tokenizer.apply_chat_template(
            prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"]
        with torch.no_grad():
            base_logits = base.model(ids).logits[0, -1]
            tuned_logits = tuned.model(ids).logits[0, -1]
            reply = tuned.model.generate(ids, max_new_tokens=12, do_sample=False)
    assert not torch.allclose(base_logits, tuned_logits, atol=1e-3)
    text = tuned.tokenizer.decode(reply[0, ids.shape[1] :], skip_special_tokens=True)
    assert "helpful assistant" in text, text  # it learned the toy answer


def test_validate_cli_exit_codes(learnable, tmp_path, capsys):
    config = str(learnable / "models.yaml")
    assert (
        cli(
            [
                "finetune",
                "validate",
                "--config",
                config,
                "--base",
                "learn-chat",
                str(learnable / "toy.jsonl"),
            ]
        )
        == 0
    )
    report = capsys.readouterr().out
    assert "8 valid" in report and "tokens per record" in report and "estimate on cpu" in report
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "x"}\n', encoding="utf-8")
    assert cli(["finetune", "validate", "--config", config, "--base", "learn-chat", str(bad)]) == 2
    assert "record 1, line 1, field 'output': missing field" in capsys.readouterr().out
    assert cli(["finetune", "validate", "--config", config, "--base", "nope", str(bad)]) == 2


def _wait_for(predicate, timeout=120, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_queue_cancel_keeps_checkpoint_and_resume_continues(learnable, tmp_path):
    from playground.config import load_config
    from playground.finetune import engine
    from playground.finetune.train import run_job

    config = load_config(learnable / "models.yaml")
    queue = tmp_path / "queue"

    def make(name, steps):
        the_plan = engine.plan(
            config,
            "learn-chat",
            learnable / "toy.jsonl",
            overrides={
                "max_steps": steps,
                "save_steps": 2,
                "batch_size": 8,
                "grad_accum": 1,
                "learning_rate": 3e-2,
            },
        )
        _entry, source, device = engine.resolve_base(config, "learn-chat")
        return jobs.prepare_job(
            tmp_path / name,
            models_config=learnable / "models.yaml",
            base="learn-chat",
            base_source=source,
            device=device,
            dataset=the_plan.dataset,
            settings=the_plan.settings,
            queue_dir=queue,
        )

    first, second = make("first", 2000), make("second", 2)
    jobs.launch(first)
    _wait_for(lambda: jobs.read_status(first).get("state") == "running", what="first job to run")
    jobs.launch(second)
    # One training job per device: the second waits with its position shown.
    _wait_for(lambda: jobs.read_status(second).get("queue_position") == 1, what="second job queued")
    assert jobs.read_status(second)["state"] == "queued"
    _wait_for(lambda: (jobs.read_status(first).get("step") or 0) >= 3, what="a few steps")
    jobs.cancel(first)
    status = jobs.wait_until_done(first, timeout=120)
    assert status["state"] == "cancelled", status
    checkpoint = jobs.last_checkpoint(first)
    assert checkpoint is not None and (checkpoint / "adapter_model.safetensors").exists()
    stopped = int(checkpoint.name.split("-")[1])
    assert stopped >= 3
    assert "cancel requested" in jobs.log_tail(first)
    # The queued job starts once the device is free.
    assert jobs.wait_until_done(second, timeout=120)["state"] == "completed"
    # Resume: the step count continues from the checkpoint.
    manifest = run_job(first, resume=True, max_steps=stopped + 3)
    assert manifest["global_step"] == stopped + 3
    steps = [m["step"] for m in jobs.read_metrics(first) if "loss" in m]
    assert steps[-3:] == [stopped + 1, stopped + 2, stopped + 3]
    assert jobs.read_status(first)["state"] == "completed"


def test_run_that_cannot_fit_is_refused_with_a_reason(learnable, tmp_path):
    from playground.config import load_config
    from playground.errors import OutOfMemoryError
    from playground.finetune import engine
    from playground.registry import Registry

    registry = Registry(load_config(learnable / "models.yaml"))
    huge = engine.plan(
        registry,
        "learn-chat",
        learnable / "toy.jsonl",
        overrides={"batch_size": 10**6, "max_length": 4096},
    )
    assert not huge.estimate.fits and "Lower the batch size" in huge.estimate.reason
    assert "will not fit" in huge.report()
    with pytest.raises(OutOfMemoryError, match="needs about"):
        engine.start_job(registry, tmp_path, "someone", huge)
    assert jobs.list_jobs(tmp_path, "someone") == []
    from playground.errors import InputError

    with pytest.raises(InputError, match="QLoRA .* needs a CUDA GPU"):
        engine.plan(registry, "learn-chat", learnable / "toy.jsonl", overrides={"qlora": True})
    small = engine.plan(registry, "learn-chat", learnable / "toy.jsonl")
    assert small.estimate.fits and small.settings.target_modules == "all-linear"
    assert small.settings.epochs == 5 and small.settings.val_ratio == 0  # 8 records: no split


def test_export_merged_matches_the_adapter(learnable, trained_job, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from playground.finetune import export_merged

    out, manifest = trained_job
    merged_dir = export_merged(out, tmp_path / "merged")
    assert (merged_dir / "model.safetensors").exists() and (merged_dir / "tokenizer.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(merged_dir)
    base = AutoModelForCausalLM.from_pretrained(manifest["base_source"])
    tuned = PeftModel.from_pretrained(base, str(out / "adapter"))
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, tuned(ids).logits, atol=1e-4)
