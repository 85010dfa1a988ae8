"""Many users, one model: 1, 8 and 20 concurrent chat sessions on one loaded model.

    python benchmarks/load.py            # Qwen2.5-0.5B-shaped random model, engine + app arms
    python benchmarks/load.py --quick    # 8 new tokens, one round (a few minutes)
    python benchmarks/load.py --tiny --quick   # the tiny test model: a smoke run
    python benchmarks/load.py --arms engine --sessions 1 8 20 --new-tokens 32

Engine arm: N threads each stream one reply through ``playground.chat.stream_chat``
-- the entry point the Chat tab, Compare, Documents answers, the image prompt
assistant and the CLI all use -- on one shared registry, so all replies go to
the model's continuous-batching service. App arm: the app is launched on the
same models file and N ``gradio_client`` sessions send a message through the
Chat tab's ``/chat`` endpoint (queue, handlers and streaming included). The
clients run in a process of their own, as real users' browsers are not in the
server's interpreter; they still share this machine's cores, so each looks for
new output every 10 ms rather than gradio_client's every millisecond (which
took a quarter of a core here), and a first token is seen at most 10 ms late.

Why it is fair: every arm sends the same prompts (prompt i goes to session i,
inside the Chat tab's default role, whose system prompt the app adds too),
asks for the same number of new tokens with EOS off (``ignore_eos`` in the
engine arm; in the app arm the model's output rows for EOS and for ids past the
small test tokenizer are zeroed, so greedy decoding never picks them and every
reply runs to max_new_tokens too), and the arms alternate (each session count runs
on the engine, then on the app, round by round; both models stay loaded) so
that background load on a shared CPU hits them alike. Every reply's user message
is one no earlier reply had (``fresh_prompt``), so the service's prefix cache
(opted in here: ``prefix_cache: true``)
can reuse the role's system prompt -- as in a workshop, where everyone chats
with the same role -- but never a whole prompt; the warm-up reply puts the
role in the cache before any arm, so all arms start alike. The model's
tokenizer is a byte-level BPE trained on this project's docs (4,000 pieces),
so prompts are about as many tokens as a real tokenizer makes of them; the
header prints the lengths. The plain ``model.generate`` call on one sequence
and on a padded batch of 8, measured in the same run with the library's own
matrix products (``playground.cpu_linear.library_linear``) and no prefix cache,
are the library baselines.

On a busy shared CPU run it with ``OMP_NUM_THREADS=1``: two OpenMP threads
spinning against other processes make every step many times slower (for the
plain call as much as for the service), which hides what batching does.

Prints per arm: aggregate tokens/s, p50/p95 time to first token, p95 reply time,
and the ratios the issue sets targets for (8 sessions >= 3.5x one session's
tokens/s; p95 TTFT at 8 <= 3x one session's; app arm within 20% of the engine).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Qwen2.5-0.5B's published shape (config.json of Qwen/Qwen2.5-0.5B-Instruct).
QWEN05 = dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
              intermediate_size=4864, vocab_size=151_936)  # fmt: skip
PROMPT = "Session {n}: tell me something about the number {n}."
CLIENT_POLL_SECONDS = 0.01  # how often an app-arm client looks for new output
_PROMPT_NUMBERS = itertools.count(100)  # 3 digits each: every prompt is as long as the others


def fresh_prompt() -> str:
    """A user message no earlier reply had: the cache may hold the shared role, never the whole prompt."""
    return PROMPT.format(n=next(_PROMPT_NUMBERS))


def tokenizer_corpus() -> list[str]:
    """The project's own English docs: the random model's tokenizer learns word-sized pieces."""
    texts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))]
    return [line for text in texts for line in text.splitlines() if line.strip()]


CHAT_ROLE = "assistant"  # the Chat tab's default role: the app arm's /chat calls use it


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def build_models(folder: Path, *, tiny: bool) -> Path:
    """A models file with one random chat model (Qwen2.5-0.5B's shape unless ``tiny``)."""
    import yaml

    from playground.testing.chat_lm import build_qwen2

    dims = {} if tiny else {**QWEN05, "tokenizer_corpus": tokenizer_corpus()}
    source = build_qwen2(folder / "chat", **dims)
    entry = {"name": "bench-chat", "task": "chat", "source": str(source),
             "options": {"context_window": 2048, "generation": {"temperature": 0.0},
                         "prefix_cache": True}}  # fmt: skip  # one trusted workshop
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump({"models": [entry]}))
    return path


def prompt_length(config: Path) -> str:
    """One session's prompt in tokens (role, message and chat template), for the header."""
    from transformers import AutoTokenizer

    from playground.chat import load_role

    tokenizer = AutoTokenizer.from_pretrained(config.parent / "chat")
    message = fresh_prompt()
    ids = tokenizer.apply_chat_template(
        load_role(CHAT_ROLE).messages([{"role": "user", "content": message}]),
        add_generation_prompt=True, enable_thinking=False, return_dict=True,
    )["input_ids"]  # fmt: skip
    pieces = len(tokenizer(message)["input_ids"])
    return (f"prompt: {len(ids)} tokens with the role and template; the user message "
            f"{len(message)} characters in {pieces} tokens ({len(message) / pieces:.1f} per token)")  # fmt: skip


def never_stop_early(chat_model) -> None:
    """Zero the output rows of EOS, of ids the tokenizer cannot decode, and of invisible ids.

    Random weights: greedy decoding then always picks a visible, non-EOS token
    (no special token, byte piece of a half character, or bare whitespace), so
    every reply (engine or app) writes exactly max_new_tokens, and the first
    text a client sees is the first token -- time to first token is not
    inflated by tokens that show nothing.
    """
    import torch

    tokenizer = chat_model.tokenizer
    rows = chat_model.model.get_output_embeddings().weight
    invisible = [
        i for i in range(len(tokenizer))
        if not (text := tokenizer.decode([i], skip_special_tokens=True)).strip() or "\ufffd" in text
    ]  # fmt: skip
    with torch.no_grad():
        rows[len(tokenizer) :] = 0
        rows[tokenizer.eos_token_id] = 0
        rows[invisible] = 0


def run_concurrent(reply: Callable[[int], tuple[float, float, int]], sessions: int) -> dict:
    """Start ``sessions`` replies together; each returns (ttft_s, reply_s, new_tokens)."""
    results: list[tuple[float, float, int]] = []
    errors: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(sessions)

    def one(sid: int) -> None:
        gate.wait()
        try:
            result = reply(sid)
        except Exception as exc:  # reported, not hidden
            with lock:
                errors.append(f"session {sid}: {type(exc).__name__}: {exc}")
            return
        with lock:
            results.append(result)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(sessions)]
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    return {"sessions": sessions, "wall": wall, "results": results, "errors": errors}


def summarise(runs: list[dict]) -> dict:
    """Pool rounds of one arm: total tokens over total wall time; percentiles over replies."""
    results = [r for run in runs for r in run["results"]]
    wall = sum(run["wall"] for run in runs)
    ttft = [r[0] for r in results] or [float("nan")]
    total = [r[1] for r in results] or [float("nan")]
    return {
        "sessions": runs[0]["sessions"],
        "replies": len(results),
        "tokens": sum(r[2] for r in results),
        "tps": sum(r[2] for r in results) / wall if wall else 0.0,
        "ttft_p50": percentile(ttft, 50),
        "ttft_p95": percentile(ttft, 95),
        "reply_p95": percentile(total, 95),
        "errors": [e for run in runs for e in run["errors"]],
    }


def engine_reply(registry, model: str, new_tokens: int) -> Callable[[int], tuple]:
    from playground.chat import GenerationSettings, load_role, stream_chat

    settings = GenerationSettings(temperature=0.0, max_new_tokens=new_tokens)
    role = load_role(CHAT_ROLE)  # what the Chat tab sends: the role's system prompt too

    def reply(sid: int) -> tuple[float, float, int]:
        messages = role.messages([{"role": "user", "content": fresh_prompt()}])
        began = time.perf_counter()
        stream = stream_chat(registry, model, messages, settings, ignore_eos=True)
        first = None
        for _ in stream:
            first = first or time.perf_counter() - began
        if stream.info.path != "batched":
            raise RuntimeError(f"expected the batched path, got {stream.info.path!r}")
        return first or float("nan"), time.perf_counter() - began, stream.info.new_tokens

    return reply


def app_reply(url: str, model: str, new_tokens: int, sessions: int) -> Callable[[int], tuple]:
    """One ``gradio_client`` per session, connected before any measurement starts."""
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(sessions)]

    def reply(sid: int) -> tuple[float, float, int]:
        client = clients[sid]
        began = time.perf_counter()
        job = client.submit(
            message=fresh_prompt(), model=model, temperature=0.0,
            max_new_tokens=new_tokens, api_name="/chat",
        )  # fmt: skip
        first = first_text_seconds(job, began)
        final = job.result()  # raises what the call raised
        found = re.search(r"(\d+) tokens", str(final[3]))  # the stats line: "**model**: N tokens"
        tokens = int(found.group(1)) if found else 0
        return first or float("nan"), time.perf_counter() - began, tokens

    return reply


def first_text_seconds(job, began: float) -> float | None:
    """Seconds from ``began`` to the first update with reply text; returns once ``job`` is done.

    It looks at the job's outputs every ``CLIENT_POLL_SECONDS``: iterating the job
    instead would check every millisecond (``gradio_client``'s ``Job.__next__``),
    and 20 such loops take a quarter of a core from the server on this machine,
    where a browser elsewhere would take nothing.
    """
    first, seen = None, 0
    while True:
        done = job.done()  # read before the outputs: every output is in once it is done
        outputs = job.outputs()
        for output in outputs[seen:]:
            last = output[0][-1] if output[0] else {}
            if first is None and last.get("role") == "assistant" and last.get("content"):
                first = time.perf_counter() - began
        seen = len(outputs)
        if done:
            return first
        time.sleep(CLIENT_POLL_SECONDS)


_CLIENTS: dict = {}  # in the client process: the connected sessions, reused across rounds


def client_round(url: str, model: str, new_tokens: int, sessions: int, most: int) -> dict:
    """One round of ``sessions`` concurrent ``/chat`` calls, run in the client process."""
    if url not in _CLIENTS:
        _CLIENTS.clear()
        _CLIENTS[url] = app_reply(url, model, new_tokens, most)
    return run_concurrent(_CLIENTS[url], sessions)


class ClientProcess:
    """The app arm's ``gradio_client`` sessions, in a process of their own.

    Real users' clients are browsers elsewhere; here they share the machine's
    cores (which only costs the app arm), but not the server's interpreter, so
    their JSON handling does not hold the lock the server and decode loop need.
    """

    def __init__(self, url: str, model: str, new_tokens: int, most: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        spawn = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=spawn)
        self.args = (url, model, new_tokens)
        self.most = most
        self.run(1)  # connect every session and warm up, outside the measurement

    def run(self, sessions: int) -> dict:
        return self.pool.submit(client_round, *self.args, sessions, self.most).result()

    def close(self) -> None:
        self.pool.shutdown()


def plain_generate_tps(chat_model, new_tokens: int, batch: int = 1, repeats: int = 2) -> float:
    """Tokens/s of the bare ``model.generate`` on ``batch`` sequences at once (left-padded).

    The library baselines: one sequence for one session, and one padded batch of
    8 for 8 sessions that all arrive together (what static batching would do).
    """
    import torch

    from playground.chat import load_role
    from playground.cpu_linear import library_linear

    tok, role = chat_model.tokenizer, load_role(CHAT_ROLE)
    tok.padding_side = "left"
    times = []
    for _ in range(repeats):
        texts = [
            tok.apply_chat_template(
                role.messages([{"role": "user", "content": fresh_prompt()}]),
                tokenize=False,
                add_generation_prompt=True,
                enable_thinking=False,
            )  # fmt: skip
            for _ in range(batch)
        ]
        inputs = tok(texts, return_tensors="pt", add_special_tokens=False, padding=True)

        def generate(inputs=inputs) -> None:
            began = time.perf_counter()
            with torch.inference_mode():
                chat_model.model.generate(**inputs, max_new_tokens=new_tokens,
                                          min_new_tokens=new_tokens, do_sample=False,
                                          pad_token_id=tok.pad_token_id)  # fmt: skip
            times.append(time.perf_counter() - began)

        worker = threading.Thread(target=generate)  # a worker thread, as the service runs
        with library_linear(chat_model.model):  # the library's own call, not our CPU order
            worker.start()
            worker.join()
    return batch * new_tokens / statistics.median(times)


def launch_app(config: Path, data_dir: Path):
    """The app on 127.0.0.1 and a free port, in this process."""
    import socket

    import app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = app.build_app(app.parse_args(["--config", str(config), "--data-dir", str(data_dir)]))
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        i18n=demo.i18n_strings,
        **app.security_launch_kwargs(demo),
    )  # as app.main: each client its own identity
    return demo


def report(label: str, arm: dict) -> None:
    print(
        f"{label:>6} {arm['sessions']:>3} sessions: {arm['tps']:6.2f} tok/s aggregate, "
        f"TTFT p50 {arm['ttft_p50']:.2f} s p95 {arm['ttft_p95']:.2f} s, "
        f"reply p95 {arm['reply_p95']:.2f} s, {arm['tokens']} tokens in {arm['replies']} replies"
        + (f", {len(arm['errors'])} errors: {arm['errors'][:2]}" if arm["errors"] else ""),
        flush=True,
    )


def ratios(label: str, arms: dict[int, dict]) -> None:
    one = arms[min(arms)]
    for n, arm in sorted(arms.items()):
        if n == min(arms):
            continue
        print(
            f"{label:>6} {n} vs {one['sessions']} sessions: tokens/s x{arm['tps'] / one['tps']:.2f}, "
            f"p95 TTFT x{arm['ttft_p95'] / one['ttft_p95']:.2f}"
        )
    if 8 in arms and 1 in arms:
        tps, ttft = arms[8]["tps"] / arms[1]["tps"], arms[8]["ttft_p95"] / arms[1]["ttft_p95"]
        print(f"{label:>6} target 8 sessions >= 3.5x tokens/s: {'met' if tps >= 3.5 else 'MISSED'}; "
              f"p95 TTFT <= 3x: {'met' if ttft <= 3 else 'MISSED'}")  # fmt: skip


def measure(runs: dict[str, Callable[[int], dict]], sessions: list[int], rounds: int) -> dict:
    """Every arm at every session count, alternating within each round.

    Round by round each session count runs on the engine and then on the app,
    so background load on a shared CPU hits both arms alike. Returns
    ``{arm: {sessions: summary}}``.
    """
    done: dict[str, dict[int, list[dict]]] = {arm: {n: [] for n in sessions} for arm in runs}
    for _ in range(rounds):
        for n in sessions:
            for arm, run in runs.items():
                done[arm][n].append(run(n))
    return {arm: {n: summarise(r) for n, r in by_n.items()} for arm, by_n in done.items()}


def engine_arm(config: Path, sessions: list[int], new_tokens: int, contexts) -> tuple:
    """Load the model on a registry of its own; return the arm and the plain baselines."""
    from playground.config import load_config
    from playground.registry import Registry

    registry = Registry(load_config(config))
    contexts.callback(registry.unload_all)
    chat_model = registry.get("bench-chat")
    never_stop_early(chat_model)
    reply = engine_reply(registry, "bench-chat", new_tokens)
    reply(0)  # warm up (first request starts the decode loop) outside the measurement
    plain = {1: plain_generate_tps(chat_model, new_tokens)}
    if 8 in sessions:
        plain[8] = plain_generate_tps(chat_model, new_tokens, batch=8)
    return (lambda n: run_concurrent(reply, n)), plain


def compare_plain(engine: dict[int, dict], plain: dict[int, float]) -> None:
    """The service against the library's own call on the same model, same run."""
    one = engine[min(engine)]["tps"]
    print(f"plain model.generate, 1 sequence: {plain[1]:.2f} tok/s; engine "
          f"{min(engine)} session is x{one / plain[1]:.2f} of it")  # fmt: skip
    if 8 in plain and 8 in engine:
        print(f"plain model.generate, 8 sequences at once: {plain[8]:.2f} tok/s "
              f"(x{plain[8] / plain[1]:.2f} of one); engine 8 sessions is "
              f"x{engine[8]['tps'] / plain[8]:.2f} of it")  # fmt: skip


def app_arm(
    config: Path, data_dir: Path, sessions: list[int], new_tokens: int, contexts
) -> Callable:
    """Launch the app and connect the client sessions; return the arm."""
    demo = launch_app(config, data_dir)
    contexts.callback(demo.registry.unload_all)
    contexts.callback(demo.close)
    never_stop_early(demo.registry.get("bench-chat"))
    clients = ClientProcess(demo.local_url, "bench-chat", new_tokens, max(sessions))
    contexts.callback(clients.close)
    return clients.run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="8 new tokens, one round")
    p.add_argument("--tiny", action="store_true", help="the tiny test model (smoke run)")
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 8, 20])
    p.add_argument("--new-tokens", type=int, default=None, help="per reply (default 32; 8 quick)")
    p.add_argument("--rounds", type=int, default=None, help="default 2 (1 with --quick)")
    p.add_argument("--arms", nargs="+", choices=["engine", "app"], default=["engine", "app"])
    args = p.parse_args(argv)
    new_tokens = args.new_tokens or (8 if args.quick else 32)
    rounds = args.rounds or (1 if args.quick else 2)

    import contextlib

    import torch

    tmp = Path(tempfile.mkdtemp(prefix="load-bench-"))
    print("building the random model ...", flush=True)
    config = build_models(tmp, tiny=args.tiny)
    print(f"{'tiny' if args.tiny else 'Qwen2.5-0.5B-shaped'} model, {new_tokens} new tokens "
          f"per reply (EOS off), sessions {args.sessions}, {rounds} round(s); torch threads "
          f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs", flush=True)  # fmt: skip
    print(prompt_length(config), flush=True)
    with contextlib.ExitStack() as contexts:
        runs, plain = {}, {}
        if "engine" in args.arms:
            runs["engine"], plain = engine_arm(config, args.sessions, new_tokens, contexts)
        if "app" in args.arms:
            runs["app"] = app_arm(config, tmp / "data", args.sessions, new_tokens, contexts)
        results = measure(runs, args.sessions, rounds)
    failed = False
    for arm, by_sessions in results.items():
        for summary in by_sessions.values():
            report(arm, summary)
            failed |= bool(summary["errors"])
        if arm == "engine":
            compare_plain(by_sessions, plain)
        ratios(arm, by_sessions)
    if "engine" in results and "app" in results:
        for n in args.sessions:
            share = results["app"][n]["tps"] / results["engine"][n]["tps"]
            print(f"app vs engine at {n} sessions: tokens/s x{share:.2f} "
                  f"({'within' if share >= 0.8 else 'NOT within'} 20%)")  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
