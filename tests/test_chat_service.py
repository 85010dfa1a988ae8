"""Many users, one model: the continuous-batching chat service behind ``stream_chat``."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from playground.chat import GenerationSettings, stream_chat
from playground.chat.service import PAGE_SIZE, plan_kv_tokens, reserved_bytes
from playground.errors import PlaygroundError

PROMPTS = [f"user {i} asks about topic number {i * 7}" for i in range(8)]
GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=12)


@pytest.fixture(scope="module")
def varied_models(tmp_path_factory):
    """A tiny chat model whose greedy replies depend on the prompt.

    The default tiny model's small random weights answer every prompt with the
    same token, which could hide cross-talk; larger weights make replies differ.
    """
    from playground.testing.chat_lm import build_qwen2

    folder = tmp_path_factory.mktemp("varied-chat")
    source = build_qwen2(folder / "chat", initializer_range=0.6)
    entry = {"name": "varied", "task": "chat", "source": str(source),
             "options": {"context_window": 512, "kv_cache_tokens": 4096,
                         "prefix_cache": True}}  # fmt: skip
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump({"models": [entry]}))
    return path


@pytest.fixture
def varied(varied_models):
    from playground.config import load_config
    from playground.registry import Registry

    registry = Registry(load_config(varied_models))
    yield registry
    registry.unload_all()


def plain_generate_text(registry, prompt: str | list[dict], new_tokens: int) -> str:
    """The reply of the bare transformers call (to one message or a whole chat), for comparison."""
    import torch

    chat_model = registry.get("varied")
    tok = chat_model.tokenizer
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    # The same prompt the engine renders: thinking off (GenerationSettings' default).
    text = tok.apply_chat_template(messages, tokenize=False,
                                   add_generation_prompt=True, enable_thinking=False)  # fmt: skip
    inputs = tok(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = chat_model.model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False,
                                        pad_token_id=tok.pad_token_id)  # fmt: skip
    return tok.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def run_together(registry, prompts, settings, *, stop_first=False, **kwargs):
    """One stream per prompt, all in the same batch; returns the finished streams.

    The decode loop is paused until every request is submitted, so the replies
    overlap for certain. With ``stop_first`` the first reply's Stop is pressed
    as soon as its first text arrives, while the others are running.
    """
    service = registry.get("varied").service
    stops = [threading.Event() for _ in prompts]
    streams = [
        stream_chat(
            registry, "varied", [{"role": "user", "content": p}], settings, stop=s, **kwargs
        )
        for p, s in zip(prompts, stops)
    ]
    failures: list[BaseException] = []
    seen: list[list[str]] = [[] for _ in prompts]  # every text each stream showed

    def drain(index: int) -> None:
        try:
            for text in streams[index]:
                seen[index].append(text)
                if stop_first and index == 0:
                    stops[0].set()
        except BaseException as exc:  # handed to the test thread
            failures.append(exc)

    threads = [threading.Thread(target=drain, args=(i,), daemon=True) for i in range(len(streams))]
    with service.paused():
        for thread in threads:
            thread.start()
        for _ in range(2000):  # until every reply is queued (bounded; no time asserted)
            if service.active == len(prompts):
                break
            threading.Event().wait(0.01)
        assert service.active == len(prompts)
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a reply never finished"
    assert not failures, failures
    for stream, texts in zip(streams, seen):
        stream.seen = texts
    return streams


def test_greedy_alone_equals_plain_generate(varied):
    stream = stream_chat(varied, "varied", [{"role": "user", "content": PROMPTS[0]}], GREEDY)
    for _ in stream:
        pass
    assert stream.info.path == "batched"
    assert stream.text == plain_generate_text(varied, PROMPTS[0], GREEDY.max_new_tokens)
    assert stream.text  # the comparison is about real text


def test_a_chats_next_turn_reuses_the_cached_pages_and_still_equals_plain_generate(
    varied, monkeypatch
):
    """Prefix caching: the second turn re-sends the first, whose pages are in the cache."""
    from transformers.generation.continuous_batching.cache import PagedAttentionCache

    matched: list[int] = []
    original = PagedAttentionCache.search_prefix_match

    def recording(self, request_id, prompt_ids):
        matched.append(original(self, request_id, prompt_ids))
        return matched[-1]

    monkeypatch.setattr(PagedAttentionCache, "search_prefix_match", recording)
    chat = [{"role": "system", "content": "You answer questions about numbers. " * 4},
            {"role": "user", "content": PROMPTS[1]}]  # fmt: skip
    first = stream_chat(varied, "varied", chat, GREEDY)
    for _ in first:
        pass
    chat += [{"role": "assistant", "content": first.text}, {"role": "user", "content": PROMPTS[2]}]
    second = stream_chat(varied, "varied", chat, GREEDY)
    for _ in second:
        pass
    tok = varied.get("varied").tokenizer
    ids = [tok(s.info.prompt, add_special_tokens=False)["input_ids"] for s in (first, second)]
    shared = next(i for i, (a, b) in enumerate(zip(*ids)) if a != b)  # the turns' common start
    assert matched[0] == 0  # nothing cached yet
    assert matched[-1] == shared // PAGE_SIZE * PAGE_SIZE >= 4 * PAGE_SIZE  # every whole page
    assert second.info.path == "batched"
    assert second.text == plain_generate_text(varied, chat, GREEDY.max_new_tokens)
    assert second.text


def test_prefix_cache_is_off_unless_the_entry_opts_in(tiny_config):
    """A cache hit shows in the timing: strangers on one server must not share it."""
    from playground.registry import Registry

    registry = Registry(tiny_config)
    try:
        assert registry.get("tiny-chat").service.prefix_sharing is False
    finally:
        registry.unload_all()


def test_eight_concurrent_streams_each_get_their_own_reply(varied):
    expected = [plain_generate_text(varied, p, GREEDY.max_new_tokens) for p in PROMPTS]
    assert len(set(expected)) >= 4, "the model must answer prompts differently for this test"
    streams = run_together(varied, PROMPTS, GREEDY)
    assert [s.info.path for s in streams] == ["batched"] * 8
    assert [s.text for s in streams] == expected
    for stream, reply in zip(streams, expected):  # and nothing foreign on the way there
        assert all(reply.startswith(text) for text in stream.seen)


def test_stop_on_one_leaves_the_other_seven_to_the_end(varied):
    settings = GenerationSettings(temperature=0.7, max_new_tokens=24)
    first, *others = run_together(varied, PROMPTS, settings, stop_first=True, ignore_eos=True)
    assert first.info.finish_reason == "cancelled"
    assert first.info.new_tokens < settings.max_new_tokens
    assert [s.info.finish_reason for s in others] == ["length"] * 7
    assert [s.info.new_tokens for s in others] == [settings.max_new_tokens] * 7
    assert varied.get("varied").service.active == 0  # nothing left behind in the batch


def test_unload_while_serving_is_refused_and_the_stream_finishes(varied):
    settings = GenerationSettings(temperature=0.0, max_new_tokens=20)
    stream = stream_chat(varied, "varied", [{"role": "user", "content": PROMPTS[1]}], settings,
                         ignore_eos=True)  # fmt: skip
    next(stream)
    with pytest.raises(PlaygroundError, match="in use"):
        varied.unload("varied")
    for _ in stream:
        pass
    assert stream.info.new_tokens == 20 and stream.info.finish_reason == "length"
    service = varied.get("varied").service
    assert varied.unload("varied") is True
    assert service.active == 0 and service._manager is None  # loop stopped, cache dropped


def test_closing_the_service_mid_reply_lets_the_reply_finish(varied):
    """What the registry's close-on-unload hook does even for a forced unload."""
    chat_model = varied.get("varied")
    ids = chat_model.tokenizer("hello there")["input_ids"]
    request = chat_model.service.submit(ids, GREEDY, stop_at_eos=False)
    updates = request.stream()
    assert next(updates)
    chat_model.service.close()
    *_, last = updates
    assert len(last) == GREEDY.max_new_tokens
    with pytest.raises(PlaygroundError, match="unloaded"):
        chat_model.service.submit(ids, GREEDY)


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"seed": 3}, "fixed seed"), ({"repetition_penalty": 1.3}, "repetition penalty")],
)
def test_unbatchable_settings_take_plain_generate_and_say_so(varied, change, reason):
    from tabs.chat import stats_line

    settings = GenerationSettings(temperature=0.7, max_new_tokens=6, **change)
    stream = stream_chat(varied, "varied", [{"role": "user", "content": "hi"}], settings)
    for _ in stream:
        pass
    assert stream.info.path.startswith("plain generate") and reason in stream.info.path
    assert reason in stats_line(stream.info)


def test_kv_cache_is_counted_in_the_memory_budget(varied):
    from playground.device import module_bytes

    chat_model = varied.get("varied")
    row = next(r for r in varied.status() if r.name == "varied")
    assert chat_model.service.kv_tokens == 4096  # options.kv_cache_tokens
    assert row.memory_bytes == module_bytes(chat_model.model) + chat_model.service.kv_bytes
    assert chat_model.service.kv_bytes > 4096 * 2  # pages for every layer, K and V


def test_kv_cache_shrinks_to_the_budget_headroom():
    per_token, mask = 1024, 4
    assert plan_kv_tokens(8192, 10**12, per_token, mask) == 8192
    headroom = reserved_bytes(2048, per_token, mask)
    fitted = plan_kv_tokens(8192, headroom, per_token, mask)
    assert fitted == 2048 and reserved_bytes(fitted, per_token, mask) <= headroom
    assert plan_kv_tokens(8192, PAGE_SIZE * per_token, per_token, mask) == 0  # no room


def test_no_room_for_a_cache_means_plain_generate(varied_models):
    from playground.config import load_config
    from playground.registry import Registry

    config = load_config(varied_models)
    weights = sum(f.stat().st_size for f in Path(config.models[0].source).glob("*.safetensors"))
    registry = Registry(config, budget_bytes=weights + 64 * 1024)  # the weights fit, a cache not
    stream = stream_chat(registry, "varied", [{"role": "user", "content": "hi"}], GREEDY)
    for _ in stream:
        pass
    assert registry.get("varied").service is None
    assert stream.info.path == "plain generate: no room for a KV cache in the memory budget"
    registry.unload_all()


def test_cheaper_top_k_and_top_p_match_the_librarys_exactly():
    """The swapped-in warpers (playground.chat.cb_processors) give the library's masks."""
    import torch
    from transformers.generation.continuous_batching import cb_logits_processors as cb
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    from playground.chat.cb_processors import _classes

    fast_k, fast_p = _classes()
    torch.manual_seed(0)
    vocab = 3000
    scores = torch.randn(8, vocab) * 3
    scores[3, :10] = scores[3, 10]  # ties at the threshold
    top_k = torch.tensor([1, 50, vocab, 20, 1, vocab, 7, 3], dtype=torch.int32)
    top_p = torch.tensor([1.0, 0.9, 0.8, 1.0, 1.0, 0.95, 0.5, 0.3]).view(torch.int32)
    lib_k = cb.ContinuousBatchingTopKLogitsWarper(TopKLogitsWarper(50))
    lib_p = cb.ContinuousBatchingTopPLogitsWarper(TopPLogitsWarper(0.9))
    ours_k, ours_p = fast_k(TopKLogitsWarper(50)), fast_p(TopPLogitsWarper(0.9))
    expected = lib_p(lib_k(scores, top_k), top_p)
    assert torch.equal(ours_p(ours_k(scores, top_k), top_p), expected)
    greedy_k = torch.ones(8, dtype=torch.int32)
    no_p = torch.ones(8).view(torch.int32)
    assert torch.equal(ours_p(ours_k(scores, greedy_k), no_p), lib_p(lib_k(scores, greedy_k), no_p))


def test_kv_cache_room_counts_only_the_models_own_device():
    """The KV cache's room is the device's budget less what is loaded on that same device."""
    from playground.loaders.chat_lm import kv_headroom
    from playground.registry import LoadContext

    class TwoDevices:
        def budget_bytes(self, device):
            return 1000

        def used_bytes(self, device=None):
            # 100 on cuda:0, 800 more on the CPU: 900 on every device together.
            return {None: 900, "cuda:0": 100, "cpu": 800}[device]

    ctx = LoadContext(device="cuda:0", dtype="auto", base_dir=None, registry=TwoDevices())
    assert kv_headroom(ctx, model_bytes=50) == 850


def test_the_batching_loop_runs_attention_one_request_at_a_time(varied, monkeypatch):
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    from playground.chat import batch_attention

    blocks = []
    real_block = batch_attention._block

    def counted(*args):
        blocks.append(args[0].shape[2])
        return real_block(*args)

    monkeypatch.setattr(batch_attention, "_block", counted)
    streams = run_together(varied, PROMPTS[:2], GREEDY)
    assert [s.info.path for s in streams] == ["batched"] * 2
    assert ALL_ATTENTION_FUNCTIONS["sdpa"] is batch_attention.per_request_sdpa
    assert blocks and 1 in blocks and max(blocks) > 1  # prefill blocks, then decoding rows
