"""Share an agent as one zip file, and import one as a new agent of the importing user.

Layout of the zip::

    manifest.json        kind, format, name, model, settings, which parts are inside,
                         and the SHA-256 of every other file
    role.json            the role card (same format as the Chat tab's role export)
    adapter/...          the LoRA adapter files, when the agent has one
    collection/...       the collection (chunks, vectors, indexes), only when asked for
    voice/...            the reference clip and its consent record, only when the owner
                         ticks "include voice" and the record has consent
    picture.<ext>        the picture, when it has one

Only the exporting owner's own agent folder and collection go in; nothing is
read from anyone else's folder. An import is validated in full in a staging
folder and renamed into place only when every part checks out, so a bad file
leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import zipfile
from pathlib import Path
from typing import Any

from playground.agents.archive import KIND, check_files, missing_part, unpack
from playground.agents.record import FORMAT, Agent, AgentSettings, check_name
from playground.agents.store import RECORD, AgentStore
from playground.errors import InputError
from playground.storage import atomic_write_json, file_sha256


def export_agent(
    data_dir: str | Path,
    owner: str,
    name: str,
    out_path: str | Path,
    *,
    include_documents: bool = False,
    include_voice: bool = False,
) -> Path:
    """Write ``owner``'s agent ``name`` to ``out_path`` (a .zip), atomically."""
    from playground.chat import export_card_json

    agent = AgentStore.for_owner(data_dir, owner).get(name)
    files: dict[str, Path] = {}
    if agent.adapter:
        files.update(_tree(agent.adapter_dir, "adapter"))
    if agent.picture:
        files[agent.picture] = agent.picture_path
    voice = None
    if include_voice and agent.voice:
        if not (agent.voice.get("consent") or {}).get("confirmed"):
            raise InputError(
                f"agent '{name}': its voice has no consent record; it cannot be shared.",
                key="errors.agents.share_voice_without_consent",
                name=name,
            )
        files.update(_tree(agent.voice_dir, "voice"))
        voice = agent.voice
    collection = None
    if agent.collection:
        collection = {"name": agent.collection, "included": include_documents}
        if include_documents:
            files.update(_tree(_collection_folder(data_dir, owner, agent.collection), "collection"))
    manifest = {
        "kind": KIND,
        "format": FORMAT,
        "name": agent.name,
        "revision": agent.revision,
        "model": agent.model,
        "adapter": agent.adapter
        and {"base": agent.adapter["base"], "label": agent.adapter.get("label")},
        "collection": collection,
        "voice": voice,
        "picture": agent.picture,
        "settings": agent.to_dict()["settings"],
        "files": {arc: file_sha256(path) for arc, path in sorted(files.items())},
    }
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{secrets.token_hex(3)}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
            zf.writestr("role.json", export_card_json(agent.role))
            for arc, path in sorted(files.items()):
                zf.write(path, arc)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def _tree(folder: Path, prefix: str) -> dict[str, Path]:
    return {
        f"{prefix}/{p.relative_to(folder).as_posix()}": p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _collection_folder(data_dir: str | Path, owner: str, name: str) -> Path:
    from playground.rag import CollectionStore

    return CollectionStore.for_owner(data_dir, owner).open(name).path


# ---------------------------------------------------------------- import


def import_agent(
    registry: Any,
    data_dir: str | Path,
    owner: str,
    source: str | Path,
    *,
    name: str | None = None,
) -> Agent:
    """Import the agent file ``source`` as a new agent of ``owner``.

    Raises ``InputError`` saying which part is wrong; nothing is kept then.
    """
    store = AgentStore.for_owner(data_dir, owner)
    staging = store.root / f".import-{secrets.token_hex(4)}"
    staged_collection: Path | None = None
    try:
        manifest = unpack(source, staging)
        check_files(manifest, staging)
        agent = _staged_agent(registry, manifest, staging, name or manifest["name"], store)
        if manifest.get("collection") and manifest["collection"].get("included"):
            staged_collection, agent.collection = _stage_collection(
                registry, data_dir, owner, staging / "collection", manifest["collection"]["name"]
            )
        shutil.rmtree(staging / "collection", ignore_errors=True)
        (staging / "manifest.json").unlink()
        (staging / "role.json").unlink()
        if staged_collection is not None:  # publish the documents, then the agent
            published = staged_collection.with_name(staged_collection.name[1:])
            os.replace(staged_collection, published)
            staged_collection = published
        return store._commit_new(agent)
    except BaseException:
        if staged_collection is not None:
            shutil.rmtree(staged_collection, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _staged_agent(registry, manifest, staging: Path, name: str, store: AgentStore) -> Agent:
    from playground.chat import import_card

    role = import_card((staging / "role.json").read_bytes(), name="role.json")
    name = _free_import_name(store, check_name(name))
    settings = AgentSettings.from_dict(manifest.get("settings"), "manifest.json: settings")
    agent = Agent(name=name, role=role, model=str(manifest.get("model") or ""),
                  folder=staging, settings=settings)  # fmt: skip
    adapter = manifest.get("adapter")
    if adapter:
        base = adapter.get("base")
        if not (staging / "adapter" / "adapter_config.json").is_file():
            raise missing_part("adapter/adapter_config.json")
        if base not in registry.names("chat"):
            names = ", ".join(e.name for e in registry.entries("chat") if not e.base)
            known = names or "(none)"
            raise InputError(
                f"the agent's adapter was trained on base model '{base}', which this server does "
                f"not have (chat models here: {known}). Add '{base}' to the models file first.",
                key="errors.agents.import_base_missing"
                if names
                else "errors.agents.import_base_missing_none",
                base=str(base),
                known=known,
            )
        agent.adapter = {"base": base, "label": adapter.get("label"), "from": "import"}
        agent.model = base
    elif agent.model not in registry.names("chat", "endpoint"):
        raise InputError(
            f"the agent talks through '{agent.model}', which this server does not have. "
            "Add it to the models file first.",
            key="errors.agents.import_model_missing",
            model=agent.model,
        )
    _stage_voice(manifest, staging, agent)
    picture = manifest.get("picture")
    if picture:
        from playground.agents.record import picture_suffix

        path = staging / picture
        if not path.is_file() or picture != "picture" + picture_suffix(path.read_bytes()):
            raise InputError(
                "the agent's picture is missing or not a PNG/JPEG/WebP image.",
                key="errors.agents.import_picture",
            )
        agent.picture = picture
    return agent


def _stage_voice(manifest: dict[str, Any], staging: Path, agent: Agent) -> None:
    voice = manifest.get("voice")
    if not voice:
        return
    if not isinstance(voice, dict) or not (voice.get("consent") or {}).get("confirmed"):
        raise InputError(
            "the agent's voice comes without a consent record; it cannot be imported.",
            key="errors.agents.import_voice_without_consent",
        )
    for part in ("reference.wav", "voice.json"):
        if not (staging / "voice" / part).is_file():
            raise missing_part(f"voice/{part}")
    from playground.voice import read_audio

    read_audio(staging / "voice" / "reference.wav")  # InputError when it is not audio
    agent.voice = {k: voice.get(k) for k in ("name", "transcript", "consent")}


def _stage_collection(registry, data_dir, owner, folder: Path, name: str) -> tuple[Path, str]:
    """Check the shipped collection and move it, still hidden, into the owner's store."""
    from playground.errors import PlaygroundError
    from playground.rag import Collection, CollectionStore, embedder_for

    if not (folder / "manifest.json").is_file():
        raise missing_part("collection/manifest.json")
    try:
        collection = Collection.open(folder)
        embedder_for(registry, recorded=collection.embedding)
    except PlaygroundError as exc:
        raise InputError(
            f"the agent's documents cannot be used here: {exc}",
            key="errors.agents.documents_unusable",
            detail=str(exc),
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"the agent's documents are damaged ({exc}).",
            key="errors.agents.documents_damaged",
            detail=str(exc),
        ) from None
    store = CollectionStore.for_owner(data_dir, owner)
    taken = set(store.names())
    final_name, n = name, 1
    while final_name in taken:
        n += 1
        final_name = f"{name} ({n})"
    target = store.root / f".agent-import-{secrets.token_hex(4)}"
    shutil.move(str(folder), target)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    atomic_write_json(target / "manifest.json", {**manifest, "name": final_name})
    return target, final_name


def _free_import_name(store: AgentStore, name: str) -> str:
    taken = {n.lower() for n in store.names()}
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name} ({n})"
    return check_name(candidate)


__all__ = ["KIND", "RECORD", "export_agent", "import_agent"]
