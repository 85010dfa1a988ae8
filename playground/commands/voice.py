"""``playground voice clone|check``: clone a voice from a clip, or check a clip first."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground.commands import add_config_arg, open_registry


def register(sub) -> None:
    parser = sub.add_parser("voice", help="clone a voice from a short clip; check a clip")
    inner = parser.add_subparsers(dest="voice_command", metavar="ACTION", required=True)

    clone = inner.add_parser("clone", help="say TEXT in the voice of a reference clip")
    add_config_arg(clone)
    clone.add_argument("--model", help="voice-clone model name (default: the first configured)")
    clone.add_argument("--reference", required=True, metavar="FILE.wav", help="reference clip")
    clone.add_argument(
        "--reference-text",
        metavar="TEXT",
        help="what is said in the clip (default: transcribed by the speech-recognition model)",
    )
    clone.add_argument("--seed", type=int, help="seed for a reproducible take")
    clone.add_argument("--out", required=True, metavar="FILE.wav", help="where to write the WAV")
    clone.add_argument(
        "--consent",
        action="store_true",
        help="confirm you have the speaker's permission to clone their voice (required)",
    )
    clone.add_argument("--temperature", type=float, help="sampling temperature (CSM)")
    clone.add_argument("--guidance", type=float, help="classifier-free guidance scale (VibeVoice)")
    clone.add_argument("--steps", type=int, help="diffusion steps (VibeVoice)")
    clone.add_argument("text", help="the text to speak (any length; split into sentences)")
    clone.set_defaults(handler=_clone)

    check = inner.add_parser("check", help="check a reference clip; exit 2 when unusable")
    add_config_arg(check)
    check.add_argument("--model", help="check against this model's limits and sample rate")
    check.add_argument("--reference-text", metavar="TEXT", help="transcript to trim along")
    check.add_argument("file", metavar="FILE.wav")
    check.set_defaults(handler=_check)


def _voice_model(registry, name: str | None, text: str | None = None) -> str:
    from playground.errors import ConfigError
    from playground.voice.lineup import pick_voice_model

    if name:
        registry.entry(name)
        return name
    names = registry.names("voice-clone")
    if not names:
        raise ConfigError(f"{registry.config.path}: no voice-clone model is configured.")
    if text is None:
        return names[0]
    pick = pick_voice_model(registry, text)  # a model that speaks the text's language
    print(f"voice model: {pick.reason}", file=sys.stderr)
    return pick.model


def _check(args: argparse.Namespace) -> int:
    from playground.voice import check_reference, prepare_reference

    if Path(args.config).exists() or args.model:
        registry = open_registry(args.config)
        model = _voice_model(registry, args.model)
        report = check_reference(registry, model, args.file, args.reference_text)
        print(f"checked for {model}")
    else:
        report = prepare_reference(args.file, sample_rate=24000, transcript=args.reference_text)
    print(report.summary())
    if report.transcript and args.reference_text and report.transcript != args.reference_text:
        print(f"  transcript after trimming: {report.transcript}")
    if not report.usable:
        reasons = " ".join(i.message for i in report.issues if i.severity == "error")
        print(f"error: {args.file}: {reasons}", file=sys.stderr)
        return 2
    return 0


def _clone(args: argparse.Namespace) -> int:
    from playground.voice import Reference, VoiceSettings, check_reference, clone, require_consent
    from playground.voice.asr import transcribe

    require_consent(args.consent)
    registry = open_registry(args.config)
    model = _voice_model(registry, args.model, args.text)
    report = check_reference(registry, model, args.reference, args.reference_text)
    for issue in report.issues:
        print(f"[{issue.severity}] {issue.message}", file=sys.stderr)
    reference = Reference.from_report(report, voice_name=Path(args.reference).stem)
    if not reference.transcript and registry.names("speech-recognition"):
        asr = registry.names("speech-recognition")[0]
        reference.transcript = transcribe(registry, asr, reference.audio) or None
        print(f"reference transcript ({asr}): {reference.transcript}", file=sys.stderr)
    settings = VoiceSettings(
        seed=args.seed,
        temperature=args.temperature,
        guidance_scale=args.guidance,
        diffusion_steps=args.steps,
    )

    def progress(step) -> None:
        print(f"[{step.index}/{step.total}] {step.sentence}", file=sys.stderr)

    result = clone(
        registry, model, reference, args.text, settings, consent=True, on_progress=progress
    )
    path = result.save(args.out)
    print(
        f"wrote {path} ({result.seconds:.1f} s at {result.sample_rate} Hz, {len(result.sentences)} "
        f"sentences, seed {result.seed}, real-time factor {result.real_time_factor:.2f})"
    )
    return 0
