"""One owner's agents: ``DATA/users/<owner>/agents/<folder>/``.

Each agent is a folder written whole in a staging folder and renamed into
place, so a crash never leaves half an agent. The display name lives in
``agent.json``; renaming never moves files. An owner's store cannot list or
open anyone else's agents: every path is under that owner's folder.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from playground.agents.record import Agent, AgentSettings, check_name, picture_suffix
from playground.chat import Role
from playground.errors import InputError
from playground.storage import atomic_write_bytes, atomic_write_json, read_json, safe_name, user_dir

KIND = "agents"
RECORD = "agent.json"


class AgentStore:
    """The agents of one owner (the same owner id the other engines take)."""

    def __init__(self, data_dir: str | Path, owner: str) -> None:
        self.data_dir = Path(data_dir)
        self.owner = owner
        self.root = user_dir(data_dir, owner, KIND)

    @classmethod
    def for_owner(cls, data_dir: str | Path, owner: str) -> AgentStore:
        return cls(data_dir, owner)

    # ------------------------------------------------------------ reading

    def list(self) -> list[Agent]:
        agents = []
        for folder in sorted(p for p in self.root.iterdir() if _is_agent_dir(p)):
            try:
                agents.append(Agent.from_dict(read_json(folder / RECORD), folder))
            except (InputError, ValueError):  # one damaged record must not hide the others
                continue
        return sorted(agents, key=lambda a: a.name.lower())

    def names(self) -> list[str]:
        return [a.name for a in self.list()]

    def get(self, name: str) -> Agent:
        for agent in self.list():
            if agent.name == name:
                return agent
        names = ", ".join(self.names())
        known = names or "none yet"
        raise InputError(
            f"you have no agent named '{name}'. Your agents: {known}.",
            key="errors.agents.no_agent" if names else "errors.agents.no_agent_none_yet",
            name=name,
            known=known,
        )

    # ------------------------------------------------------------ creating

    def create(
        self,
        registry: Any,
        name: str,
        role: Role,
        *,
        model: str | None = None,
        adapter: str | None = None,
        collection: str | None = None,
        voice: str | None = None,
        picture: bytes | None = None,
        settings: AgentSettings | None = None,
    ) -> Agent:
        """Save a new agent. ``adapter`` is a fine-tuned model's name in the registry,
        ``voice`` a saved voice's name, ``collection`` a collection's name -- all the owner's."""
        name = self._free_name(check_name(name))
        model, adapter_entry = self._resolve_model(registry, model, adapter)
        if collection:
            self._check_collection(collection)
        saved_voice = self._saved_voice(voice) if voice else None
        staging = self._staging()
        try:
            agent = Agent(
                name=name,
                role=Role.from_dict(role.to_dict(), where="role"),
                model=model,
                folder=staging,
                collection=collection or None,
                settings=settings or AgentSettings(),
            )
            if adapter_entry is not None:
                src = adapter_entry.local_path(registry.config.base_dir)
                shutil.copytree(src, staging / "adapter")
                agent.adapter = {
                    "base": adapter_entry.base,
                    "label": adapter_entry.display,
                    "from": adapter_entry.name,
                }
            if saved_voice is not None:
                shutil.copytree(saved_voice.folder, staging / "voice")
                meta = read_json(staging / "voice" / "voice.json")
                agent.voice = {
                    "name": saved_voice.name,
                    "transcript": saved_voice.transcript,
                    "consent": meta.get("consent"),
                }
            if picture is not None:
                agent.picture = "picture" + picture_suffix(picture)
                atomic_write_bytes(staging / agent.picture, picture)
            return self._commit_new(agent)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _commit_new(self, agent: Agent) -> Agent:
        """Write the record last (it marks the folder complete), then rename into place."""
        atomic_write_json(agent.folder / RECORD, agent.to_dict())
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", agent.name).strip("-")[:32] or "agent"
        final = self.root / f"{slug}-{secrets.token_hex(3)}"
        agent.folder.rename(final)
        return replace(agent, folder=final)

    def _staging(self) -> Path:
        path = self.root / f".staging-{secrets.token_hex(4)}"
        path.mkdir()
        return path

    def _free_name(self, name: str) -> str:
        taken = {n.lower() for n in self.names()}
        if name.lower() not in taken:
            return name
        raise InputError(
            f"you already have an agent named '{name}'; pick another name.",
            key="errors.agents.name_taken",
            name=name,
        )

    def _resolve_model(self, registry: Any, model: str | None, adapter: str | None):
        if adapter:
            entry = registry.entry(adapter)
            if not entry.visible_to(self.owner):
                raise InputError(
                    f"model '{adapter}' is another user's adapter; pick one of yours.",
                    key="errors.agents.adapter_not_yours",
                    adapter=adapter,
                )
            if not entry.base:
                raise InputError(
                    f"'{adapter}' is not a fine-tuned adapter (it has no base model).",
                    key="errors.agents.not_an_adapter",
                    adapter=adapter,
                )
            path = entry.local_path(registry.config.base_dir)
            if path is None or not (path / "adapter_config.json").exists():
                raise InputError(
                    f"adapter '{adapter}' has no adapter files on this server.",
                    key="errors.agents.adapter_without_files",
                    adapter=adapter,
                )
            return entry.base, entry
        if not model:
            names = [e.name for e in registry.entries("chat") if not e.base]
            if not names:
                raise InputError(
                    "no chat model is configured; add one to the models file.",
                    key="errors.agents.no_chat_model",
                )
            model = names[0]
        entry = registry.entry(model)
        if entry.task not in ("chat", "endpoint") or not entry.visible_to(self.owner):
            raise InputError(
                f"'{model}' is not one of your chat models.",
                key="errors.agents.not_your_chat_model",
                model=model,
            )
        if entry.base:  # a fine-tuned model picked as "model": keep its files as the adapter
            return self._resolve_model(registry, None, model)
        return model, None

    def _check_collection(self, name: str) -> None:
        from playground.rag import CollectionStore

        names = CollectionStore.for_owner(self.data_dir, self.owner).names()
        if name not in names:
            known = ", ".join(names) or "none yet"
            raise InputError(
                f"you have no collection named '{name}'. Your collections: {known}.",
                key="errors.agents.no_collection"
                if names
                else "errors.agents.no_collection_none_yet",
                name=name,
                known=known,
            )

    def _saved_voice(self, name: str):
        from playground.voice import VoiceLibrary

        voice = VoiceLibrary(user_dir(self.data_dir, self.owner, "voices")).get(name)
        consent = (read_json(voice.folder / "voice.json") or {}).get("consent") or {}
        if not consent.get("confirmed"):
            raise InputError(
                f"voice '{name}' has no consent record; save it again in the Voice tab, "
                "confirming you have the speaker's permission.",
                key="errors.agents.voice_without_consent",
                name=name,
            )
        return voice

    # ------------------------------------------------------------ changing

    def update(self, current: str, **changes: Any) -> Agent:
        """Change fields (role, collection, settings, name) and bump the revision."""
        agent = self.get(current)
        allowed = {"role", "collection", "settings", "name"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise InputError(
                f"cannot change {', '.join(unknown)} of an agent here.",
                key="errors.agents.cannot_change",
                names=", ".join(unknown),
            )
        if "name" in changes:
            changes["name"] = check_name(changes["name"])
            if changes["name"].lower() != current.lower():
                self._free_name(changes["name"])
        if changes.get("collection"):
            self._check_collection(changes["collection"])
        agent = replace(agent, **changes, revision=agent.revision + 1, updated=time.time())
        atomic_write_json(agent.folder / RECORD, agent.to_dict())
        return agent

    def rename(self, old: str, new: str) -> Agent:
        return self.update(old, name=new)

    def delete(self, name: str) -> None:
        agent = self.get(name)
        trash = agent.folder.with_name(f".trash-{agent.folder.name}")
        agent.folder.rename(trash)  # gone from listings at once, even if removal is slow
        shutil.rmtree(trash, ignore_errors=True)


def _is_agent_dir(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith(".") and (path / RECORD).exists()


def owner_folder(owner: str) -> str:
    """The owner's folder name, as registry entries record it (``ModelEntry.owner``)."""
    return safe_name(owner)
