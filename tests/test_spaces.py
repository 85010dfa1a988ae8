"""Hugging Face Spaces: front matter, pinned requirements, `playground spaces build|deploy`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from playground.config import load_config, parse_size
from playground.errors import ConfigError, InputError
from playground.spaces import ROOT, build_space, deploy_space, read_front_matter

SPACES = ROOT / "spaces"
HEAVY = ["torch", "transformers", "diffusers", "sentence_transformers", "peft", "faiss"]


def pyproject_deps() -> dict[str, Requirement]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = [Requirement(line) for line in data["project"]["dependencies"]]
    return {canonicalize_name(r.name): r for r in reqs}


def space_requirements() -> dict[str, Requirement]:
    lines = (SPACES / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {canonicalize_name(r.name): r for r in reqs}


def test_front_matter_is_valid_spaces_config():
    from huggingface_hub import SpaceCard
    from huggingface_hub._space_api import SpaceHardware

    meta = read_front_matter(SPACES / "README.md")
    assert meta["sdk"] == "gradio"
    assert meta["app_file"] == "app.py"
    assert meta["license"] == "apache-2.0"
    assert meta["suggested_hardware"] in {h.value for h in SpaceHardware}
    assert isinstance(meta["python_version"], str) and meta["python_version"].startswith("3.")
    assert 0 < len(meta["short_description"]) <= 60  # the Hub's limit
    # the Hub's own parser agrees
    card = SpaceCard.load(SPACES / "README.md")
    assert card.data.sdk == "gradio" and card.data.sdk_version == meta["sdk_version"]
    # python_version satisfies the project's requires-python
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    from packaging.specifiers import SpecifierSet

    assert SpecifierSet(project["requires-python"]).contains(meta["python_version"] + ".0")


def test_sdk_version_is_the_pinned_gradio():
    import gradio

    meta = read_front_matter(SPACES / "README.md")
    gradio_req = pyproject_deps()["gradio"]
    assert gradio_req.specifier.contains(meta["sdk_version"]), (
        f"spaces/README.md sdk_version {meta['sdk_version']} is outside pyproject's {gradio_req}"
    )
    # the version the tests run with, so the Space runs what was tested
    assert meta["sdk_version"] == gradio.__version__
    assert "gradio" not in space_requirements(), "gradio comes from sdk_version, not requirements"


def test_requirements_agree_with_pyproject():
    deps = pyproject_deps()
    pins = space_requirements()
    expected = set(deps) - {"gradio"}
    assert set(pins) == expected, (
        f"spaces/requirements.txt is out of step with pyproject.toml: missing "
        f"{sorted(expected - set(pins))}, extra {sorted(set(pins) - expected)}"
    )
    for name, pin in pins.items():
        spec = list(pin.specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"{pin} is not an exact pin"
        assert deps[name].specifier.contains(spec[0].version), (
            f"spaces/requirements.txt pins {pin} but pyproject.toml allows {deps[name]}"
        )


def test_space_models_fit_the_suggested_hardware():
    config = load_config(SPACES / "models.spaces.yaml")
    meta = read_front_matter(SPACES / "README.md")
    assert meta["suggested_hardware"] == "t4-small"  # 16 GB GPU: the budget below is for it
    budget = parse_size(config.defaults.memory_budget)
    assert budget <= 16e9
    assert config.defaults.dtype == "float16"  # a T4 has no fast bfloat16
    defaults = {}
    for entry in config.models:
        defaults.setdefault(entry.task, entry)
        assert entry.memory_gb is not None, f"{entry.name} needs memory_gb for the budget"
    for task in ("chat", "embedding", "text-to-image"):
        assert task in defaults, f"no default {task} model for the Space"
    # the default chat, embedding and image models are loaded together without eviction
    together = sum(defaults[t].memory_gb for t in ("chat", "embedding", "text-to-image"))
    assert together * 1e9 < budget
    # what the README preloads at build time is what the models file uses
    sources = {m.source for m in config.models}
    assert set(meta["preload_from_hub"]) <= sources


def test_build_assembles_a_complete_folder(tmp_path):
    from playground.cli import main

    target = tmp_path / "space"
    assert main(["spaces", "build", str(target)]) == 0
    for name in [
        "app.py",
        "README.md",
        "requirements.txt",
        "models.yaml",
        "tabs/__init__.py",
        "tabs/i18n/app.yaml",
        "playground/registry.py",
    ]:
        assert (target / name).is_file(), name
    assert not list(target.rglob("__pycache__"))
    assert read_front_matter(target / "README.md")["app_file"] == "app.py"
    assert load_config(target / "models.yaml").models[0].name == "qwen3-1.7b"
    # a second build does not clobber without --force
    with pytest.raises(InputError, match="--force"):
        build_space(target)
    (target / "stale.txt").write_text("old")
    build_space(target, force=True)
    assert not (target / "stale.txt").exists() and (target / "app.py").exists()


def test_build_rejects_a_bad_models_file(tmp_path):
    bad = tmp_path / "models.yaml"
    bad.write_text("models:\n  - name: x\n    task: chatt\n    source: a/b\n")
    with pytest.raises(ConfigError, match="chatt"):
        build_space(tmp_path / "space", models=bad)
    assert not (tmp_path / "space").exists()


@pytest.fixture(scope="module")
def built_space(tmp_path_factory, tiny_models):
    return build_space(tmp_path_factory.mktemp("built") / "space", models=tiny_models).folder


def test_import_app_in_built_folder_stays_cheap(built_space):
    code = f"import sys, app\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=built_space,
        env={**os.environ, "PYTHONPATH": str(built_space)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
    # and it is the built copy that was imported, not the checkout
    out = subprocess.run(
        [sys.executable, "-c", "import app; print(app.ROOT)"],
        capture_output=True,
        text=True,
        cwd=built_space,
        env={**os.environ, "PYTHONPATH": str(built_space)},
    )
    assert Path(out.stdout.strip()) == built_space


def test_built_app_starts_on_tiny_models(built_space, tiny_models, tmp_path):
    from tests.conftest import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(built_space), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "app.py",
            "--config",
            str(tiny_models),
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        cwd=built_space,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 150
        status = None
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    status = resp.status
                    page = resp.read().decode("utf-8", "replace")
                break
            except OSError:
                time.sleep(1)
        assert proc.poll() is None, proc.stdout.read()
        assert status == 200
        assert "AIGC Playground" in page
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_deploy_without_token_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with pytest.raises(ConfigError) as err:
        deploy_space(tmp_path, "alice/playground")
    assert "HF_TOKEN" in str(err.value) and "hf auth login" in str(err.value)
    from playground.cli import main

    assert main(["spaces", "deploy", "--repo", "alice/playground"]) == 2


def test_deploy_uploads_the_built_folder(tmp_path, monkeypatch):
    calls = []

    class FakeApi:
        def create_repo(self, **kwargs):
            calls.append(("create_repo", kwargs))
            return f"https://huggingface.co/spaces/{kwargs['repo_id']}"

        def upload_folder(self, **kwargs):
            uploaded = sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())
            calls.append(("upload_folder", {**kwargs, "files": uploaded}))

    monkeypatch.setenv("HF_TOKEN", "hf_test")
    url = deploy_space(None, "alice/playground", private=True, api=FakeApi())
    assert url == "https://huggingface.co/spaces/alice/playground"
    (name, create), (name2, upload) = calls
    assert create["repo_type"] == "space" and create["space_sdk"] == "gradio"
    assert create["private"] is True
    assert upload["repo_id"] == "alice/playground" and upload["repo_type"] == "space"
    assert {"app.py", "README.md", "requirements.txt", "models.yaml", "tabs", "playground"} <= set(
        upload["files"]
    )
    with pytest.raises(InputError, match="USER/NAME"):
        deploy_space(None, "playground", api=FakeApi())
