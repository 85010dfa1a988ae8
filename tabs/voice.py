"""The Voice tab: check a reference clip, then say any text in that voice (with consent).

UI only: every decision is made by ``playground.voice``. Panels: model picker,
reference (upload / record / saved voice, check, transcript), text and
controls, output. Also adds a "Speak" button under the Chat tab's chatbot.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gradio as gr

from playground.chat.messages import last_assistant_text
from playground.errors import InputError, PlaygroundError
from playground.storage import user_dir
from tabs.common import AppContext, StopFlags, owner_of, session_key, ui_errors

# Cancel flags of running generations, per browser session.
_STOPS = StopFlags()


def build(ctx: AppContext) -> None:
    registry = ctx.registry
    models = registry.names("voice-clone")
    gr.Markdown(ctx.t("voice.help"))
    if not models:
        gr.Markdown(ctx.t("voice.no_models"))
        return
    p = _model_panel(ctx, models)
    with gr.Row():
        with gr.Column(scale=1):
            r = _reference_panel(ctx)
        with gr.Column(scale=1):
            s = _synthesis_panel(ctx)
    _wire(ctx, p, r, s)
    _add_speak_button(ctx, p)


# ---------------------------------------------------------------- layout


def _model_panel(ctx: AppContext, models: list[str]) -> dict[str, Any]:
    from playground.voice.lineup import AUTO

    p: dict[str, Any] = {}
    asr = ctx.registry.names("speech-recognition")
    with gr.Row():
        # Auto: the model that speaks the text's language (see playground.voice.lineup).
        p["model"] = gr.Dropdown(
            choices=[(ctx.t("voice.auto"), AUTO)] + [(_label(ctx, n), n) for n in models],
            value=AUTO,
            label=ctx.t("voice.model"),
            scale=3,
        )
        p["asr"] = gr.Dropdown(
            choices=[("—", "")] + [(n, n) for n in asr],
            value=asr[0] if asr else None,
            label=ctx.t("voice.asr_model"),
            info=ctx.t("voice.asr_info"),
            scale=2,
        )
    p["model_info"] = gr.Markdown(model_info(ctx, AUTO))
    return p


def _reference_panel(ctx: AppContext) -> dict[str, Any]:
    r: dict[str, Any] = {}
    gr.Markdown(ctx.i18n("voice.reference_title_heading"))
    with gr.Row():
        r["saved"] = gr.Dropdown(
            choices=[], value=None, label=ctx.t("voice.saved"), info=ctx.t("voice.saved_info"),
            scale=3, allow_custom_value=True,
        )  # fmt: skip
        r["refresh"] = gr.Button(ctx.t("voice.refresh"), scale=1, size="sm")
        r["delete"] = gr.Button(ctx.t("voice.delete"), scale=1, size="sm", variant="stop")
    r["upload"] = gr.Audio(
        sources=["upload", "microphone"], type="filepath", label=ctx.t("voice.reference")
    )
    r["check"] = gr.Button(ctx.t("voice.check"), variant="secondary")
    r["report"] = gr.Markdown("")
    r["cleaned"] = gr.Audio(type="filepath", label=ctx.t("voice.cleaned"), interactive=False)
    r["transcript"] = gr.Textbox(
        label=ctx.t("voice.transcript"), info=ctx.t("voice.transcript_info"), lines=2
    )
    with gr.Row():
        r["voice_name"] = gr.Textbox(label=ctx.t("voice.voice_name"), scale=3)
        r["save"] = gr.Button(ctx.t("voice.save"), scale=1)
    return r


def _synthesis_panel(ctx: AppContext) -> dict[str, Any]:
    s: dict[str, Any] = {}
    gr.Markdown(ctx.i18n("voice.text_title_heading"))
    s["text"] = gr.Textbox(label=ctx.t("voice.text"), info=ctx.t("voice.text_info"), lines=6)
    with gr.Accordion(ctx.t("voice.controls"), open=False):
        gr.Markdown(ctx.t("voice.controls_help"))
        s["seed"] = gr.Number(value=-1, precision=0, label=ctx.t("voice.seed"))
        s["guidance"] = gr.Slider(1.0, 3.0, value=1.3, step=0.1, label=ctx.t("voice.guidance"))
        s["steps"] = gr.Slider(2, 50, value=10, step=1, label=ctx.t("voice.steps"))
        s["temperature"] = gr.Slider(
            0.1, 1.5, value=0.9, step=0.05, label=ctx.t("voice.temperature")
        )
        s["crossfade"] = gr.Slider(0, 200, value=40, step=5, label=ctx.t("voice.crossfade"))
    s["consent"] = gr.Checkbox(label=ctx.t("voice.consent"), value=False)
    with gr.Row():
        s["generate"] = gr.Button(ctx.t("voice.generate"), variant="primary", scale=3)
        s["cancel"] = gr.Button(ctx.t("voice.cancel"), variant="stop", scale=1)
    s["status"] = gr.Markdown("")
    s["output"] = gr.Audio(
        type="filepath", label=ctx.t("voice.output"), interactive=False, buttons=["download"]
    )
    return s


def _label(ctx: AppContext, name: str) -> str:
    entry = ctx.registry.entry(name)
    langs = "/".join(entry.languages) or "?"
    return f"{entry.display} [{langs}]"


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


# ---------------------------------------------------------------- wiring


def _wire(ctx: AppContext, p: dict, r: dict, s: dict) -> None:
    registry, data_dir = ctx.registry, ctx.data_dir

    p["model"].change(lambda n: model_info(ctx, n), p["model"], p["model_info"],
                      api_visibility="private", **ctx.light)  # fmt: skip

    @ui_errors
    def check_clip(
        model, audio, transcript=None, asr=None, client_id=None, request: gr.Request = None
    ):
        """Check a reference clip for a model: report, cleaned clip, transcript (auto-filled)."""
        from playground.voice import check_reference, pick_voice_model
        from playground.voice.asr import transcribe

        if not audio:
            raise InputError("Upload or record a reference clip first.")
        model = pick_voice_model(registry, "", chosen=model).model  # Auto: the default pick
        report = check_reference(registry, model, audio, transcript or None)
        cleaned = None
        text = report.transcript or ""
        if report.usable:
            owner = owner_of(request, client_id)
            cleaned = _work_path(data_dir, owner, "reference.wav")
            from playground.voice.audio import write_wav

            write_wav(cleaned, report.audio.samples, report.audio.sample_rate)
            if not text and asr:
                try:
                    text = transcribe(registry, asr, report.audio)
                except PlaygroundError as exc:  # keep the report; the user can type the transcript
                    gr.Warning(f"Could not transcribe the clip: {exc}")
        return _report_markdown(report), (str(cleaned) if cleaned else None), text

    # A new clip makes the last check stale: never clone from the previous clip by mistake.
    r["upload"].change(lambda: ("", None), None, [r["report"], r["cleaned"]],
                       api_visibility="private", queue=False)  # fmt: skip
    r["check"].click(
        check_clip,
        [p["model"], r["upload"], r["transcript"], p["asr"], ctx.client_id],
        [r["report"], r["cleaned"], r["transcript"]],
        api_name="voice_check",
        **ctx.heavy,
    )

    def voices(client_id, request: gr.Request):
        return gr.Dropdown(choices=[""] + _library(data_dir, owner_of(request, client_id)).names())

    @ui_errors
    def save_voice(
        name, cleaned, transcript=None, consent=None, client_id=None, request: gr.Request = None
    ):
        """Save the checked clip (and its transcript) as one of your voices; needs consent."""
        from playground.voice import Reference, read_audio

        if not cleaned:
            raise InputError("Check a reference clip first; the checked clip is what gets saved.")
        audio = read_audio(cleaned)
        library = _library(data_dir, owner_of(request, client_id))
        owner = owner_of(request, client_id)
        ctx.check_quota(owner)
        saved = library.save(name, Reference(audio, transcript or None), consent=consent, by=owner)
        gr.Info(f"Saved voice '{saved.name}'.")
        return gr.Dropdown(choices=[""] + library.names(), value=saved.name)

    @ui_errors
    def delete_voice(name, client_id, request: gr.Request):
        if not name:
            raise InputError("Pick a saved voice to delete.")
        library = _library(data_dir, owner_of(request, client_id))
        library.delete(name)
        return gr.Dropdown(choices=[""] + library.names(), value="")

    r["refresh"].click(voices, ctx.client_id, r["saved"], api_visibility="private", **ctx.light)
    ctx.client_id.change(voices, ctx.client_id, r["saved"], api_visibility="private", **ctx.light)
    r["save"].click(
        save_voice,
        [r["voice_name"], r["cleaned"], r["transcript"], s["consent"], ctx.client_id],
        r["saved"],
        api_name="voice_save",
        **ctx.light,
    )
    r["delete"].click(delete_voice, [r["saved"], ctx.client_id], r["saved"],
                      api_visibility="private", **ctx.light)  # fmt: skip

    @ui_errors
    def clone_voice(model, saved=None, cleaned=None, upload=None, transcript=None, text=None,
                    consent=None, seed=None, guidance=None, steps=None, temperature=None,
                    crossfade=None, client_id=None, request: gr.Request = None):  # fmt: skip
        """Say the text in the voice of the saved voice or the (checked) reference clip."""
        from playground.voice import VoiceSettings, clone_stream, pick_voice_model, require_consent
        from playground.voice.engine import SynthesisResult

        require_consent(consent)
        pick = pick_voice_model(registry, text or "", chosen=model)  # or why it cannot speak it
        model = pick.model
        owner = owner_of(request, client_id)
        reference = _reference(
            registry, data_dir, owner, model, saved, cleaned or upload, transcript
        )
        settings = VoiceSettings(
            seed=None if seed is None or int(seed) < 0 else int(seed),
            guidance_scale=guidance,
            diffusion_steps=int(steps) if steps else None,
            temperature=temperature,
            crossfade_ms=float(crossfade or 0),
        )
        with _STOPS.running(session_key(request)) as stop:
            yield f"⏳ 🗣 {pick.reason}", None
            for item in clone_stream(registry, model, reference, text, settings, consent=True,
                                     stop=stop, owner=owner):  # fmt: skip
                if isinstance(item, SynthesisResult):
                    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{item.seed}.wav"
                    out = _work_path(data_dir, owner, name, kind="voice-outputs")
                    item.save(out)
                    yield f"{_done_markdown(item)}\n\n🗣 {pick.reason}", str(out)
                else:
                    yield f"⏳ {item.index}/{item.total}: {item.sentence}", None

    event = s["generate"].click(
        clone_voice,
        [p["model"], r["saved"], r["cleaned"], r["upload"], r["transcript"], s["text"],
         s["consent"], s["seed"], s["guidance"], s["steps"], s["temperature"], s["crossfade"],
         ctx.client_id],
        [s["status"], s["output"]],
        api_name="voice_clone",
        **ctx.heavy,
    )  # fmt: skip

    def cancel(request: gr.Request):
        """Cancel the voice being generated for this session, even mid-sentence."""
        _STOPS.stop(session_key(request))
        return "⏹"

    s["cancel"].click(cancel, None, s["status"], cancels=[event], api_name="voice_cancel",
                      queue=False)  # fmt: skip


# ---------------------------------------------------------------- helpers


def _library(data_dir: Path, owner: str):
    from playground.voice import VoiceLibrary

    return VoiceLibrary(user_dir(data_dir, owner, "voices"))


def _work_path(data_dir: Path, owner: str, name: str, kind: str = "voice-work") -> Path:
    return user_dir(data_dir, owner, kind) / name


def _reference(registry, data_dir, owner, model, saved, audio, transcript):
    """The voice prompt: a saved voice, else the reference clip (checked again here)."""
    from playground.voice import Reference, check_reference

    if saved:
        reference = _library(data_dir, owner).load(saved)
        if transcript and not reference.transcript:
            reference.transcript = transcript
        return reference
    if not audio:
        raise InputError("Pick a saved voice, or upload/record a reference clip and check it.")
    return Reference.from_report(check_reference(registry, model, audio, transcript or None))


def _report_markdown(report) -> str:
    icon = "✅" if report.usable else "❌"
    lines = [f"{icon} " + report.summary().splitlines()[0]]
    lines += [f"- {line.strip()}" for line in report.summary().splitlines()[1:]]
    return "\n".join(lines)


def _done_markdown(result) -> str:
    return (
        f"✅ {result.seconds:.1f} s · {len(result.sentences)} sentence(s) · seed **{result.seed}** · "
        f"real-time factor {result.real_time_factor:.2f} · {result.model}. "
        "The WAV's metadata marks it as AI-generated and records your consent."
    )


# ---------------------------------------------------------------- chat "Speak"


def _add_speak_button(ctx: AppContext, p: dict) -> None:
    if "chat.actions" not in ctx.shared or "chat.chatbot" not in ctx.shared:
        return
    registry, data_dir = ctx.registry, ctx.data_dir
    with ctx.shared["chat.actions"]:
        voice = gr.Dropdown(
            choices=[], label=ctx.t("voice.speak_voice"), scale=2, min_width=160,
            allow_custom_value=True,
        )  # fmt: skip
        speak = gr.Button(ctx.t("voice.speak"), scale=1, min_width=100)
        audio = gr.Audio(type="filepath", label=ctx.t("voice.speak_audio"), interactive=False,
                         scale=3, buttons=["download"])  # fmt: skip

    def voices(client_id, request: gr.Request):
        return gr.Dropdown(choices=_library(data_dir, owner_of(request, client_id)).names())

    @ui_errors
    def speak_reply(messages, name, model, client_id, request: gr.Request):
        """Speak the last assistant reply with a saved voice (consent was given when saving)."""
        from playground.voice import VoiceSettings, clone, pick_voice_model

        text = last_assistant_text(messages)
        if not text.strip():
            raise InputError("There is no assistant reply to speak yet.")
        if not name:
            raise InputError("Save a voice in the Voice tab first, then pick it here.")
        owner = owner_of(request, client_id)
        ctx.check_quota(owner)
        library = _library(data_dir, owner)
        # Only a voice saved with a consent record; that record, not a fresh claim, is written.
        record = library.consent_of(name)
        reference = library.load(name)
        model = pick_voice_model(registry, text, chosen=model).model  # a reply in Chinese too
        result = clone(registry, model, reference, text, VoiceSettings(), consent=True,
                       owner=owner, consent_record=record)  # fmt: skip
        out = _work_path(data_dir, owner, f"speak-{time.strftime('%Y%m%d-%H%M%S')}.wav",
                         kind="voice-outputs")  # fmt: skip
        result.save(out)
        return str(out)

    ctx.client_id.change(voices, ctx.client_id, voice, api_visibility="private", **ctx.light)
    voice.focus(voices, ctx.client_id, voice, api_visibility="private", **ctx.light)
    speak.click(
        speak_reply,
        [ctx.shared["chat.chatbot"], voice, p["model"], ctx.client_id],
        audio,
        api_name="voice_speak",
        **ctx.heavy,
    )
