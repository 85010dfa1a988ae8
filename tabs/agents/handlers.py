"""The Agents panel's handlers: top-level functions of the app context and named inputs.

Records, turns, retrieval, speech and sharing live in ``playground.agents``; these
functions only translate between it and the panel's components.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gradio as gr

from playground.agents import AgentStore, export_agent, import_agent, talk
from playground.agents.talk import retire_adapter
from playground.errors import InputError
from playground.storage import user_dir
from tabs.common import AppContext, StopFlags, owner_of, session_key, ui_errors

STOPS = StopFlags()


def current_owner(request: gr.Request | None, client_id: str | None) -> str:
    """Whose agents these are: the one place the panel asks who the user is."""
    return owner_of(request, client_id)


# ------------------------------------------------------------------ plain helpers


def agent_names(ctx: AppContext, owner: str) -> list[str]:
    return AgentStore.for_owner(ctx.data_dir, owner).names()


def agent_summary(ctx: AppContext, owner: str, name: str | None) -> str:
    """One line on what the picked agent is made of."""
    if not name:
        return ""
    agent = AgentStore.for_owner(ctx.data_dir, owner).get(name)
    parts = [f"**{agent.name}** · {agent.model}"]
    if agent.adapter:
        parts.append(f"adapter {agent.adapter.get('label') or ''}".strip())
    if agent.collection:
        parts.append(f"documents: {agent.collection}")
    if agent.voice:
        parts.append(f"voice: {agent.voice.get('name')}")
    return " · ".join(parts) + f" · revision {agent.revision}"


def speech_file(ctx: AppContext, owner: str, turn) -> str | None:
    """The reply's speech so far as a WAV in the owner's folder (None without speech)."""
    from playground.voice.audio import write_wav

    joined = turn.speech_audio()
    if joined is None:
        return None
    folder = user_dir(ctx.data_dir, owner, "voice-outputs")
    path = folder / f"agent-{time.strftime('%Y%m%d-%H%M%S')}-{len(turn.speech)}.wav"
    write_wav(path, joined[0], joined[1], dict(turn.speech[0].metadata, text=turn.text))
    return str(path)


def chat_turn(
    ctx: AppContext,
    owner: str,
    *,
    agent: str,
    message: str,
    history: list[dict[str, Any]],
    grounding: bool,
    speak: bool,
    seed: int | None,
    stop=None,
):
    """Yield ``(history, sources_html, sources_json, audio)`` as the agent's reply streams."""
    from playground.chat.messages import plain_history
    from tabs.rag import link_citations, sources_html

    if not agent:
        raise InputError("pick an agent first (or save one below).", key="errors.tabs.pick_agent")
    if not (message or "").strip():
        raise InputError("type a message first.", key="errors.tabs.type_message_dot")
    before = plain_history(history)
    shown = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
    spoken, audio, sources = 0, None, ""
    for turn in talk(ctx.registry, ctx.data_dir, owner, agent, message, before,
                     grounding=grounding, speak=speak, seed=seed, stop=stop):  # fmt: skip
        shown[-1]["content"] = link_citations(turn.text, turn.sources)
        sources = sources_html(message, turn.sources, turn.others)
        if len(turn.speech) > spoken:  # a sentence more to hear
            spoken, audio = len(turn.speech), speech_file(ctx, owner, turn)
        yield shown, sources, turn.sources_json(), audio


# ------------------------------------------------------------------ handlers


def listing(ctx: AppContext, owner: str, picked: str | None):
    """The agent picker (keeping ``picked`` when it is still there) and its summary."""
    names = agent_names(ctx, owner)
    picked = picked if picked in names else (names[0] if names else None)
    return gr.Dropdown(choices=names, value=picked), agent_summary(ctx, owner, picked)


@ui_errors
def agent_list(ctx: AppContext, agent: str | None = None, client_id: str | None = None,
               request: gr.Request = None):  # fmt: skip
    """List your agents; returns the picker and a summary of the picked one."""
    return listing(ctx, current_owner(request, client_id), agent)


@ui_errors
def agent_chat(
    ctx: AppContext,
    agent: str,
    message: str,
    history: list | None = None,
    grounding: bool = True,
    speak: bool = True,
    seed: int | None = None,
    client_id: str | None = None,
    request: gr.Request = None,
):
    """Send a message to one of your agents and stream its reply.

    Yields the conversation, the Sources panel HTML, the sources as JSON
    (``n``, ``text``, ``source``, ``page``, ``score``) and the spoken reply
    so far (a WAV, when the agent has a voice and ``speak`` is on).
    """
    owner = current_owner(request, client_id)
    seed = None if seed in (None, "") else int(seed)
    with STOPS.running(session_key(request)) as stop:
        for shown, sources, raw, audio in chat_turn(
            ctx, owner, agent=agent, message=message, history=list(history or []),
            grounding=bool(grounding), speak=bool(speak), seed=seed, stop=stop,
        ):  # fmt: skip
            yield shown, sources, raw, audio, ""


def agent_stop(ctx: AppContext, request: gr.Request = None) -> None:
    STOPS.stop(session_key(request))


@ui_errors
def agent_parts(ctx: AppContext, client_id: str | None = None, request: gr.Request = None):
    """Your collections and saved voices, to pick an agent's parts from."""
    from playground.rag import CollectionStore
    from playground.voice import VoiceLibrary

    owner = current_owner(request, client_id)
    collections = CollectionStore.for_owner(ctx.data_dir, owner).names()
    voices = VoiceLibrary(user_dir(ctx.data_dir, owner, "voices")).names()
    return gr.Dropdown(choices=[("-", "")] + collections), gr.Dropdown(choices=[("-", "")] + voices)


@ui_errors
def agent_save(ctx: AppContext, name: str, model_name: str | None = None,
               role: dict | None = None, collection: str | None = None, voice: str | None = None,
               picture: bytes | None = None, client_id: str | None = None,
               request: gr.Request = None):  # fmt: skip
    """Save the Chat tab's model (or adapter) and role, with a collection and voice, as an agent."""
    from playground.chat import Role, load_role

    owner = current_owner(request, client_id)
    entry = ctx.registry.entry(model_name) if model_name else None
    adapter = model_name if entry is not None and entry.base else None
    agent = AgentStore.for_owner(ctx.data_dir, owner).create(
        ctx.registry, name, Role.from_dict(role) if role else load_role("assistant"),
        model=None if adapter else model_name, adapter=adapter,
        collection=collection or None, voice=voice or None, picture=picture,
    )  # fmt: skip
    gr.Info(f"Saved agent '{agent.name}'.")
    return (*listing(ctx, owner, agent.name), "")


@ui_errors
def agent_rename(ctx: AppContext, agent: str, new_name: str, client_id: str | None = None,
                 request: gr.Request = None):  # fmt: skip
    """Rename one of your agents."""
    owner = current_owner(request, client_id)
    renamed = AgentStore.for_owner(ctx.data_dir, owner).rename(agent, new_name)
    return (*listing(ctx, owner, renamed.name), "")


@ui_errors
def agent_delete(ctx: AppContext, agent: str, client_id: str | None = None,
                 request: gr.Request = None):  # fmt: skip
    """Delete one of your agents (its collection and saved voice stay)."""
    owner = current_owner(request, client_id)
    store = AgentStore.for_owner(ctx.data_dir, owner)
    retire_adapter(ctx.registry, store.get(agent))
    store.delete(agent)
    return listing(ctx, owner, None)


@ui_errors
def agent_export(ctx: AppContext, agent: str, include_documents: bool = False,
                 include_voice: bool = False, client_id: str | None = None,
                 request: gr.Request = None):  # fmt: skip
    """Export one of your agents as a .zip (documents and voice only when ticked)."""
    owner = current_owner(request, client_id)
    folder = user_dir(ctx.data_dir, owner, "exports")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in agent or "agent")
    path = export_agent(ctx.data_dir, owner, agent, folder / f"{safe}.agent.zip",
                        include_documents=bool(include_documents),
                        include_voice=bool(include_voice))  # fmt: skip
    return gr.File(value=str(path), visible=True)


@ui_errors
def agent_import(ctx: AppContext, file: str, client_id: str | None = None,
                 request: gr.Request = None):  # fmt: skip
    """Import an agent .zip as a new agent of yours."""
    if not file:
        raise InputError("choose an agent .zip to import.", key="errors.tabs.choose_agent_zip")
    owner = current_owner(request, client_id)
    agent = import_agent(ctx.registry, ctx.data_dir, owner, Path(file))
    gr.Info(f"Imported agent '{agent.name}' ({', '.join(agent.parts())}).")
    return listing(ctx, owner, agent.name)
