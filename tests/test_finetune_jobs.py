"""Job housekeeping without training: checkpoint cadence, warmup, the trainer lock,
metrics de-duplication, delete, disk use and zip downloads."""

from __future__ import annotations

import json
import time
import zipfile

import pytest

from playground.errors import InputError
from playground.finetune import adapter_zip, delete_job, jobs, merged_zip
from playground.finetune.settings import TrainSettings
from playground.finetune.train import (
    CHECKPOINT_SECONDS,
    checkpoint_due,
    checkpoint_interval,
    training_arguments,
)


def test_checkpoints_at_least_every_tenth_and_every_ten_minutes():
    assert checkpoint_interval(25) == 2 and checkpoint_interval(5) == 1
    assert checkpoint_interval(1000) == 100
    assert checkpoint_interval(1000, save_steps=50) == 50
    assert checkpoint_interval(1000, save_steps=500) == 100  # never rarer than 10%
    assert checkpoint_due(4, 2, since_last=1.0) and not checkpoint_due(3, 2, since_last=1.0)
    assert checkpoint_due(3, 100, since_last=CHECKPOINT_SECONDS)
    assert CHECKPOINT_SECONDS <= 600


def test_warmup_ratio_reaches_the_trainer(tmp_path):
    settings = TrainSettings(warmup_ratio=0.25)
    args = training_arguments(tmp_path, settings, "cpu", has_eval=False)
    assert args.get_warmup_steps(20) == 5
    assert (
        training_arguments(
            tmp_path, TrainSettings(warmup_ratio=0), "cpu", has_eval=False
        ).get_warmup_steps(20)
        == 0
    )


def fake_job(tmp_path, state="completed"):
    job = tmp_path / "users" / "ann" / "finetune" / "20260101-000000-abcdef"
    (job / "adapter").mkdir(parents=True)
    (job / "adapter" / "adapter_model.safetensors").write_bytes(b"w" * 2048)
    (job / "adapter" / "manifest.json").write_text(json.dumps({"name": "my-lora", "base": "b"}))
    (job / "config.json").write_text(json.dumps({"id": job.name, "name": "my-lora"}))
    jobs.write_status(job, state=state, pid=None)
    return job


def test_delete_is_refused_while_a_trainer_holds_the_job(tmp_path):
    job = fake_job(tmp_path)
    lock = jobs.TrainerLock(job).acquire()
    try:
        assert jobs.trainer_running(job)
        with pytest.raises(InputError, match="already running"):
            jobs.TrainerLock(job).acquire()
        with pytest.raises(InputError, match="still running"):
            delete_job(job)
        with pytest.raises(InputError, match="already running"):
            jobs.launch(job)
    finally:
        lock.release()
    assert not jobs.trainer_running(job)
    [info] = jobs.list_jobs(tmp_path, "ann")
    assert info.disk_bytes >= 2048
    assert delete_job(job) == info.disk_bytes and not job.exists()
    assert jobs.list_jobs(tmp_path, "ann") == []


def test_a_dead_trainer_reads_failed_or_cancelled(tmp_path):
    job = fake_job(tmp_path, state="running")
    (job / "pid").write_text("999999")  # no such process
    assert jobs.read_status(job)["state"] == "failed"
    jobs.write_status(job, state="running")
    (job / jobs.CANCEL_FILE).write_text("1")
    assert jobs.read_status(job)["state"] == "cancelled"


def test_metrics_repeated_after_a_resume_count_once(tmp_path):
    rows = [{"step": s, "loss": float(s)} for s in (1, 2, 3, 4, 3, 4, 5)]
    rows.append({"step": 4, "eval_loss": 0.5})
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = jobs.read_metrics(tmp_path)
    assert [(r["step"], "eval_loss" in r) for r in got] == [
        (1, False),
        (2, False),
        (3, False),
        (4, False),
        (4, True),
        (5, False),
    ]
    jobs.truncate_metrics(tmp_path, 3)
    assert [r["step"] for r in jobs.read_metrics(tmp_path)] == [1, 2, 3]


def test_adapter_and_merged_model_download_as_zip(tmp_path):
    job = fake_job(tmp_path)
    path = adapter_zip(job)
    assert path.name == "my-lora-adapter.zip"
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) >= {"adapter_model.safetensors", "manifest.json"}
    stamp = path.stat().st_mtime
    time.sleep(0.05)
    assert adapter_zip(job).stat().st_mtime == stamp  # unchanged: not zipped again
    (job / "merged").mkdir()
    (job / "merged" / "config.json").write_text("{}")
    (job / "merged" / "model.safetensors").write_bytes(b"m" * 100)
    with zipfile.ZipFile(merged_zip(job)) as archive:
        assert "model.safetensors" in archive.namelist()
    assert not list((job / "exports").glob(".*"))  # no partial zip left behind
    unfinished = fake_job(tmp_path / "other", state="running")
    (unfinished / "adapter" / "manifest.json").unlink()
    with pytest.raises(InputError, match="no finished adapter"):
        adapter_zip(unfinished)
