"""The Voice tab's panels: each builds its components and returns them as one dataclass."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from tabs.common import AppContext


@dataclass
class ModelPanel:
    model: gr.Dropdown
    asr: gr.Dropdown
    model_info: gr.Markdown


@dataclass
class ReferencePanel:
    saved: gr.Dropdown
    refresh: gr.Button
    delete: gr.Button
    upload: gr.Audio
    check: gr.Button
    report: gr.Markdown
    cleaned: gr.Audio
    transcript: gr.Textbox
    voice_name: gr.Textbox
    save: gr.Button


@dataclass
class SynthesisPanel:
    text: gr.Textbox
    seed: gr.Number
    guidance: gr.Slider
    steps: gr.Slider
    temperature: gr.Slider
    crossfade: gr.Slider
    consent: gr.Checkbox
    generate: gr.Button
    cancel: gr.Button
    status: gr.Markdown
    output: gr.Audio


@dataclass
class SpeakPanel:
    """The "Speak" controls added under the Chat tab's chatbot."""

    voice: gr.Dropdown
    speak: gr.Button
    audio: gr.Audio


def model_label(ctx: AppContext, name: str) -> str:
    entry = ctx.registry.entry(name)
    return f"{entry.display} [{'/'.join(entry.languages) or '?'}]"


def model_info(ctx: AppContext, name: str | None) -> str:
    """Languages, licence, size and what the model needs, for the picked model."""
    from playground.voice.lineup import AUTO

    if not name:
        return ""
    if name == AUTO:
        return ctx.t("voice.auto_info")
    entry = ctx.registry.entry(name)
    family = entry.options.get("family", "?")
    needs = " · needs the reference transcript" if family == "csm" else ""
    return (
        f"**{entry.display}** · languages: {', '.join(entry.languages) or 'not stated'} · "
        f"licence: `{entry.license or 'not stated'}` · {entry.size or ''} · family: {family}{needs}"
    )


def model_panel(ctx: AppContext, models: list[str]) -> ModelPanel:
    from playground.voice.lineup import AUTO

    recognizers = ctx.registry.names("speech-recognition")
    with gr.Row():
        # Auto: the model that speaks the text's language (see playground.voice.lineup).
        model = gr.Dropdown(
            choices=[(ctx.t("voice.auto"), AUTO)] + [(model_label(ctx, n), n) for n in models],
            value=AUTO,
            label=ctx.t("voice.model"),
            scale=3,
        )
        asr = gr.Dropdown(
            choices=[("—", "")] + [(n, n) for n in recognizers],
            value=recognizers[0] if recognizers else None,
            label=ctx.t("voice.asr_model"),
            info=ctx.t("voice.asr_info"),
            scale=2,
        )
    return ModelPanel(model=model, asr=asr, model_info=gr.Markdown(model_info(ctx, AUTO)))


def reference_panel(ctx: AppContext) -> ReferencePanel:
    gr.Markdown(ctx.i18n("voice.reference_title_heading"))
    with gr.Row():
        saved = gr.Dropdown(
            choices=[], value=None, label=ctx.t("voice.saved"), info=ctx.t("voice.saved_info"),
            scale=3, allow_custom_value=True,
        )  # fmt: skip
        refresh = gr.Button(ctx.t("voice.refresh"), scale=1, size="sm")
        delete = gr.Button(ctx.t("voice.delete"), scale=1, size="sm", variant="stop")
    upload = gr.Audio(
        sources=["upload", "microphone"], type="filepath", label=ctx.t("voice.reference")
    )
    check = gr.Button(ctx.t("voice.check"), variant="secondary")
    report = gr.Markdown("")
    cleaned = gr.Audio(type="filepath", label=ctx.t("voice.cleaned"), interactive=False)
    transcript = gr.Textbox(
        label=ctx.t("voice.transcript"), info=ctx.t("voice.transcript_info"), lines=2
    )
    with gr.Row():
        voice_name = gr.Textbox(label=ctx.t("voice.voice_name"), scale=3)
        save = gr.Button(ctx.t("voice.save"), scale=1)
    return ReferencePanel(saved, refresh, delete, upload, check, report, cleaned, transcript,
                          voice_name, save)  # fmt: skip


def synthesis_panel(ctx: AppContext) -> SynthesisPanel:
    gr.Markdown(ctx.i18n("voice.text_title_heading"))
    text = gr.Textbox(label=ctx.t("voice.text"), info=ctx.t("voice.text_info"), lines=6)
    with gr.Accordion(ctx.t("voice.controls"), open=False):
        gr.Markdown(ctx.t("voice.controls_help"))
        seed = gr.Number(value=-1, precision=0, label=ctx.t("voice.seed"))
        guidance = gr.Slider(1.0, 3.0, value=1.3, step=0.1, label=ctx.t("voice.guidance"))
        steps = gr.Slider(2, 50, value=10, step=1, label=ctx.t("voice.steps"))
        temperature = gr.Slider(0.1, 1.5, value=0.9, step=0.05, label=ctx.t("voice.temperature"))
        crossfade = gr.Slider(0, 200, value=40, step=5, label=ctx.t("voice.crossfade"))
    consent = gr.Checkbox(label=ctx.t("voice.consent"), value=False)
    with gr.Row():
        generate = gr.Button(ctx.t("voice.generate"), variant="primary", scale=3)
        cancel = gr.Button(ctx.t("voice.cancel"), variant="stop", scale=1)
    status = gr.Markdown("")
    output = gr.Audio(
        type="filepath", label=ctx.t("voice.output"), interactive=False, buttons=["download"]
    )
    return SynthesisPanel(text, seed, guidance, steps, temperature, crossfade, consent,
                          generate, cancel, status, output)  # fmt: skip


def speak_panel(ctx: AppContext) -> SpeakPanel:
    """Inside ``ctx.shared["chat.actions"]``: pick a saved voice, speak, listen."""
    with ctx.shared["chat.actions"]:
        voice = gr.Dropdown(
            choices=[], label=ctx.t("voice.speak_voice"), scale=2, min_width=160,
            allow_custom_value=True,
        )  # fmt: skip
        speak = gr.Button(ctx.t("voice.speak"), scale=1, min_width=100)
        audio = gr.Audio(type="filepath", label=ctx.t("voice.speak_audio"), interactive=False,
                         scale=3, buttons=["download"])  # fmt: skip
    return SpeakPanel(voice, speak, audio)
