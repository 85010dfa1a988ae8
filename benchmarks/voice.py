"""Real-time factor of the voice engine against the plain transformers call, same text, same run.

    python benchmarks/voice.py [--config models.yaml --model NAME] [--runs 3] [--text "..."]

Without --config it builds the tiny random VibeVoice (offline). The engine
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
    ap.add_argument("--text", default=TEXT)
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
    else:
        from playground.testing import make_tiny

        config_path, model = make_tiny(tmp / "tiny", only=["voice"]), "tiny-voice"
    registry = Registry(load_config(config_path))
    model = model or registry.names("voice-clone")[0]
    reference = Reference.from_report(check_reference(registry, model, reference_clip(tmp)))
    vm = registry.get(model)
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

    assert isinstance(controls, GenerationControls)
    plain()  # warm-up (first call pays one-off costs)
    engine()
    rtf_plain, rtf_loop, rtf_engine = [], [], []
    for _ in range(args.runs):  # alternate so drift hits all equally
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
