"""The Agents panel in the Chat tab: talk to an agent, save the current chat as one, share it.

UI only: records, turns, retrieval, speech and sharing live in ``playground.agents``.
Built by ``tabs.chat.build`` (it reads the Chat tab's model and role from
``ctx.shared``), so it sits inside the Chat tab. The one tab pattern: ``layout``
(panels as dataclasses), ``handlers`` (top-level functions), the wiring below.
"""

from __future__ import annotations

import gradio as gr

from tabs.agents import handlers
from tabs.agents.handlers import agent_names, agent_summary, chat_turn, speech_file
from tabs.agents.layout import (
    ManagePanel,
    SavePanel,
    TalkPanel,
    manage_panel,
    save_panel,
    talk_panel,
)
from tabs.common import AppContext, bind

__all__ = ["agent_names", "agent_summary", "build", "chat_turn", "speech_file"]
PRIVATE = {"api_visibility": "private"}


def build(ctx: AppContext) -> None:
    with gr.Accordion(ctx.t("agents.panel"), open=False, elem_id="agents-panel"):
        gr.Markdown(ctx.t("agents.intro"))
        talk = talk_panel(ctx)
        save = save_panel(ctx)
        manage = manage_panel(ctx)
    _wire_talk(ctx, talk)
    _wire_save(ctx, talk, save)
    _wire_manage(ctx, talk, manage)


def _wire_talk(ctx: AppContext, talk: TalkPanel) -> None:
    agent_list = bind(handlers.agent_list, ctx)
    picked, listing = [talk.agent, ctx.client_id], [talk.agent, talk.summary]
    talk.refresh.click(agent_list, picked, listing, api_name="agent_list", **ctx.light)
    ctx.client_id.change(agent_list, picked, listing, **PRIVATE, **ctx.light)
    talk.agent.select(agent_list, picked, listing, **PRIVATE, **ctx.light)

    agent_chat = bind(handlers.agent_chat, ctx)
    inputs = [talk.agent, talk.message, talk.chatbot, talk.grounding, talk.speak, talk.seed,
              ctx.client_id]  # fmt: skip
    outputs = [talk.chatbot, talk.sources, talk.raw, talk.audio, talk.message]
    send = talk.send.click(agent_chat, inputs, outputs, api_name="agent_chat", **ctx.heavy)
    submit = talk.message.submit(agent_chat, inputs, outputs, **PRIVATE, **ctx.heavy)
    talk.stop.click(bind(handlers.agent_stop, ctx), None, None, cancels=[send, submit],
                    **PRIVATE, **ctx.light)  # fmt: skip
    talk.clear.click(lambda: ([], "", [], None), None,
                     [talk.chatbot, talk.sources, talk.raw, talk.audio], queue=False,
                     **PRIVATE)  # fmt: skip


def _wire_save(ctx: AppContext, talk: TalkPanel, save: SavePanel) -> None:
    # The Chat tab's picked model and role (placeholders when built without it).
    model = ctx.shared.get("chat.model") or gr.State(None)
    role_state = ctx.shared.get("chat.role_state") or gr.State(None)
    parts = bind(handlers.agent_parts, ctx)
    for trigger in (save.collection.focus, save.voice.focus, ctx.client_id.change):
        trigger(parts, ctx.client_id, [save.collection, save.voice], **PRIVATE, **ctx.light)
    inputs = [save.name, model, role_state, save.collection, save.voice, save.picture,
              ctx.client_id]  # fmt: skip
    save.save.click(bind(handlers.agent_save, ctx), inputs,
                    [talk.agent, talk.summary, save.name], api_name="agent_save",
                    **ctx.light)  # fmt: skip


def _wire_manage(ctx: AppContext, talk: TalkPanel, manage: ManagePanel) -> None:
    listing = [talk.agent, talk.summary]
    manage.rename.click(bind(handlers.agent_rename, ctx),
                        [talk.agent, manage.new_name, ctx.client_id],
                        [*listing, manage.new_name], api_name="agent_rename",
                        **ctx.light)  # fmt: skip
    manage.delete.click(bind(handlers.agent_delete, ctx), [talk.agent, ctx.client_id], listing,
                        js="(a) => confirm('Delete agent \"' + a + '\"? / 删除智能体？') ? a : null",
                        api_name="agent_delete", **ctx.light)  # fmt: skip
    manage.export.click(bind(handlers.agent_export, ctx),
                        [talk.agent, manage.include_documents, manage.include_voice,
                         ctx.client_id],
                        manage.file, api_name="agent_export", **ctx.light)  # fmt: skip
    manage.upload.upload(bind(handlers.agent_import, ctx), [manage.upload, ctx.client_id],
                         listing, api_name="agent_import", **ctx.heavy)  # fmt: skip
