"""One chat turn with an agent: its role, its documents, its adapter and its voice.

    for turn in talk(registry, data_dir, owner, "Tea expert", "Which tea is smoky?"):
        print(turn.text)            # the reply so far
    turn.sources                    # the numbered passages it could cite as [n]
    turn.speech                     # one SpeechPiece per sentence spoken so far

The role is the system prompt. With a collection (and grounding on), the turn
retrieves from it and the model gets the same numbered ``<source>`` blocks and
citation rules as the Documents tab. With an adapter, the reply comes from the
agent's own copy of the adapter on its base model. With a voice, every
finished sentence is spoken while the rest of the reply is still streaming
(the reply is generated in its own thread, so it keeps going meanwhile) --
unless the turn is seeded: then speech follows the text, because both draw
from torch's one global random generator and the same seed must give the same
reply.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from playground.agents.record import Agent
from playground.agents.store import AgentStore
from playground.errors import InputError
from playground.storage import safe_name

_REGISTER_LOCK = threading.Lock()


@dataclass
class SpeechPiece:
    """One spoken sentence of the reply."""

    index: int  # 1-based
    sentence: str
    audio: np.ndarray
    sample_rate: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Turn:
    """A turn in progress; the same object is yielded again as it fills in."""

    agent: str
    model: str
    text: str = ""
    sources: list = field(default_factory=list)  # Hits given to the model, numbered [1]..
    others: list = field(default_factory=list)  # retrieved but below the relevance threshold
    speech: list[SpeechPiece] = field(default_factory=list)
    info: Any = None  # the chat engine's StreamInfo (prompt, tokens, finish reason)
    done: bool = False

    def sources_json(self) -> list[dict[str, Any]]:
        """The sources as the Documents tab's API returns them, numbered."""
        return [{"n": n, **hit.to_json()} for n, hit in enumerate(self.sources, 1)]

    def speech_audio(self) -> tuple[np.ndarray, int] | None:
        """All sentences so far, joined (None without speech)."""
        from playground.voice.audio import crossfade_join

        if not self.speech:
            return None
        rate = self.speech[0].sample_rate
        return crossfade_join([p.audio for p in self.speech], rate), rate


def talk(
    registry: Any,
    data_dir: str | Path,
    owner: str,
    agent: str | Agent,
    message: str,
    history: list[dict[str, str]] | None = None,
    *,
    grounding: bool | None = None,
    speak: bool | None = None,
    seed: int | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Turn]:
    """Stream one reply of ``owner``'s agent to ``message`` (``history`` before it).

    ``grounding``/``speak`` override the agent's settings; ``seed`` its sampling seed.
    """
    agent = _own_agent(data_dir, owner, agent)
    if not (message or "").strip():
        raise InputError("type a message first.", key="errors.agents.type_message")
    grounding = agent.settings.grounding if grounding is None else grounding
    speak = agent.settings.speak if speak is None else speak
    model = chat_model_for(registry, agent, owner)
    settings = agent.settings.generation_settings(registry, model, seed=seed)
    turn = Turn(agent=agent.name, model=model)
    if grounding and agent.collection:
        turn.sources, turn.others = retrieve(registry, data_dir, owner, agent, message)
    speaker = (
        SentenceSpeaker(registry, agent, owner, settings.seed) if speak and agent.voice else None
    )
    from playground.chat import stream_chat

    stream = stream_chat(
        registry, model, turn_messages(agent, history or [], message, turn.sources), settings,
        stop=stop,
    )  # fmt: skip
    turn.info = stream.info
    # Text sampling and speech synthesis both draw from torch's global random
    # generator: a seeded reply is spoken once its text is complete, so the same
    # seed gives the same reply; an unseeded one is spoken as it streams.
    overlap = settings.seed is None
    try:
        for text in stream:
            turn.text = text
            if speaker is not None and overlap:
                turn.speech.extend(speaker.feed(text, final=False, stop=stop))
            yield turn
    finally:
        stream.close()
    if speaker is not None:
        turn.speech.extend(speaker.feed(turn.text, final=True, stop=stop))
    turn.done = True
    yield turn


def reply(registry: Any, data_dir: str | Path, owner: str, agent: str | Agent, message: str,
          history: list[dict[str, str]] | None = None, **options: Any) -> Turn:  # fmt: skip
    """``talk`` run to the end."""
    turn = None
    for update in talk(registry, data_dir, owner, agent, message, history, **options):
        turn = update
    return turn


def _own_agent(data_dir: str | Path, owner: str, agent: str | Agent) -> Agent:
    """The agent, looked up in ``owner``'s own store (an Agent object must live there too)."""
    store = AgentStore.for_owner(data_dir, owner)
    if isinstance(agent, Agent):
        if agent.folder.resolve().parent != store.root.resolve():
            raise InputError(
                f"agent '{agent.name}' is not one of yours.",
                key="errors.agents.not_yours",
                name=agent.name,
            )
        return store.get(agent.name)
    return store.get(agent)


# ---------------------------------------------------------------- the model


def chat_model_for(registry: Any, agent: Agent, owner: str) -> str:
    """The registry name to generate with: the agent's adapter (registered for
    ``owner`` only, under a name that does not reveal them) or its chat model."""
    if not agent.adapter:
        if agent.model not in registry.names():
            raise InputError(
                f"agent '{agent.name}' talks through '{agent.model}', which this server does "
                "not have. Add it to the models file or edit the agent.",
                key="errors.agents.model_missing",
                name=agent.name,
                model=agent.model,
            )
        return agent.model
    base = agent.adapter["base"]
    if base not in registry.names():
        raise InputError(
            f"agent '{agent.name}' has an adapter for base model '{base}', which this server "
            "does not have. Add that model to the models file.",
            key="errors.agents.base_missing",
            name=agent.name,
            base=base,
        )
    from playground.config import ModelEntry

    source = str(agent.adapter_dir.resolve())
    name = "agent-" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]
    with _REGISTER_LOCK:
        if name not in registry.names():
            registry.register(
                ModelEntry(name=name, task="chat", source=source, base=base,
                           owner=safe_name(owner), label=f"{agent.name} (agent)")
            )  # fmt: skip
    return name


def retire_adapter(registry: Any, agent: Agent) -> None:
    """Hide a deleted agent's adapter entry from everyone (and unload it).

    The registry has no "remove"; an owner no user can have (``safe_name``
    never starts with a dot) keeps it out of every model list.
    """
    if not agent.adapter:
        return
    source = str(agent.adapter_dir.resolve())
    name = "agent-" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]
    with _REGISTER_LOCK:
        if name in registry.names():
            hidden = registry.entry(name).model_copy(update={"owner": ".retired"})
            registry.register(hidden, replace=True)


# ---------------------------------------------------------------- the documents


def retrieve(registry: Any, data_dir: str | Path, owner: str, agent: Agent, question: str):
    """``(usable, others)``: the relevant hits from the agent's collection, and the rest."""
    from playground.rag import (
        CollectionStore,
        SearchSettings,
        default_threshold,
        embedder_for,
        relevant,
    )

    collection = CollectionStore.for_owner(data_dir, owner).open(agent.collection)
    embedder = embedder_for(registry, recorded=collection.embedding)
    hits = collection.search(question, embedder, SearchSettings(k=agent.settings.k))
    threshold = agent.settings.min_relevance
    if threshold is None:
        threshold = default_threshold(registry, embedder.info.name)
    usable = relevant(hits, threshold)
    return usable, [h for h in hits if h not in usable]


def turn_messages(
    agent: Agent, history: list[dict[str, str]], message: str, sources: list
) -> list[dict[str, str]]:
    """The conversation sent: role prompt (+ citation rules), history, then the message
    (with the numbered sources in front of it when there are any)."""
    if not sources:
        return agent.role.messages([*history, {"role": "user", "content": message}])
    from playground.rag import build_messages

    rules, grounded = build_messages(message, sources)
    messages = agent.role.messages([*history, grounded])
    if messages and messages[0]["role"] == "system":
        messages[0] = {
            "role": "system",
            "content": messages[0]["content"] + "\n\n" + rules["content"],
        }
    else:
        messages.insert(0, rules)
    return messages


# ---------------------------------------------------------------- the voice


class SentenceSpeaker:
    """Speaks each sentence once it is complete (a later sentence has begun)."""

    def __init__(self, registry: Any, agent: Agent, owner: str, seed: int | None) -> None:
        from playground.voice import Reference, read_audio

        self.registry, self.owner = registry, owner
        self.model = agent.settings.voice_model or _first_voice_model(registry)
        clip = read_audio(agent.voice_dir / "reference.wav")
        self.reference = Reference(clip, agent.voice.get("transcript"), agent.voice.get("name"))
        self.consent = bool((agent.voice.get("consent") or {}).get("confirmed"))
        self.seed = seed if seed is not None else random.randrange(2**31)
        self.spoken = 0

    def feed(self, text: str, *, final: bool, stop: threading.Event | None) -> list[SpeechPiece]:
        from playground.voice import split_sentences

        sentences = split_sentences(text)
        ready = sentences if final else sentences[:-1]
        out = []
        for sentence in ready[self.spoken :]:
            self.spoken += 1
            out.append(self._say(sentence, stop))
        return out

    def _say(self, sentence: str, stop: threading.Event | None) -> SpeechPiece:
        from playground.voice import VoiceSettings, clone

        result = clone(
            self.registry, self.model, self.reference, sentence,
            VoiceSettings(seed=self.seed + self.spoken), consent=self.consent, stop=stop,
            owner=self.owner,
        )  # fmt: skip
        return SpeechPiece(self.spoken, sentence, result.audio, result.sample_rate, result.metadata)


def _first_voice_model(registry: Any) -> str:
    names = registry.names("voice-clone")
    if not names:
        raise InputError(
            "this agent has a voice but no voice-clone model is configured.",
            key="errors.agents.no_voice_model",
        )
    return names[0]
