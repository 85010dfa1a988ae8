"""Fault injection for fine-tune jobs: kill -9 the trainer in every phase, double starts,
and Cancel while the model loads. Each test runs real detached trainers on the tiny model."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from playground.errors import InputError
from playground.finetune import jobs

pytestmark = pytest.mark.slow
STEPS = 20  # checkpoints every 2 steps (10%), so kills land between and inside saves


@pytest.fixture(scope="module")
def make_job(tiny_models, tmp_path_factory):
    from playground.config import load_config
    from playground.finetune import engine

    folder = tmp_path_factory.mktemp("fault-jobs")
    data = folder / "toy.jsonl"
    data.write_text(
        "".join(
            json.dumps({"instruction": f"question {i}", "output": f"answer {i}"}) + "\n"
            for i in range(8)
        )
    )
    config = load_config(tiny_models)
    overrides = {"max_steps": STEPS, "batch_size": 4, "grad_accum": 1, "val_ratio": 0}
    the_plan = engine.plan(config, "tiny-chat", data, overrides=overrides)
    _entry, source, device = engine.resolve_base(config, "tiny-chat")
    counter = iter(range(1000))

    def make() -> Path:
        return jobs.prepare_job(
            folder / f"job-{next(counter)}",
            models_config=tiny_models,
            base="tiny-chat",
            base_source=source,
            device=device,
            dataset=the_plan.dataset,
            settings=the_plan.settings,
        )

    return make


def wait_for(predicate, timeout=240, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def trainer_gone(job_dir: Path) -> bool:
    return not jobs.is_alive(job_dir)


def launch_with_fault(monkeypatch, job_dir: Path, fault: str, action: str = "kill", **kw):
    monkeypatch.setenv("PLAYGROUND_FAULT_AT", fault)
    monkeypatch.setenv("PLAYGROUND_FAULT_ACTION", action)
    try:
        return jobs.launch(job_dir, **kw)
    finally:
        monkeypatch.delenv("PLAYGROUND_FAULT_AT")
        monkeypatch.delenv("PLAYGROUND_FAULT_ACTION")


def loss_steps(job_dir: Path) -> list[int]:
    return [m["step"] for m in jobs.read_metrics(job_dir) if "loss" in m]


@pytest.mark.parametrize(
    "fault",
    ["finetune.before-load", "finetune.loading", "finetune.step:8", "finetune.saving:2"],
)
def test_kill_the_trainer_then_resume_finishes(make_job, monkeypatch, fault):
    job_dir = make_job()
    launch_with_fault(monkeypatch, job_dir, fault)
    wait_for(lambda: trainer_gone(job_dir), what="the trainer to be killed")
    assert f"fault point {fault.split(':')[0]} reached" in jobs.log_tail(job_dir, 200)
    status = jobs.read_status(job_dir)
    # Truthful: not "running" with a dead process, and it says what to do.
    assert status["state"] == "failed" and "Resume" in status["message"], status
    if fault.startswith("finetune.step"):
        assert jobs.last_checkpoint(job_dir).name == "checkpoint-6"
        assert loss_steps(job_dir)[-1] == 7  # step 7 logged past the checkpoint: dropped on resume
    if fault.startswith("finetune.saving"):
        assert jobs.last_checkpoint(job_dir).name == "checkpoint-2"
        assert [(s, done) for s, _p, done in jobs.checkpoints(job_dir)] == [(2, True), (4, False)]
    jobs.launch(job_dir, resume=True)
    status = jobs.wait_until_done(job_dir, timeout=300)
    assert status["state"] == "completed", (status, jobs.log_tail(job_dir))
    manifest = json.loads((job_dir / "adapter" / "manifest.json").read_text())
    assert manifest["global_step"] == STEPS and status["step"] == STEPS
    assert loss_steps(job_dir) == list(range(1, STEPS + 1))  # each step once
    lines = (job_dir / "metrics.jsonl").read_text().splitlines()
    assert len([json.loads(x) for x in lines if '"loss"' in x]) == STEPS  # on disk too


def test_double_start_double_resume_and_cancel_during_load(make_job, monkeypatch):
    job_dir = make_job()
    # The trainer hangs while loading the model, as a stuck download would.
    results: list = []

    def start():
        try:
            results.append(jobs.launch(job_dir))
        except InputError as exc:
            results.append(exc)

    monkeypatch.setenv("PLAYGROUND_FAULT_AT", "finetune.loading")
    monkeypatch.setenv("PLAYGROUND_FAULT_ACTION", "hang")
    clicks = [threading.Thread(target=start) for _ in range(2)]
    for t in clicks:
        t.start()
    for t in clicks:
        t.join(60)
    monkeypatch.delenv("PLAYGROUND_FAULT_AT")
    monkeypatch.delenv("PLAYGROUND_FAULT_ACTION")
    pids = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, InputError)]
    assert len(pids) == 1 and len(refused) == 1 and "already running" in str(refused[0])
    wait_for(
        lambda: "fault point finetune.loading reached" in jobs.log_tail(job_dir, 200),
        what="the trainer to reach the model load",
    )
    # A second trainer started by hand on the same folder stops at the lock, touching nothing.
    from playground.cli import main as cli

    before = jobs.read_status(job_dir)
    assert cli(["finetune", "run", "--job", str(job_dir)]) == 2
    assert jobs.read_status(job_dir)["pid"] == before["pid"] == pids[0]
    assert jobs.read_status(job_dir)["state"] == "running"
    # Cancel during the load: the process ends (well within the grace period), "cancelled".
    jobs.cancel(job_dir, grace=20)
    wait_for(lambda: trainer_gone(job_dir), timeout=20, what="the cancelled trainer to end")
    status = jobs.read_status(job_dir)
    assert status["state"] == "cancelled", status
    # Double-clicked Resume: one trainer; it starts over (no checkpoint yet) and finishes.
    results.clear()

    def resume():
        try:
            results.append(jobs.launch(job_dir, resume=True))
        except InputError as exc:
            results.append(exc)

    clicks = [threading.Thread(target=resume) for _ in range(2)]
    for t in clicks:
        t.start()
    for t in clicks:
        t.join(60)
    assert sum(isinstance(r, int) for r in results) == 1, results
    status = jobs.wait_until_done(job_dir, timeout=300)
    assert status["state"] == "completed" and status["step"] == STEPS, status
    assert loss_steps(job_dir) == list(range(1, STEPS + 1))
    assert jobs.log_tail(job_dir, 400).count(f"training: {STEPS} steps") == 1


def test_cancel_kills_a_trainer_that_ignores_sigterm(make_job, monkeypatch):
    job_dir = make_job()
    launch_with_fault(monkeypatch, job_dir, "finetune.loading", "hang-hard")
    wait_for(
        lambda: "fault point finetune.loading reached" in jobs.log_tail(job_dir, 200),
        what="the trainer to reach the model load",
    )
    jobs.cancel(job_dir, grace=3)
    wait_for(lambda: trainer_gone(job_dir), timeout=30, what="SIGKILL after the grace period")
    assert "did not stop within 3s; killed it" in jobs.log_tail(job_dir)
    assert jobs.read_status(job_dir)["state"] == "cancelled"
    assert jobs.last_checkpoint(job_dir) is None
