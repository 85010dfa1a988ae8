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
from pathlib import Path, PurePosixPath
from typing import Any

from playground.agents.record import FORMAT, Agent, AgentSettings, check_name
from playground.agents.store import RECORD, AgentStore
from playground.errors import InputError
from playground.storage import atomic_write_json, file_sha256

KIND = "aigc-playground-agent"
MAX_UNPACKED_BYTES = 4 * 2**30  # refuses zip bombs; a 7B LoRA plus documents fits
TOP_LEVEL = {"manifest.json", "role.json", "adapter", "collection", "voice"}


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
        manifest = _unpack(source, staging)
        _check_files(manifest, staging)
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


def _unpack(source: str | Path, staging: Path) -> dict[str, Any]:
    """Extract a checked zip into ``staging``; return its manifest."""
    source = Path(source)
    if not source.is_file():
        raise InputError(
            f"agent file not found: {source}", key="errors.agents.file_not_found", path=str(source)
        )
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError):
        raise InputError(
            f"{source.name} is not an agent file (not a zip archive). Export one with "
            "'playground agent export' or the Agents panel.",
            key="errors.agents.not_a_zip",
            file=source.name,
        ) from None
    with zf:
        members = zf.infolist()
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            limit = MAX_UNPACKED_BYTES >> 30
            raise InputError(
                f"{source.name} unpacks to more than {limit} GiB; refused.",
                key="errors.agents.unpacks_too_big",
                file=source.name,
                limit=limit,
            )
        for member in members:
            _check_member(member.filename, source.name)
        names = {m.filename for m in members}
        for part in ("manifest.json", "role.json"):
            if part not in names:
                raise InputError(
                    f"{source.name} is missing its {part}; it is not a complete agent file.",
                    key="errors.agents.incomplete_file",
                    file=source.name,
                    part=part,
                )
        staging.mkdir(parents=True)
        try:
            zf.extractall(staging)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            raise InputError(
                f"{source.name} is damaged ({exc}); export the agent again.",
                key="errors.agents.damaged_file",
                file=source.name,
                detail=str(exc),
            ) from None
    try:
        manifest = json.loads((staging / "manifest.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{source.name}: manifest.json is not valid JSON ({exc}).",
            key="errors.agents.manifest_not_json",
            file=source.name,
            detail=str(exc),
        ) from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise InputError(
            f"{source.name}: manifest.json does not describe an agent (kind '{KIND}').",
            key="errors.agents.manifest_not_agent",
            file=source.name,
            kind=KIND,
        )
    if int(manifest.get("format", 0)) > FORMAT:
        raise InputError(
            f"{source.name} was made by a newer version of the playground; upgrade.",
            key="errors.agents.newer_file",
            file=source.name,
        )
    return manifest


def _check_member(name: str, where: str) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or not path.parts:
        raise InputError(
            f"{where}: unsafe path '{name}' inside the zip; refused.",
            key="errors.agents.unsafe_path",
            where=where,
            name=name,
        )
    top = path.parts[0]
    if top not in TOP_LEVEL and not top.startswith("picture."):
        raise InputError(
            f"{where}: unexpected file '{name}' (not part of an agent).",
            key="errors.agents.unexpected_file",
            where=where,
            name=name,
        )


def _missing_part(part: str) -> InputError:
    return InputError(
        f"the agent file is missing a part: {part}.", key="errors.agents.missing_part", part=part
    )


def _check_files(manifest: dict[str, Any], staging: Path) -> None:
    """Every listed file is there with its checksum; nothing unlisted came along."""
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise InputError(
            "manifest.json has no 'files' list; export the agent again.",
            key="errors.agents.manifest_without_files",
        )
    for arc, digest in listed.items():
        _check_member(arc, "manifest.json")
        path = staging / arc
        if not path.is_file():
            raise _missing_part(arc)
        if file_sha256(path) != digest:
            raise InputError(
                f"{arc} does not match its checksum; the file is damaged.",
                key="errors.agents.bad_checksum",
                part=arc,
            )
    extra = [
        p.relative_to(staging).as_posix()
        for p in staging.rglob("*")
        if p.is_file() and p.relative_to(staging).as_posix() not in listed
    ]
    extra = [e for e in extra if e not in ("manifest.json", "role.json")]
    if extra:
        names = ", ".join(extra[:5])
        raise InputError(
            f"the agent file holds files its manifest does not list: {names}.",
            key="errors.agents.unlisted_files",
            names=names,
        )


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
            raise _missing_part("adapter/adapter_config.json")
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
            raise _missing_part(f"voice/{part}")
    from playground.voice import read_audio

    read_audio(staging / "voice" / "reference.wav")  # InputError when it is not audio
    agent.voice = {k: voice.get(k) for k in ("name", "transcript", "consent")}


def _stage_collection(registry, data_dir, owner, folder: Path, name: str) -> tuple[Path, str]:
    """Check the shipped collection and move it, still hidden, into the owner's store."""
    from playground.errors import PlaygroundError
    from playground.rag import Collection, CollectionStore, embedder_for

    if not (folder / "manifest.json").is_file():
        raise _missing_part("collection/manifest.json")
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
