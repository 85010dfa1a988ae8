"""Reading an agent file (a zip) safely: nothing unsafe is unpacked, every part is checked.

The layout is described in ``playground.agents.share``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from playground.agents.record import FORMAT
from playground.errors import InputError
from playground.storage import file_sha256

KIND = "aigc-playground-agent"
MAX_UNPACKED_BYTES = 4 * 2**30  # refuses zip bombs; a 7B LoRA plus documents fits
TOP_LEVEL = {"manifest.json", "role.json", "adapter", "collection", "voice"}


def unpack(source: str | Path, staging: Path) -> dict[str, Any]:
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
            check_member(member.filename, source.name)
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
    return read_manifest(staging / "manifest.json", source.name)


def read_manifest(path: Path, name: str) -> dict[str, Any]:
    """The agent file ``name``'s unpacked manifest, checked to be one this version reads."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{name}: manifest.json is not valid JSON ({exc}).",
            key="errors.agents.manifest_not_json",
            file=name,
            detail=str(exc),
        ) from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise InputError(
            f"{name}: manifest.json does not describe an agent (kind '{KIND}').",
            key="errors.agents.manifest_not_agent",
            file=name,
            kind=KIND,
        )
    if int(manifest.get("format", 0)) > FORMAT:
        raise InputError(
            f"{name} was made by a newer version of the playground; upgrade.",
            key="errors.agents.newer_file",
            file=name,
        )
    return manifest


def check_member(name: str, where: str) -> None:
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


def missing_part(part: str) -> InputError:
    """The error for a part (``adapter/...``, ``voice/...``) that the agent file lacks."""
    return InputError(
        f"the agent file is missing a part: {part}.", key="errors.agents.missing_part", part=part
    )


def check_files(manifest: dict[str, Any], staging: Path) -> None:
    """Every listed file is there with its checksum; nothing unlisted came along."""
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise InputError(
            "manifest.json has no 'files' list; export the agent again.",
            key="errors.agents.manifest_without_files",
        )
    for arc, digest in listed.items():
        check_member(arc, "manifest.json")
        path = staging / arc
        if not path.is_file():
            raise missing_part(arc)
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
