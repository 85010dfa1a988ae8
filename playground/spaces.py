"""Hugging Face Spaces: assemble a deployable folder and upload it.

``build_space(target)`` copies what a Space runs -- ``app.py``, ``tabs/``,
``playground/``, the Space's models file (as ``models.yaml``), the README with
the Spaces front matter, and ``requirements.txt`` -- into one folder.
``deploy_space(folder, repo)`` uploads that folder with ``huggingface_hub``.
Both need a source checkout (``app.py`` next to the ``playground`` package).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from playground.errors import ConfigError, InputError, PlaygroundError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SPACES_DIR = ROOT / "spaces"
SPACE_MODELS = SPACES_DIR / "models.spaces.yaml"
# What a Space needs from the checkout; folders are copied without caches.
COPY_FILES = ["app.py"]
COPY_DIRS = ["tabs", "playground"]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache")
TOKEN_HELP = (
    "No Hugging Face token found. Create a token with write access at "
    "https://huggingface.co/settings/tokens, then either `export HF_TOKEN=hf_...` "
    "or run `hf auth login`, and try again."
)


@dataclass
class BuildResult:
    """What ``build_space`` wrote, and anything the user should know."""

    folder: Path
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_front_matter(readme: str | Path) -> dict[str, Any]:
    """The YAML front matter of a Spaces README (between the leading ``---`` lines)."""
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise ConfigError(f"{path}: a Space README must start with a '---' front-matter block")
    end = text.find("\n---", 4)
    if end < 0:
        raise ConfigError(f"{path}: the front matter has no closing '---' line")
    try:
        data = yaml.safe_load(text[4:end])
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: front matter is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: front matter must be a mapping of keys to values")
    return data


def build_space(
    target: str | Path,
    *,
    models: str | Path | None = None,
    force: bool = False,
    root: Path = ROOT,
) -> BuildResult:
    """Assemble a deployable Space folder at ``target``; return what was written.

    ``models`` replaces the Space's default models file. An existing non-empty
    ``target`` is only replaced with ``force``; the folder is written to a
    staging folder first, so a failed build never leaves half a Space behind.
    """
    from playground.config import load_config
    from playground.storage import replace_dir

    target = Path(target).resolve()
    _check_checkout(root)
    models_path = Path(models) if models else root / "spaces" / "models.spaces.yaml"
    config = load_config(models_path)  # a bad models file fails here, not on the Space
    if target.exists() and any(target.iterdir()) and not force:
        raise InputError(
            f"{target} already exists and is not empty. Pick another folder or pass --force "
            "to replace it."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a Space folder is meant to be shared
    try:
        result = BuildResult(folder=target)
        for name in COPY_FILES:
            shutil.copy2(root / name, staging / name)
            result.files.append(name)
        for name in COPY_DIRS:
            shutil.copytree(root / name, staging / name, ignore=SKIP)
            result.files.append(name + "/")
        shutil.copy2(models_path, staging / "models.yaml")
        shutil.copy2(root / "spaces" / "README.md", staging / "README.md")
        shutil.copy2(root / "spaces" / "requirements.txt", staging / "requirements.txt")
        result.files += ["models.yaml", "README.md", "requirements.txt"]
        result.notes += _missing_tasks(config, root / "models.yaml")
        replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def deploy_space(
    folder: str | Path | None,
    repo: str,
    *,
    private: bool = False,
    token: str | None = None,
    models: str | Path | None = None,
    api: Any = None,
) -> str:
    """Upload a built Space folder (or build one now when ``folder`` is None); return its URL."""
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise InputError(f"--repo '{repo}' must look like USER/NAME (for example alice/playground)")
    token = token or _find_token()
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="space-") as tmp:
        if folder is None:
            folder = build_space(Path(tmp) / "space", models=models).folder
        folder = Path(folder)
        if not (folder / "README.md").exists() or not (folder / "app.py").exists():
            raise InputError(
                f"{folder} is not a built Space (no README.md or app.py). "
                "Run `playground spaces build DIR` first, or leave out --dir."
            )
        read_front_matter(folder / "README.md")
        try:
            url = api.create_repo(
                repo_id=repo,
                repo_type="space",
                space_sdk="gradio",
                private=private,
                exist_ok=True,
            )
            api.upload_folder(
                repo_id=repo,
                repo_type="space",
                folder_path=str(folder),
                commit_message="Deploy AIGC Playground",
                ignore_patterns=["__pycache__/*", "*.pyc", "data/*"],
            )
        except PlaygroundError:
            raise
        except Exception as exc:  # network, permission or name errors from the Hub
            raise PlaygroundError(
                f"uploading to the Space '{repo}' failed: {type(exc).__name__}: {exc}. "
                "Check your internet connection, that the token has write access, and the "
                "repo name."
            ) from exc
    return str(url) if url else f"https://huggingface.co/spaces/{repo}"


def _find_token() -> str:
    from huggingface_hub import get_token

    token = os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise ConfigError(TOKEN_HELP)
    return token


def _check_checkout(root: Path) -> None:
    missing = [n for n in COPY_FILES + COPY_DIRS + ["spaces/README.md"] if not (root / n).exists()]
    if missing:
        raise ConfigError(
            f"{root} is not a source checkout of the playground (missing: {', '.join(missing)}). "
            "Building a Space needs the repository: git clone it and run the command there."
        )


def _missing_tasks(config, main_models: Path) -> list[str]:
    """Tasks the main models file covers that the Space's file does not."""
    from playground.config import load_config

    if not main_models.exists():
        return []
    try:
        main = load_config(main_models)
    except ConfigError:
        return []
    have = {m.task for m in config.models}
    return [
        f"the Space's models file has no '{task}' model (models.yaml has one); "
        "that tab will ask for one"
        for task in sorted({m.task for m in main.models} - have - {"endpoint"})
    ]
