"""Streaming speed: the chat engine vs a plain ``model.generate`` + ``TextIteratorStreamer``.

    python benchmarks/chat_stream.py [--config models.yaml --model NAME] [--tokens 128] [--rounds 5]

Both paths run on the same loaded model, with the same prompt and the same
sampling settings and seed, alternately in the same run; the median of each is
compared. Without ``--config`` a random Qwen2-architecture model (4 layers,
hidden 256, the test kit's tokenizer) is built in a temp folder, so the
benchmark runs offline. EOS is disabled so that both paths generate exactly
``--tokens`` tokens. Prints tokens/s, time to first token (TTFT) and the ratio
engine / plain (target >= 0.9) by wall clock (median and best round) and
per CPU-second (steadier on a busy machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Please answer step by step: what does the document say?"},
]


def build_random_model(folder: Path) -> Path:
    """A random Qwen2 model big enough that the model, not Python, sets the pace."""
    import torch

    from playground.testing.chat_lm import build_qwen2

    torch.manual_seed(0)
    out = build_qwen2(
        folder / "bench-chat", hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
        num_attention_heads=8, num_key_value_heads=4,
    )  # fmt: skip
    config_path = folder / "models.yaml"
    config_path.write_text(
        "defaults: {device: auto, dtype: float32}\n"
        f"models:\n  - name: bench-chat\n    task: chat\n    source: {out}\n"
    )
    return config_path


# Sampling with a fixed seed: greedy decoding on random weights tends to repeat one
# byte token forever, which no streamer can show as text until the end.
SETTINGS = dict(temperature=1.0, top_p=1.0, top_k=0, repetition_penalty=1.0, seed=0)


def plain(chat_model, tokens: int) -> tuple[float, float, str]:
    """The reference: apply_chat_template + generate in a thread + TextIteratorStreamer."""
    import torch
    from transformers import TextIteratorStreamer

    tok, model = chat_model.tokenizer, chat_model.model
    text = tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    start = time.perf_counter()
    inputs = tok(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)

    def run():
        torch.manual_seed(SETTINGS["seed"])
        with torch.inference_mode():
            model.generate(
                **inputs,
                streamer=streamer,
                max_new_tokens=tokens,
                do_sample=True,
                temperature=SETTINGS["temperature"],
                top_p=SETTINGS["top_p"],
                top_k=SETTINGS["top_k"],
                repetition_penalty=SETTINGS["repetition_penalty"],
                pad_token_id=tok.pad_token_id,
            )

    worker = threading.Thread(target=run)
    worker.start()
    first, reply = None, ""
    for piece in streamer:
        if piece and first is None:
            first = time.perf_counter() - start
        reply += piece
    worker.join()
    return time.perf_counter() - start, first or 0.0, reply


def engine(registry, name: str, tokens: int) -> tuple[float, float, str]:
    from playground.chat import GenerationSettings, stream_chat

    settings = GenerationSettings(**SETTINGS, max_new_tokens=tokens)
    start = time.perf_counter()
    stream = stream_chat(registry, name, MESSAGES, settings)
    first = None
    for _ in stream:
        if first is None:
            first = time.perf_counter() - start
    assert stream.info.new_tokens == tokens, stream.info
    return time.perf_counter() - start, first or 0.0, stream.text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", help="models file (default: build a random model)")
    p.add_argument("--model", help="chat model name in --config")
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)

    from playground.config import load_config
    from playground.registry import Registry

    tmp = tempfile.TemporaryDirectory()
    config_path = args.config or build_random_model(Path(tmp.name))
    registry = Registry(load_config(config_path))
    name = args.model or registry.names("chat")[0]
    chat_model = registry.get(name)
    # Generate exactly --tokens tokens on both paths.
    chat_model.model.generation_config.eos_token_id = None
    print(f"model {name} on {chat_model.device}, {args.tokens} new tokens, {args.rounds} rounds")

    engine(registry, name, 8), plain(chat_model, 8)  # warm-up
    paths = {
        "plain": lambda: plain(chat_model, args.tokens),
        "engine": lambda: engine(registry, name, args.tokens),
    }
    runs: dict[str, list[tuple[float, float, float]]] = {"plain": [], "engine": []}
    for round_ in range(args.rounds):
        order = ["plain", "engine"] if round_ % 2 == 0 else ["engine", "plain"]
        replies = {}
        for key in order:
            cpu = time.process_time()
            seconds, ttft, replies[key] = paths[key]()
            runs[key].append((seconds, ttft, time.process_time() - cpu))
        assert replies["engine"] == replies["plain"], "same seed, different replies"

    def rate(key: str, column: int, pick=statistics.median) -> float:
        return args.tokens / pick(r[column] for r in runs[key])

    for key in ("plain", "engine"):
        ttft = statistics.median(r[1] for r in runs[key])
        print(
            f"{key:>7}: {rate(key, 0):7.1f} tokens/s (median)  {rate(key, 0, min):7.1f} (best)  "
            f"{rate(key, 2):7.1f} tokens/CPU-s   TTFT {ttft * 1000:7.1f} ms"
        )
    ratio = rate("engine", 0) / rate("plain", 0)
    ttft_ratio = statistics.median(r[1] for r in runs["engine"]) / statistics.median(
        r[1] for r in runs["plain"]
    )
    print("(TTFT: time until the consumer gets text; the stock streamer waits for a space)")
    print(
        f"ratio engine/plain tokens/s: {ratio:.3f} median, "
        f"{rate('engine', 0, min) / rate('plain', 0, min):.3f} best, "
        f"{rate('engine', 2) / rate('plain', 2):.3f} per CPU-second (target >= 0.9)   "
        f"TTFT engine/plain: {ttft_ratio:.2f}"
    )
    tmp.cleanup()
    return 0 if ratio >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
