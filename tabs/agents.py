"""The Agents panel in the Chat tab: talk to an agent, save the current chat as one, share it.

UI only: records, turns, retrieval, speech and sharing live in ``playground.agents``.
Built by ``tabs.chat.build`` (it reads the Chat tab's model and role from
``ctx.shared``), so it sits inside the Chat tab.
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

_STOPS = StopFlags()


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
        raise InputError("pick an agent first (or save one below).")
    if not (message or "").strip():
        raise InputError("type a message first.")
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


# ------------------------------------------------------------------ layout


def build(ctx: AppContext) -> None:
    with gr.Accordion(ctx.t("agents.panel"), open=False, elem_id="agents-panel"):
        gr.Markdown(ctx.t("agents.intro"))
        p = _talk_panel(ctx)
        s = _save_panel(ctx)
        m = _manage_panel(ctx)
    _wire_talk(ctx, p)
    _wire_save(ctx, p, s)
    _wire_manage(ctx, p, m)


def _talk_panel(ctx: AppContext) -> dict[str, Any]:
    p: dict[str, Any] = {}
    with gr.Row():
        p["agent"] = gr.Dropdown(choices=[], value=None, label=ctx.t("agents.agent"), scale=4,
                                 allow_custom_value=True,
                                 elem_id="agents-pick")  # fmt: skip
        p["refresh"] = gr.Button(ctx.t("agents.refresh"), scale=1, size="sm")
    p["summary"] = gr.Markdown("")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            p["chatbot"] = gr.Chatbot(label=ctx.t("agents.chatbot"), height=360,
                                      elem_id="agents-chatbot")  # fmt: skip
            with gr.Row():
                p["message"] = gr.Textbox(label=ctx.t("agents.message"), lines=2, scale=5,
                                          elem_id="agents-message")  # fmt: skip
                p["send"] = gr.Button(ctx.t("agents.send"), variant="primary", scale=1,
                                      elem_id="agents-send")  # fmt: skip
            with gr.Row():
                p["grounding"] = gr.Checkbox(value=True, label=ctx.t("agents.grounding"))
                p["speak"] = gr.Checkbox(value=True, label=ctx.t("agents.speak"))
                p["seed"] = gr.Number(
                    value=None, precision=0, minimum=0, label=ctx.t("agents.seed")
                )
            with gr.Row():
                p["stop"] = gr.Button(ctx.t("agents.stop"), variant="stop")
                p["clear"] = gr.Button(ctx.t("agents.clear"))
        with gr.Column(scale=2):
            p["audio"] = gr.Audio(type="filepath", label=ctx.t("agents.audio"), interactive=False,
                                  elem_id="agents-audio")  # fmt: skip
            gr.Markdown(ctx.t("agents.sources"))
            p["sources"] = gr.HTML("", elem_id="agents-sources")
            p["raw"] = gr.JSON(value=[], visible=False)
    return p


def _save_panel(ctx: AppContext) -> dict[str, Any]:
    s: dict[str, Any] = {}
    with gr.Accordion(ctx.t("agents.save_heading"), open=False):
        gr.Markdown(ctx.t("agents.save_help"))
        with gr.Row():
            s["name"] = gr.Textbox(label=ctx.t("agents.name"), scale=2)
            s["collection"] = gr.Dropdown(
                choices=[], value=None, label=ctx.t("agents.collection"), allow_custom_value=True
            )
            s["voice"] = gr.Dropdown(
                choices=[], value=None, label=ctx.t("agents.voice"), allow_custom_value=True
            )
        s["picture"] = gr.File(label=ctx.t("agents.picture"), file_types=["image"], type="binary",
                               height=90)  # fmt: skip
        s["save"] = gr.Button(ctx.t("agents.save"), variant="primary")
    return s


def _manage_panel(ctx: AppContext) -> dict[str, Any]:
    m: dict[str, Any] = {}
    with gr.Accordion(ctx.t("agents.manage"), open=False):
        with gr.Row():
            m["new_name"] = gr.Textbox(label=ctx.t("agents.new_name"), scale=3)
            m["rename"] = gr.Button(ctx.t("agents.rename"), scale=1)
            m["delete"] = gr.Button(ctx.t("agents.delete"), variant="stop", scale=1)
        with gr.Row():
            m["include_documents"] = gr.Checkbox(False, label=ctx.t("agents.include_documents"))
            m["include_voice"] = gr.Checkbox(False, label=ctx.t("agents.include_voice"))
            m["export"] = gr.Button(ctx.t("agents.export"))
        m["file"] = gr.File(label=ctx.t("agents.file"), interactive=False, visible=False)
        m["import"] = gr.UploadButton(ctx.t("agents.import"), file_types=[".zip"], type="filepath")
    return m


# ------------------------------------------------------------------ wiring


def _wire_talk(ctx: AppContext, p: dict) -> None:
    @ui_errors
    def agent_list(agent: str | None = None, client_id: str | None = None,
                   request: gr.Request = None):  # fmt: skip
        """List your agents; returns the picker and a summary of the picked one."""
        owner = current_owner(request, client_id)
        names = agent_names(ctx, owner)
        agent = agent if agent in names else (names[0] if names else None)
        return gr.Dropdown(choices=names, value=agent), agent_summary(ctx, owner, agent)

    listing = [p["agent"], p["summary"]]
    p["refresh"].click(agent_list, [p["agent"], ctx.client_id], listing, api_name="agent_list",
                       **ctx.light)  # fmt: skip
    ctx.client_id.change(agent_list, [p["agent"], ctx.client_id], listing,
                         api_visibility="private", **ctx.light)  # fmt: skip
    p["agent"].select(agent_list, [p["agent"], ctx.client_id], listing,
                      api_visibility="private", **ctx.light)  # fmt: skip

    @ui_errors
    def agent_chat(
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
        with _STOPS.running(session_key(request)) as stop:
            for shown, sources, raw, audio in chat_turn(
                ctx, owner, agent=agent, message=message, history=list(history or []),
                grounding=bool(grounding), speak=bool(speak), seed=seed, stop=stop,
            ):  # fmt: skip
                yield shown, sources, raw, audio, ""

    inputs = [p["agent"], p["message"], p["chatbot"], p["grounding"], p["speak"], p["seed"],
              ctx.client_id]  # fmt: skip
    outputs = [p["chatbot"], p["sources"], p["raw"], p["audio"], p["message"]]
    send = p["send"].click(agent_chat, inputs, outputs, api_name="agent_chat", **ctx.heavy)
    submit = p["message"].submit(agent_chat, inputs, outputs, api_visibility="private",
                                 **ctx.heavy)  # fmt: skip

    def agent_stop(request: gr.Request):
        _STOPS.stop(session_key(request))

    p["stop"].click(agent_stop, None, None, cancels=[send, submit], api_visibility="private",
                    **ctx.light)  # fmt: skip
    p["clear"].click(lambda: ([], "", [], None), None,
                     [p["chatbot"], p["sources"], p["raw"], p["audio"]],
                     api_visibility="private", queue=False)  # fmt: skip


def _wire_save(ctx: AppContext, p: dict, s: dict) -> None:
    # The Chat tab's picked model and role (placeholders when built without it).
    model = ctx.shared.get("chat.model") or gr.State(None)
    role_state = ctx.shared.get("chat.role_state") or gr.State(None)

    @ui_errors
    def agent_parts(client_id: str | None = None, request: gr.Request = None):
        """Your collections and saved voices, to pick an agent's parts from."""
        from playground.rag import CollectionStore
        from playground.voice import VoiceLibrary

        owner = current_owner(request, client_id)
        collections = CollectionStore.for_owner(ctx.data_dir, owner).names()
        voices = VoiceLibrary(user_dir(ctx.data_dir, owner, "voices")).names()
        return gr.Dropdown(choices=[("-", "")] + collections), gr.Dropdown(
            choices=[("-", "")] + voices
        )

    for trigger in (s["collection"].focus, s["voice"].focus, ctx.client_id.change):
        trigger(agent_parts, ctx.client_id, [s["collection"], s["voice"]],
                api_visibility="private", **ctx.light)  # fmt: skip

    @ui_errors
    def agent_save(name: str, model_name: str | None = None, role: dict | None = None,
                   collection: str | None = None, voice: str | None = None,
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
        names = agent_names(ctx, owner)
        return (
            gr.Dropdown(choices=names, value=agent.name),
            agent_summary(ctx, owner, agent.name),
            "",
        )

    inputs = [
        s["name"],
        model,
        role_state,
        s["collection"],
        s["voice"],
        s["picture"],
        ctx.client_id,
    ]
    s["save"].click(agent_save, inputs, [p["agent"], p["summary"], s["name"]],
                    api_name="agent_save", **ctx.light)  # fmt: skip


def _wire_manage(ctx: AppContext, p: dict, m: dict) -> None:
    listing = [p["agent"], p["summary"]]

    def _listing(owner: str, picked: str | None):
        names = agent_names(ctx, owner)
        picked = picked if picked in names else (names[0] if names else None)
        return gr.Dropdown(choices=names, value=picked), agent_summary(ctx, owner, picked)

    @ui_errors
    def agent_rename(agent: str, new_name: str, client_id: str | None = None,
                     request: gr.Request = None):  # fmt: skip
        """Rename one of your agents."""
        owner = current_owner(request, client_id)
        renamed = AgentStore.for_owner(ctx.data_dir, owner).rename(agent, new_name)
        return (*_listing(owner, renamed.name), "")

    m["rename"].click(agent_rename, [p["agent"], m["new_name"], ctx.client_id],
                      [*listing, m["new_name"]], api_name="agent_rename", **ctx.light)  # fmt: skip

    @ui_errors
    def agent_delete(agent: str, client_id: str | None = None, request: gr.Request = None):
        """Delete one of your agents (its collection and saved voice stay)."""
        owner = current_owner(request, client_id)
        store = AgentStore.for_owner(ctx.data_dir, owner)
        retire_adapter(ctx.registry, store.get(agent))
        store.delete(agent)
        return _listing(owner, None)

    m["delete"].click(agent_delete, [p["agent"], ctx.client_id], listing,
                      js="(a) => confirm('Delete agent \"' + a + '\"? / 删除智能体？') ? a : null",
                      api_name="agent_delete", **ctx.light)  # fmt: skip

    @ui_errors
    def agent_export(agent: str, include_documents: bool = False, include_voice: bool = False,
                     client_id: str | None = None, request: gr.Request = None):  # fmt: skip
        """Export one of your agents as a .zip (documents and voice only when ticked)."""
        owner = current_owner(request, client_id)
        folder = user_dir(ctx.data_dir, owner, "exports")
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in agent or "agent")
        path = export_agent(ctx.data_dir, owner, agent, folder / f"{safe}.agent.zip",
                            include_documents=bool(include_documents),
                            include_voice=bool(include_voice))  # fmt: skip
        return gr.File(value=str(path), visible=True)

    m["export"].click(agent_export,
                      [p["agent"], m["include_documents"], m["include_voice"], ctx.client_id],
                      m["file"], api_name="agent_export", **ctx.light)  # fmt: skip

    @ui_errors
    def agent_import(file: str, client_id: str | None = None, request: gr.Request = None):
        """Import an agent .zip as a new agent of yours."""
        if not file:
            raise InputError("choose an agent .zip to import.")
        owner = current_owner(request, client_id)
        agent = import_agent(ctx.registry, ctx.data_dir, owner, Path(file))
        gr.Info(f"Imported agent '{agent.name}' ({', '.join(agent.parts())}).")
        return _listing(owner, agent.name)

    m["import"].upload(agent_import, [m["import"], ctx.client_id], listing,
                       api_name="agent_import", **ctx.heavy)  # fmt: skip
