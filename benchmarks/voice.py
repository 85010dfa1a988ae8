"""Real-time factor of the voice engine against the plain transformers call, same text, same run.

    python benchmarks/voice.py [--config models.yaml --model NAME] [--runs 3] [--text "..."]
    python benchmarks/voice.py --pocket-published [--runs 3]

Without --config it builds the tiny random VibeVoice (offline). With
--pocket-published it builds Kyutai Pocket TTS with its published architecture
(``playground.testing.pocket_tts.PUBLISHED``, ~120M parameters, random weights,
the end-of-speech head silenced so every run makes exactly its frame budget)
and adds a fourth line: the raw transformers calls (processor with the voice,
one ``generate`` over the whole text, ``processor.decode``). Random weights
cost what trained ones cost per frame, so the real-time factor is the one a
user gets; the target there is engine RTF < 1.0 and engine / raw <= 1.1. The engine
splits the text into sentences, re-uses the voice prompt for each, joins with
crossfades and checks for Cancel; the plain call is one ``model.generate`` on
the whole text with the same frame budget. A third line times plain calls per
sentence, which separates the engine's own overhead (checks, seeding, joins,
registry) from the cost of re-reading the voice prompt for every sentence.
Real-time factor = compute seconds
per second of audio (lower is faster). Target: engine / plain <= 1.1.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TEXT = "The quick brown fox jumps over the lazy dog. 今天天气很好，我们去公园散步吧。"
POCKET_TEXT = "The quick brown fox jumps over the lazy dog. It was a bright and sunny morning."


def pocket_published(folder: Path) -> tuple[Path, str]:
    """A models.yaml with one random Pocket TTS of the published architecture."""
    import yaml

    from playground.testing.pocket_tts import PUBLISHED, build_pocket

    source = build_pocket(folder / "pocket-published", PUBLISHED)
    entry = {"name": "pocket-published", "task": "voice-clone", "source": str(source),
             "languages": ["en", "fr", "de", "pt", "it", "es"], "memory_gb": 1.0,
             "options": {"family": "pocket-tts", "temperature": 0.7}}  # fmt: skip
    config = {"version": 1, "defaults": {"device": "cpu", "dtype": "float32"}, "models": [entry]}
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, entry["name"]


def raw_pocket(vm, reference, text: str, frames: int) -> int:
    """Samples made by the plain transformers calls for ``text`` (no engine, no family code)."""
    import torch

    conversation = [{"role": "0", "content": [{"type": "text", "text": text},
                                              {"type": "audio", "audio": reference}]}]  # fmt: skip
    inputs = vm.processor.apply_chat_template(
        conversation, tokenize=True, return_dict=True, return_tensors="pt"
    )
    with torch.inference_mode():
        out = vm.model.generate(**inputs, max_new_tokens=frames, do_sample=True, temperature=0.7,
                                return_dict_in_generate=True)  # fmt: skip
        waves = vm.processor.decode(out.audio_latents, out.audio_latents_mask)
    return sum(len(w) for w in waves)


def reference_clip(folder: Path) -> Path:
    path = folder / "ref.wav"
    try:
        subprocess.run(
            ["espeak-ng", "-w", str(path), "Hello, this is a reference clip for the benchmark. "
             "It has a few sentences of plain speech. The end."],
            check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        import numpy as np
        import soundfile as sf

        t = np.arange(24000 * 6) / 24000
        sf.write(path, (0.3 * np.sin(2 * np.pi * 180 * t) * (t % 1 < 0.7)).astype("float32"), 24000)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config")
    ap.add_argument("--model")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--text")
    ap.add_argument("--pocket-published", action="store_true",
                    help="Kyutai Pocket TTS, published architecture, random weights")  # fmt: skip
    ap.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: this thread's CPU time with one torch thread, steady on a busy shared machine "
        "(default); wall: elapsed time (use on a GPU or an idle machine)",
    )
    args = ap.parse_args()

    import torch

    if args.clock == "cpu":
        torch.set_num_threads(1)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter

    from playground.config import load_config
    from playground.registry import Registry
    from playground.voice import Reference, VoiceSettings, check_reference, clone
    from playground.voice.engine import max_frames_for
    from playground.voice.families import GenerationControls
    from playground.voice.text import split_sentences

    tmp = Path(tempfile.mkdtemp(prefix="voice-bench-"))
    if args.config:
        config_path, model = args.config, args.model
    elif args.pocket_published:
        config_path, model = pocket_published(tmp)
    else:
        from playground.testing import make_tiny

        config_path, model = make_tiny(tmp / "tiny", only=["voice"]), "tiny-voice"
    registry = Registry(load_config(config_path))
    model = model or registry.names("voice-clone")[0]
    reference = Reference.from_report(check_reference(registry, model, reference_clip(tmp)))
    vm = registry.get(model)
    args.text = args.text or (POCKET_TEXT if vm.family.name == "pocket-tts" else TEXT)
    sentences = split_sentences(args.text)
    budget = sum(max_frames_for(s, vm.frame_rate, vm.options) for s in sentences)
    controls = VoiceSettings().controls(vm.options)

    def plain() -> tuple[float, float]:
        torch.manual_seed(0)
        start = clock()
        audio = vm.family.generate(vm, reference.audio.samples, reference.transcript, args.text,
                                   controls=controls, max_frames=budget)  # fmt: skip
        return clock() - start, len(audio) / vm.sample_rate

    def plain_per_sentence() -> tuple[float, float]:
        start, audio = clock(), 0
        for i, sentence in enumerate(sentences):
            torch.manual_seed(i)
            frames = max_frames_for(sentence, vm.frame_rate, vm.options)
            audio += len(vm.family.generate(vm, reference.audio.samples, reference.transcript,
                                            sentence, controls=controls, max_frames=frames))  # fmt: skip
        return clock() - start, audio / vm.sample_rate

    def engine() -> tuple[float, float]:
        start = clock()
        result = clone(registry, model, reference, args.text, VoiceSettings(seed=0), consent=True)
        return clock() - start, result.seconds

    def raw() -> tuple[float, float]:
        torch.manual_seed(0)
        start = clock()
        samples = raw_pocket(vm, reference.audio.samples, args.text, budget)
        return clock() - start, samples / vm.sample_rate

    assert isinstance(controls, GenerationControls)
    plain()  # warm-up (first call pays one-off costs)
    engine()
    rtf_plain, rtf_loop, rtf_engine, rtf_raw = [], [], [], []
    for _ in range(args.runs):  # alternate so drift hits all equally
        if vm.family.name == "pocket-tts":
            seconds, raw_audio = raw()
            rtf_raw.append(seconds / max(raw_audio, 1e-9))
        seconds, plain_audio = plain()
        rtf_plain.append(seconds / max(plain_audio, 1e-9))
        seconds, loop_audio = plain_per_sentence()
        rtf_loop.append(seconds / max(loop_audio, 1e-9))
        seconds, engine_audio = engine()
        rtf_engine.append(seconds / max(engine_audio, 1e-9))
    # Best of N: on a shared machine other work only ever slows a run down.
    p, e, lp = min(rtf_plain), min(rtf_engine), min(rtf_loop)
    pm, em = statistics.median(rtf_plain), statistics.median(rtf_engine)
    print(
        f"model {model} on {vm.device}, {args.clock} clock; {len(sentences)} sentences; "
        f"{args.runs} runs each; "
        f"audio: plain {plain_audio:.1f} s, engine {engine_audio:.1f} s"
    )
    print(f"plain model.generate  real-time factor best {p:.3f}, median {pm:.3f}")
    print(f"plain, per sentence   real-time factor best {lp:.3f}")
    print(f"engine (clone)        real-time factor best {e:.3f}, median {em:.3f}")
    print(
        f"ratio engine/plain: {e / p:.2f} best-of-{args.runs} (median {em / pm:.2f}); target <= 1.1"
    )
    print(f"ratio engine/plain-per-sentence (the engine's own overhead): {e / lp:.2f}")
    if rtf_raw:
        r = min(rtf_raw)
        print(f"raw transformers calls real-time factor best {r:.3f} (audio {raw_audio:.1f} s)")
        print(f"engine RTF {e:.3f} (target < 1.0); ratio engine/raw: {e / r:.2f} (target <= 1.1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
