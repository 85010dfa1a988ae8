"""The "Use via API" page: named endpoints a client can call with only what they need."""

from __future__ import annotations

import json

import pytest

# Per endpoint, the parameters a caller must give; every other one has a default.
# client_id is the browser's anonymous id: a client without a login passes its own.
REQUIRED = {
    "/chat": {"message"},
    "/rag_index": {"files", "collection"},
    "/rag_remove_document": {"collection", "document"},
    "/rag_rename": {"collection", "new_name"},
    "/rag_delete": {"collection"},
    "/rag_search": {"question", "collection"},
    "/rag_ask": {"question", "collection"},
    "/finetune_validate": {"dataset"},
    "/finetune_start": {"dataset"},
    "/finetune_status": {"job_id"},
    "/finetune_cancel": {"job_id"},
    "/finetune_resume": {"job_id"},
    "/finetune_try": {"job_id"},
    "/finetune_merge": {"job_id"},
    "/finetune_push": {"job_id", "repo"},
    "/finetune_download_adapter": {"job_id"},
    "/finetune_download_merged": {"job_id"},
    "/finetune_delete": {"job_id"},
    "/image_generate": {"prompt_text"},
    "/image_prompt_assistant": {"description"},
    "/image_read_parameters": {"path"},
    "/voice_check": {"audio"},
    "/voice_save": {"name", "cleaned"},
    "/voice_speak": {"name"},
    "/agent_chat": {"agent", "message"},
    "/agent_save": {"name"},
    "/agent_rename": {"agent", "new_name"},
    "/agent_delete": {"agent"},
    "/agent_export": {"agent"},
    "/agent_import": {"file"},
}


@pytest.fixture(scope="module")
def api(launched_app):
    from gradio_client import Client

    client = Client(launched_app.url, verbose=False)
    return client, client.view_api(return_format="dict", print_info=False)["named_endpoints"]


def test_optional_parameters_have_defaults(api):
    _, endpoints = api
    too_strict = {
        name: sorted(
            p["parameter_name"]
            for p in info["parameters"]
            if not p["parameter_has_default"]
            and p["parameter_name"] not in REQUIRED.get(name, set()) | {"client_id"}
        )
        for name, info in endpoints.items()
    }
    too_strict = {name: params for name, params in too_strict.items() if params}
    assert too_strict == {}, json.dumps(too_strict)


def test_parameters_are_named_and_endpoints_documented(api):
    _, endpoints = api
    unnamed = [
        (name, p["parameter_name"])
        for name, info in endpoints.items()
        for p in info["parameters"]
        if p["parameter_name"].startswith(("param_", "parameter_"))
    ]
    assert unnamed == []
    undocumented = [name for name, info in endpoints.items() if not info.get("description")]
    assert undocumented == []


def test_finetune_validate_with_a_base_model_and_a_dataset_alone(api, tmp_path):
    from gradio_client import handle_file

    client, _ = api
    rows = [{"instruction": f"Say {w}.", "output": w} for w in ["sun", "moon", "star"] * 3]
    data = tmp_path / "tiny.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report, *_ = client.predict(
        base="tiny-chat", dataset=handle_file(str(data)), api_name="/finetune_validate"
    )
    assert "9" in report and "record" in report.lower(), report
