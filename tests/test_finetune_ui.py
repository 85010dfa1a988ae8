"""The Fine-tune tab through a real client: start a job, close the app, reopen, re-attach."""

from __future__ import annotations

import json
import time
import zipfile

import pytest

from playground.cli import main as cli
from tabs.identity import COOKIE
from tests.conftest import launch_app

N_ADVANCED = 10  # rank, alpha, dropout, lr, epochs, max_steps, batch, accum, max_length, seed


def _launch(tiny_models, data_dir):
    return launch_app(tiny_models, data_dir)


def _inputs(path, *, max_steps=None, lr=None):
    from gradio_client import handle_file

    advanced = [None] * N_ADVANCED
    advanced[3], advanced[5], advanced[6], advanced[7] = lr, max_steps, 4, 1
    return [
        "tiny-chat",
        handle_file(str(path)),
        "auto",
        None,
        None,
        None,
        None,
        True,
        0.0,
        *advanced,
        "auto",
        False,
        False,
    ]


@pytest.fixture
def toy_file(tmp_path):
    path = tmp_path / "toy.jsonl"
    rows = [{"instruction": f"Question {i}", "output": f"Answer number {i}."} for i in range(8)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_validate_reports_problems_and_fills_defaults(tiny_models, tmp_path, toy_file):
    from gradio_client import Client

    demo, url = _launch(tiny_models, tmp_path / "data")
    try:
        client = Client(url, verbose=False)
        report, preview, issues, *filled = client.predict(
            *_inputs(toy_file), api_name="/finetune_validate"
        )
        assert (
            "8 / 8 records valid" in report
            and "Tokens per record" in report
            and "Estimate" in report
        )
        assert len(preview["data"]) == 8 and preview["data"][0][0] == "1"
        assert filled[0] == 8 and filled[5] == 0  # auto rank, no max-steps cap
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "x", "output": ""}\n')
        report, _, issues, *_ = client.predict(*_inputs(bad), api_name="/finetune_validate")
        assert "1 problem" in report
        assert issues["visible"] is True
        assert issues["value"]["data"][0][:4] == [2, 2, "output", "empty output"]
    finally:
        demo.close()


def _status(client, job_id):
    return client.predict(job_id, api_name="/finetune_status")


def test_job_survives_app_restart_and_is_private(tiny_models, tmp_path, toy_file, capsys):
    from gradio_client import Client

    data_dir = tmp_path / "data"
    demo, url = _launch(tiny_models, data_dir)
    try:
        alice = Client(url, verbose=False)
        token = alice.cookies[COOKIE]  # her signed anonymous id, as a browser keeps it
        result = alice.predict(
            *_inputs(toy_file, max_steps=25, lr=1e-3),
            "alice-adapter",
            api_name="/finetune_start",
        )
        job_id = result[0]["value"]  # the job dropdown, set to the new job
        assert job_id and "alice-adapter" in result[2]
    finally:
        demo.close()  # the page and the app go away; the job does not

    demo, url = _launch(tiny_models, data_dir)
    try:
        alice = Client(url, verbose=False, httpx_kwargs={"cookies": {COOKIE: token}})
        bob = Client(url, verbose=False)
        listed = alice.predict(api_name="/finetune_jobs")
        assert [row[0] for row in listed] == [job_id]
        assert bob.predict(api_name="/finetune_jobs") == []
        with pytest.raises(Exception, match="not found among your jobs"):
            _status(bob, job_id)
        with pytest.raises(Exception, match="not found among your jobs"):
            bob.predict(job_id, api_name="/finetune_cancel")
        # Re-attached: the process that started before the restart keeps reporting.
        deadline, seen = time.time() + 240, set()
        while time.time() < deadline:
            status_md, plot, log = _status(alice, job_id)  # buttons: not in the API
            for state in ("queued", "running", "completed", "failed"):
                if f"**{state}**" in status_md:
                    seen.add(state)
            if "completed" in seen or "failed" in seen:
                break
            time.sleep(1)
        assert "completed" in seen, status_md + log
        assert "25/25" in status_md
        assert len(plot["data"]) >= 25 and "training: 25 steps" in log
        # Finished adapters are registered in the app's registry under their base.
        entry = demo.registry.entry("alice-adapter")
        assert entry.base == "tiny-chat" and entry.source.endswith("adapter")
        # "Try it": Chat in compare mode, base model (A) against the adapter (B).
        tried = alice.predict(job_id, api_name="/finetune_try")
        model_a, model_b, compare = tried[:3]
        assert model_a["value"] == "tiny-chat" and model_b["value"] == "alice-adapter"
        assert "alice-adapter" in [value for _, value in model_b["choices"]]
        assert compare["value"] is True
        zipped = alice.predict(job_id, api_name="/finetune_download_adapter")
        assert (
            zipfile.is_zipfile(zipped)
            and "adapter_model.safetensors" in zipfile.ZipFile(zipped).namelist()
        )
        with pytest.raises(Exception, match="not found among your jobs"):
            bob.predict(job_id, api_name="/finetune_download_adapter")
    finally:
        demo.close()
    # The administrator's view from a shell lists everyone's jobs.
    assert cli(["finetune", "list", "--data-dir", str(data_dir)]) == 0
    printed = capsys.readouterr().out
    assert job_id in printed and "completed" in printed and f"anon-{token.split('.')[1]}" in printed
