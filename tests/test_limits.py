"""Limits for shared servers: per-user quota, anonymous lifetime, one workshop fine-tune."""

from __future__ import annotations

import os
import time

import gradio as gr
import pytest

from playground.quota import QuotaError, check_quota, remove_stale_anonymous, used_bytes


def _fill(data_dir, owner, nbytes):
    folder = data_dir / "users" / owner / "images"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "big.png").write_bytes(b"x" * nbytes)
    return folder


def test_quota_refuses_with_the_limit_and_how_to_free_space(tmp_path):
    _fill(tmp_path, "user-alice", 5000)
    assert used_bytes(tmp_path, "user-alice") == 5000
    with pytest.raises(QuotaError) as info:
        check_quota(tmp_path, "user-alice", 4000)
    message = str(info.value)
    assert "5.0 KB used of 4.0 KB allowed (--user-quota)" in message and "deleting" in message
    with pytest.raises(QuotaError, match="new"):  # an upload that would pass the limit
        check_quota(tmp_path, "user-alice", 6000, adding=2000)
    check_quota(tmp_path, "user-alice", 6000)  # room left: no error
    check_quota(tmp_path, "user-bob", 4000)  # another user's folder is not counted
    check_quota(tmp_path, "user-alice", 0)  # 0 switches the quota off


def test_anonymous_data_untouched_for_the_ttl_is_removed_and_nothing_else(tmp_path):
    old = _fill(tmp_path, "anon-0123", 10).parent
    fresh = _fill(tmp_path, "anon-4567", 10).parent
    login = _fill(tmp_path, "user-alice", 10).parent
    long_ago = time.time() - 8 * 86400
    for folder in (old, login):
        for path in [folder, *folder.rglob("*")]:
            os.utime(path, (long_ago, long_ago))
    assert remove_stale_anonymous(tmp_path, ttl_days=7) == 1
    assert not old.exists() and fresh.exists() and login.exists()
    assert remove_stale_anonymous(tmp_path, ttl_days=0) == 0  # 0 keeps everything


def test_workshop_allows_one_running_fine_tune_per_person(tmp_path):
    from playground.finetune import jobs
    from tabs.common import AppContext, Settings
    from tabs.finetune import _check_job_limits

    job = tmp_path / "users" / "user-alice" / "finetune" / "20260101-000000-abcdef"
    job.mkdir(parents=True)
    (job / "config.json").write_text('{"id": "20260101-000000-abcdef", "name": "first"}')
    jobs.write_status(job, state="queued")
    workshop = AppContext(registry=None, data_dir=tmp_path, i18n=None,
                          settings=Settings(workshop=True))  # fmt: skip
    with pytest.raises(gr.Error, match="one fine-tune per person") as info:
        _check_job_limits(workshop, "user-alice", None)
    assert "'first' is queued" in info.value.message and "cancel it" in info.value.message
    _check_job_limits(workshop, "user-bob", None)  # someone else may start theirs
    relaxed = AppContext(registry=None, data_dir=tmp_path, i18n=None, settings=Settings())
    _check_job_limits(relaxed, "user-alice", None)  # without --workshop: no limit
    jobs.write_status(job, state="completed")
    _check_job_limits(workshop, "user-alice", None)
