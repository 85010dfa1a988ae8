"""The Voice tab's handlers: top-level functions of the app context and named inputs.

Each calls ``playground.voice`` (every decision is made there) and can be called
directly in a test; ``tabs.voice.wiring`` connects them to the components.
"""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from playground.chat.messages import last_assistant_text
from playground.errors import CancelledError, InputError, PlaygroundError
from playground.storage import user_dir
from tabs.common import AppContext, StopFlags, error_text, owner_of, session_key, ui_errors
from tabs.i18n import tr

# Cancel flags of running generations, per browser session.
STOPS = StopFlags()


def library(ctx: AppContext, owner: str):
    """``owner``'s saved voices."""
    from playground.voice import VoiceLibrary

    return VoiceLibrary(user_dir(ctx.data_dir, owner, "voices"))


def writing_voices(ctx: AppContext, request, client_id=None):
    """``(owner, their voices)`` for an action that writes a file: refused past --user-quota."""
    owner = owner_of(request, client_id)
    ctx.check_quota(owner)
    return owner, library(ctx, owner)


def work_path(ctx: AppContext, owner: str, name: str, kind: str = "voice-work") -> Path:
    return user_dir(ctx.data_dir, owner, kind) / name


def voice_settings(seed=None, guidance=None, steps=None, temperature=None, crossfade=None):
    """The synthesis controls as one ``VoiceSettings`` (seed < 0: a random one)."""
    from playground.voice import VoiceSettings

    return VoiceSettings(
        seed=None if seed is None or int(seed) < 0 else int(seed),
        guidance_scale=guidance,
        diffusion_steps=int(steps) if steps else None,
        temperature=temperature,
        crossfade_ms=float(crossfade or 0),
    )


def check_models(ctx: AppContext, model, asr=None) -> list[str]:
    """The models a clip check uses: the voice model ("Auto": the default pick) and the ASR."""
    from playground.voice import pick_voice_model

    return [pick_voice_model(ctx.registry, "", chosen=model).model, asr or ""]


def clone_models(ctx: AppContext, model, text=None) -> list[str]:
    """The voice model that will say ``text`` ("Auto": the one that speaks its language)."""
    from playground.voice import pick_voice_model

    return [pick_voice_model(ctx.registry, text or "", chosen=model).model]


def saved_voices(ctx: AppContext, client_id=None, request: gr.Request = None):
    """The saved-voice picker, refreshed with this user's voices."""
    return gr.Dropdown(choices=[""] + library(ctx, owner_of(request, client_id)).names())


@ui_errors
def check_clip(ctx: AppContext, model, audio, transcript=None, asr=None, client_id=None,
               request: gr.Request = None):  # fmt: skip
    """Check a reference clip for a model: report, cleaned clip, transcript (auto-filled)."""
    from playground.voice import check_reference, pick_voice_model
    from playground.voice.audio import write_wav

    if not audio:
        raise InputError("Upload or record a reference clip first.", key="errors.tabs.upload_clip")
    model = pick_voice_model(ctx.registry, "", chosen=model).model  # Auto: the default pick
    report = check_reference(ctx.registry, model, audio, transcript or None)
    if not report.usable:
        return report_markdown(report), None, report.transcript or ""
    cleaned = work_path(ctx, owner_of(request, client_id), "reference.wav")
    write_wav(cleaned, report.audio.samples, report.audio.sample_rate)
    text = report.transcript or _transcribe(ctx, asr, report.audio)
    return report_markdown(report), str(cleaned), text


def _transcribe(ctx: AppContext, asr: str | None, audio) -> str:
    """The clip's words by the speech recognizer; "" (and a warning) when it cannot."""
    from playground.voice.asr import transcribe

    if not asr:
        return ""
    try:
        return transcribe(ctx.registry, asr, audio)
    except PlaygroundError as exc:  # keep the report; the user can type the transcript
        gr.Warning(f"Could not transcribe the clip: {exc}")
        return ""


@ui_errors
def save_voice(ctx: AppContext, name, cleaned, transcript=None, consent=None, client_id=None,
               request: gr.Request = None):  # fmt: skip
    """Save the checked clip (and its transcript) as one of your voices; needs consent."""
    from playground.voice import Reference, read_audio

    if not cleaned:
        raise InputError(
            "Check a reference clip first; the checked clip is what gets saved.",
            key="errors.tabs.check_clip_first",
        )
    owner, voices = writing_voices(ctx, request, client_id)
    reference = Reference(read_audio(cleaned), transcript or None)
    saved = voices.save(name, reference, consent=consent, by=owner)
    gr.Info(f"Saved voice '{saved.name}'.")
    return gr.Dropdown(choices=[""] + voices.names(), value=saved.name)


@ui_errors
def delete_voice(ctx: AppContext, name, client_id=None, request: gr.Request = None):
    if not name:
        raise InputError("Pick a saved voice to delete.", key="errors.tabs.pick_voice_delete")
    voices = library(ctx, owner_of(request, client_id))
    voices.delete(name)
    return gr.Dropdown(choices=[""] + voices.names(), value="")


@ui_errors
def clone_voice(ctx: AppContext, model, saved=None, cleaned=None, upload=None, transcript=None,
                text=None, consent=None, seed=None, guidance=None, steps=None, temperature=None,
                crossfade=None, client_id=None, request: gr.Request = None):  # fmt: skip
    """Say the text in the voice of the saved voice or the (checked) reference clip."""
    from playground.voice import clone_stream, pick_voice_model, require_consent
    from playground.voice.engine import SynthesisResult

    require_consent(consent)
    pick = pick_voice_model(ctx.registry, text or "", chosen=model)  # or why it cannot speak it
    owner = owner_of(request, client_id)
    reference = voice_reference(ctx, owner, pick.model, saved, cleaned or upload, transcript)
    settings = voice_settings(seed, guidance, steps, temperature, crossfade)
    with STOPS.running(session_key(request)) as stop:
        if stop.is_set():  # Cancel was clicked while this request waited for its turn
            yield f"⏹ {tr('queue.cancelled_waiting', request)}", None
            return
        yield f"⏳ 🗣 {pick.reason}", None
        updates = clone_stream(ctx.registry, pick.model, reference, text, settings,
                               consent=True, stop=stop, owner=owner)  # fmt: skip
        try:
            for item in updates:
                if not isinstance(item, SynthesisResult):
                    yield f"⏳ {item.index}/{item.total}: {item.sentence}", None
                    continue
                name = f"{time.strftime('%Y%m%d-%H%M%S')}-{item.seed}.wav"
                out = work_path(ctx, owner, name, kind="voice-outputs")
                item.save(out)
                yield f"{done_markdown(item)}\n\n🗣 {pick.reason}", str(out)
        except CancelledError as stopped:  # the run's own last word, so nothing overwrites it
            yield f"⏹ {error_text(stopped, request)}", None


def cancel(ctx: AppContext, request: gr.Request = None):
    """Cancel this session's voice, even mid-sentence or while it waits for its turn.

    Says so in a toast: the status line is the run's own ("⏹ Cancelled after 3 of
    40 sentences"), which a reply from here could otherwise arrive after and replace.
    """
    stopped = STOPS.stop(session_key(request))
    gr.Info(tr("voice.cancelling" if stopped else "voice.nothing_running", request))


@ui_errors
def speak_reply(ctx: AppContext, messages, name, model, client_id=None,
                request: gr.Request = None):  # fmt: skip
    """Speak the last assistant reply with a saved voice (consent was given when saving)."""
    from playground.voice import VoiceSettings, clone, pick_voice_model

    text = last_assistant_text(messages)
    if not text.strip():
        raise InputError(
            "There is no assistant reply to speak yet.", key="errors.tabs.no_reply_to_speak"
        )
    if not name:
        raise InputError(
            "Save a voice in the Voice tab first, then pick it here.",
            key="errors.tabs.save_voice_first",
        )
    owner, voices = writing_voices(ctx, request, client_id)
    # Only a voice saved with a consent record; that record, not a fresh claim, is written.
    record = voices.consent_of(name)
    model = pick_voice_model(ctx.registry, text, chosen=model).model  # a reply in Chinese too
    result = clone(ctx.registry, model, voices.load(name), text, VoiceSettings(), consent=True,
                   owner=owner, consent_record=record)  # fmt: skip
    out = work_path(ctx, owner, f"speak-{time.strftime('%Y%m%d-%H%M%S')}.wav", "voice-outputs")
    result.save(out)
    return str(out)


def speak_voices(ctx: AppContext, client_id=None, request: gr.Request = None):
    """The Speak picker: this user's saved voices."""
    return gr.Dropdown(choices=library(ctx, owner_of(request, client_id)).names())


def voice_reference(ctx: AppContext, owner, model, saved, audio, transcript):
    """The voice prompt: a saved voice, else the reference clip (checked again here)."""
    from playground.voice import Reference, check_reference

    if saved:
        reference = library(ctx, owner).load(saved)
        if transcript and not reference.transcript:
            reference.transcript = transcript
        return reference
    if not audio:
        raise InputError(
            "Pick a saved voice, or upload/record a reference clip and check it.",
            key="errors.tabs.pick_voice_or_clip",
        )
    return Reference.from_report(check_reference(ctx.registry, model, audio, transcript or None))


def report_markdown(report) -> str:
    icon = "✅" if report.usable else "❌"
    lines = [f"{icon} " + report.summary().splitlines()[0]]
    lines += [f"- {line.strip()}" for line in report.summary().splitlines()[1:]]
    return "\n".join(lines)


def done_markdown(result) -> str:
    return (
        f"✅ {result.seconds:.1f} s · {len(result.sentences)} sentence(s) · seed **{result.seed}** · "
        f"real-time factor {result.real_time_factor:.2f} · {result.model}. "
        "The WAV's metadata marks it as AI-generated and records your consent."
    )
