"""The Voice tab: check a reference clip, then say any text in that voice (with consent).

UI only: every decision is made by ``playground.voice``. The tab follows the one
pattern of every tab (see docs/architecture.md): ``layout`` builds the panels as
dataclasses, ``handlers`` holds top-level functions of the app context, and
``build`` below wires them. Also adds a "Speak" button under the Chat tab's chatbot.
"""

from __future__ import annotations

import gradio as gr

from tabs.common import AppContext, bind, prefetch
from tabs.voice import handlers
from tabs.voice.layout import (
    ModelPanel,
    ReferencePanel,
    SynthesisPanel,
    model_info,
    model_panel,
    reference_panel,
    speak_panel,
    synthesis_panel,
)


def build(ctx: AppContext) -> None:
    models = ctx.registry.names("voice-clone")
    gr.Markdown(ctx.t("voice.help"))
    if not models:
        gr.Markdown(ctx.t("voice.no_models"))
        return
    picker = model_panel(ctx, models)
    with gr.Row():
        with gr.Column(scale=1):
            reference = reference_panel(ctx)
        with gr.Column(scale=1):
            synthesis = synthesis_panel(ctx)
    _wire_reference(ctx, picker, reference, synthesis)
    _wire_synthesis(ctx, picker, reference, synthesis)
    if "chat.actions" in ctx.shared and "chat.chatbot" in ctx.shared:
        _wire_speak(ctx, picker)


def _wire_reference(ctx, picker: ModelPanel, reference: ReferencePanel,
                    synthesis: SynthesisPanel) -> None:  # fmt: skip
    private = {"api_visibility": "private"}
    picker.model.change(bind(model_info, ctx), picker.model, picker.model_info, **private,
                        **ctx.light)  # fmt: skip
    # A new clip makes the last check stale: never clone from the previous clip by mistake.
    reference.upload.change(lambda: ("", None), None, [reference.report, reference.cleaned],
                            queue=False, **private)  # fmt: skip
    # A first download runs in a light event (progress in the report), outside the device slot.
    fetch = reference.check.click(prefetch(ctx, handlers.check_models), [picker.model, picker.asr],
                                  reference.report, **private, **ctx.light)  # fmt: skip
    fetch.success(
        bind(handlers.check_clip, ctx),
        [picker.model, reference.upload, reference.transcript, picker.asr, ctx.client_id],
        [reference.report, reference.cleaned, reference.transcript],
        api_name="voice_check",
        **ctx.heavy,
    )
    voices = bind(handlers.saved_voices, ctx)
    reference.refresh.click(voices, ctx.client_id, reference.saved, **private, **ctx.light)
    ctx.client_id.change(voices, ctx.client_id, reference.saved, **private, **ctx.light)
    reference.save.click(
        bind(handlers.save_voice, ctx),
        [reference.voice_name, reference.cleaned, reference.transcript, synthesis.consent,
         ctx.client_id],
        reference.saved,
        api_name="voice_save",
        **ctx.light,
    )  # fmt: skip
    reference.delete.click(bind(handlers.delete_voice, ctx), [reference.saved, ctx.client_id],
                           reference.saved, **private, **ctx.light)  # fmt: skip


def _wire_synthesis(ctx, picker: ModelPanel, reference: ReferencePanel,
                    synthesis: SynthesisPanel) -> None:  # fmt: skip
    fetch = synthesis.generate.click(prefetch(ctx, handlers.clone_models, handlers.STOPS),
                                     [picker.model, synthesis.text], synthesis.status,
                                     api_visibility="private", **ctx.light)  # fmt: skip
    fetch.success(
        bind(handlers.clone_voice, ctx),
        [picker.model, reference.saved, reference.cleaned, reference.upload,
         reference.transcript, synthesis.text, synthesis.consent, synthesis.seed,
         synthesis.guidance, synthesis.steps, synthesis.temperature, synthesis.crossfade,
         ctx.client_id],
        [synthesis.status, synthesis.output],
        api_name="voice_clone",
        **ctx.heavy,
    )  # fmt: skip
    # The run stops itself and writes its own last status (see handlers.cancel);
    # only a download still running is cancelled by Gradio.
    synthesis.cancel.click(bind(handlers.cancel, ctx), None, None, cancels=[fetch],
                           api_name="voice_cancel", **ctx.light)  # fmt: skip


def _wire_speak(ctx: AppContext, picker: ModelPanel) -> None:
    speak = speak_panel(ctx)
    voices = bind(handlers.speak_voices, ctx)
    ctx.client_id.change(voices, ctx.client_id, speak.voice, api_visibility="private",
                         **ctx.light)  # fmt: skip
    speak.voice.focus(voices, ctx.client_id, speak.voice, api_visibility="private", **ctx.light)
    speak.speak.click(
        bind(handlers.speak_reply, ctx),
        [ctx.shared["chat.chatbot"], speak.voice, picker.model, ctx.client_id],
        speak.audio,
        api_name="voice_speak",
        **ctx.heavy,
    )
