"""Many users at once: N concurrent chat sessions against one session.

    python benchmarks/load.py                         # engine, tiny model, 8 sessions
    python benchmarks/load.py --sessions 20 --turns 3 --config models.yaml --model NAME
    python benchmarks/load.py --mode app --api-name /chat_send --api-args '["{message}"]'

``engine`` mode runs ``playground.chat.complete`` from N threads sharing one
registry (one copy of the model). ``app`` mode launches the app on the same
models file and drives it with N ``gradio_client`` sessions through the named
endpoint, so it includes the queue (model-bound events serialised per GPU).
Both print throughput (replies/s) and p50/p95 latency for 1 and N sessions,
their ratios, and the ratio of one engine reply to the plain
``model.generate`` call on the same prompt, measured in the same run.
Without ``--config`` the tiny random models are built in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "Say hello in one sentence.",
    "用一句话介绍你自己。",
    "Name three colours.",
    "What is 2 + 2?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run_sessions(call: Callable[[int, int], None], sessions: int, turns: int) -> dict:
    """Each session makes ``turns`` calls in a row; all sessions start together."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(sessions)

    def session(sid: int) -> None:
        start_gate.wait()
        for turn in range(turns):
            began = time.perf_counter()
            try:
                call(sid, turn)
            except Exception as exc:  # a failed reply is reported, not hidden
                with lock:
                    errors.append(f"session {sid} turn {turn}: {type(exc).__name__}: {exc}")
                continue
            with lock:
                latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - wall
    return {
        "sessions": sessions,
        "replies": len(latencies),
        "errors": errors,
        "wall_s": wall,
        "throughput": len(latencies) / wall if wall else 0.0,
        "p50": percentile(latencies, 50) if latencies else float("nan"),
        "p95": percentile(latencies, 95) if latencies else float("nan"),
        "latencies": latencies,
    }


def combine(runs: list[dict]) -> dict:
    """Pool rounds: total replies over total wall time; percentiles over every latency."""
    latencies = [x for r in runs for x in r["latencies"]]
    wall = sum(r["wall_s"] for r in runs)
    return {
        "sessions": runs[0]["sessions"],
        "replies": len(latencies),
        "errors": [e for r in runs for e in r["errors"]],
        "wall_s": wall,
        "throughput": len(latencies) / wall if wall else 0.0,
        "p50": percentile(latencies, 50) if latencies else float("nan"),
        "p95": percentile(latencies, 95) if latencies else float("nan"),
        "latencies": latencies,
    }


def alternate(call: Callable[[int, int], None], sessions: int, turns: int, rounds: int):
    """1 session and N sessions in alternating rounds, so background load hits both alike."""
    ones, manys = [], []
    for _ in range(rounds):
        ones.append(run_sessions(call, 1, turns))
        manys.append(run_sessions(call, sessions, turns))
    return combine(ones), combine(manys)


def engine_caller(registry, model: str, max_new_tokens: int) -> Callable[[int, int], None]:
    from playground.chat import GenerationSettings, complete

    settings = GenerationSettings(temperature=0.0, max_new_tokens=max_new_tokens)

    def call(sid: int, turn: int) -> None:
        prompt = PROMPTS[(sid + turn) % len(PROMPTS)]
        complete(registry, model, [{"role": "user", "content": prompt}], settings)

    return call


def plain_generate_seconds(registry, model: str, max_new_tokens: int, repeats: int) -> float:
    """Mean seconds of the bare transformers call on the already loaded model."""
    import torch

    chat_model = registry.get(model)
    tok = chat_model.tokenizer
    times = []
    for i in range(repeats):
        messages = [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = tok(text, return_tensors="pt", add_special_tokens=False).to(
            chat_model.model.device
        )

        def generate(inputs=inputs) -> None:
            began = time.perf_counter()
            with torch.inference_mode():
                chat_model.model.generate(
                    **inputs, max_new_tokens=max_new_tokens, do_sample=False,
                    pad_token_id=tok.pad_token_id,
                )  # fmt: skip
            times.append(time.perf_counter() - began)

        # In a worker thread, as the engine and Gradio's workers run it: OpenMP threading
        # differs between the main thread and others, which alone can change CPU timings.
        worker = threading.Thread(target=generate)
        worker.start()
        worker.join()
    return statistics.median(times)


def app_caller(config: Path, api_name: str, api_args: str, data_dir: Path):
    """Launch the app in this process; one gradio_client per session."""
    from gradio_client import Client

    import app

    args = app.parse_args(["--config", str(config), "--data-dir", str(data_dir)])
    demo = app.build_app(args)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True, i18n=demo.i18n_strings)
    url = demo.local_url
    clients: dict[int, Client] = {}

    def call(sid: int, turn: int) -> None:
        if sid not in clients:
            clients[sid] = Client(url, verbose=False)
        message = PROMPTS[(sid + turn) % len(PROMPTS)]
        values = json.loads(api_args.replace("{message}", message))
        clients[sid].predict(*values, api_name=api_name)

    return call, demo


def report(label: str, one: dict, many: dict) -> None:
    for r in (one, many):
        print(
            f"{label} {r['sessions']:>3} session(s): {r['replies']} replies in {r['wall_s']:.2f} s, "
            f"throughput {r['throughput']:.2f}/s, p50 {r['p50'] * 1000:.0f} ms, "
            f"p95 {r['p95'] * 1000:.0f} ms, errors {len(r['errors'])}"
        )
        for err in r["errors"][:3]:
            print(f"  error: {err}")
    print(
        f"ratio {many['sessions']} vs 1 sessions: throughput x{many['throughput'] / one['throughput']:.2f}, "
        f"p95 latency x{many['p95'] / one['p95']:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--turns", type=int, default=3, help="replies per session")
    p.add_argument("--rounds", type=int, default=3, help="alternating 1-vs-N rounds")
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--config", help="models file (default: tiny random models)")
    p.add_argument("--model", help="chat model name (default: the first chat model)")
    p.add_argument("--mode", choices=["engine", "app"], default="engine")
    p.add_argument("--api-name", help="app mode: the chat endpoint, e.g. /chat_send")
    p.add_argument("--api-args", default='["{message}"]',
                   help="app mode: JSON list of arguments; {message} is replaced")  # fmt: skip
    args = p.parse_args(argv)

    from playground.config import load_config
    from playground.registry import Registry

    tmp = Path(tempfile.mkdtemp(prefix="load-bench-"))
    if args.config:
        config_path = Path(args.config)
    else:
        from playground.testing import make_tiny

        print("building tiny models ...", flush=True)
        config_path = make_tiny(tmp / "tiny", only=["chat_lm"])
    registry = Registry(load_config(config_path))
    model = args.model or registry.names("chat")[0]
    print(f"model {model}, {args.turns} replies per session, max_new_tokens {args.max_new_tokens}")
    import os

    import torch

    print(
        f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
        "(on a busy shared CPU, OMP_NUM_THREADS=1 avoids thread-spin contention)"
    )

    if args.mode == "engine":
        call = engine_caller(registry, model, args.max_new_tokens)
        call(0, 0)  # load and warm up outside the measurement
        plain = plain_generate_seconds(registry, model, args.max_new_tokens, repeats=6)
        one, many = alternate(call, args.sessions, args.turns, args.rounds)
        report("engine", one, many)
        print(
            f"ratio one engine reply / plain model.generate: x{one['p50'] / plain:.2f} "
            f"({one['p50'] * 1000:.0f} ms vs {plain * 1000:.0f} ms)"
        )
    else:
        if not args.api_name:
            p.error("--mode app needs --api-name (the chat tab's endpoint)")
        call, demo = app_caller(config_path, args.api_name, args.api_args, tmp / "data")
        try:
            call(0, 0)  # first call loads the model
            one, many = alternate(call, args.sessions, args.turns, args.rounds)
        finally:
            demo.close()
        report("app", one, many)
    return 0 if not (one["errors"] or many["errors"]) else 1


if __name__ == "__main__":
    sys.exit(main())
