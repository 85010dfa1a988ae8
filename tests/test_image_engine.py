"""The image engine on the tiny Stable Diffusion pipeline: seeds, sizes, weights, cancel, files."""

from __future__ import annotations

import functools
import threading

import numpy as np
import pytest

from playground.errors import ConfigError, InputError
from playground.image import (
    ImageRequest,
    generate,
    generate_stream,
    list_history,
    read_parameters,
)
from playground.image.engine import ImageResult, StepProgress
from playground.image.params import ImageParams

MODEL = "tiny-image"


def pixels(result: ImageResult, index: int = 0) -> np.ndarray:
    return np.asarray(result.images[index].image)


def make(registry, **kw) -> ImageResult:
    kw.setdefault("prompt", "a cat sitting on the windowsill, sunset")
    return generate(registry, ImageRequest(model=MODEL, **kw))


def test_same_seed_same_pixels_different_seed_different(shared_registry):
    a = make(shared_registry, seed=42)
    b = make(shared_registry, seed=42)
    c = make(shared_registry, seed=43)
    assert a.seeds == [42] and c.seeds == [43]
    assert pixels(a).shape == (64, 64, 3)
    assert np.array_equal(pixels(a), pixels(b))
    assert not np.array_equal(pixels(a), pixels(c))


def test_random_seed_is_reported_and_batch_uses_consecutive_seeds(shared_registry):
    result = make(shared_registry, seed=None, batch_count=3)
    first = result.seeds[0]
    assert 0 <= first < 2**32
    assert result.seeds == [(first + i) % 2**32 for i in range(3)]
    again = make(shared_registry, seed=result.seeds[2])
    assert np.array_equal(pixels(result, 2), pixels(again))


def test_engine_matches_the_plain_diffusers_call(shared_registry):
    import torch

    result = make(shared_registry, seed=7, steps=3, guidance=4.0, negative_prompt="blurry")
    pipe = shared_registry.get(MODEL).pipe
    plain = pipe(
        "a cat sitting on the windowsill, sunset",
        negative_prompt="blurry",
        num_inference_steps=3,
        guidance_scale=4.0,
        width=64,
        height=64,
        generator=torch.Generator("cpu").manual_seed(7),
    ).images[0]
    assert np.array_equal(pixels(result), np.asarray(plain))


def test_png_parameters_round_trip_and_reproduce(shared_registry, tmp_path):
    result = generate(
        shared_registry,
        ImageRequest(
            model=MODEL,
            prompt="a (cat:1.3), [dog], 中文",
            negative_prompt="lowres, blurry",
            seed=11,
            steps=3,
            guidance=6.0,
            scheduler="Euler a",
        ),
        out_dir=tmp_path,
    )
    item = result.images[0]
    assert item.path is not None and item.path.parent == tmp_path
    params = read_parameters(item.path)
    assert params == item.params
    assert params == ImageParams(
        prompt="a (cat:1.3), [dog], 中文",
        negative_prompt="lowres, blurry",
        steps=3,
        sampler="Euler a",
        guidance=6.0,
        seed=11,
        width=64,
        height=64,
        model=MODEL,
    )
    again = make(
        shared_registry,
        prompt=params.prompt,
        negative_prompt=params.negative_prompt,
        steps=params.steps,
        guidance=params.guidance,
        scheduler=params.sampler,
        seed=params.seed,
        width=params.width,
        height=params.height,
    )
    assert np.array_equal(pixels(result), pixels(again))
    history = list_history(tmp_path)
    assert [h.path for h in history] == [item.path]
    assert "seed 11" in history[0].caption


def test_prompt_weights_change_the_image_and_long_prompts_are_chunked(shared_registry):
    plain = make(shared_registry, prompt="a cat, sunset", seed=5, steps=2)
    weighted = make(shared_registry, prompt="a (cat:1.6), [sunset]", seed=5, steps=2)
    assert weighted.notes == []
    assert not np.array_equal(pixels(plain), pixels(weighted))
    long_prompt = ", ".join(["a red cat on a blue hill"] * 12)
    result = make(shared_registry, prompt=long_prompt, seed=5, steps=2)
    assert any("chunks" in note for note in result.notes)
    truncated = make(shared_registry, prompt="a red cat on a blue hill", seed=5, steps=2)
    assert not np.array_equal(pixels(result), pixels(truncated))


def test_weighted_embeddings_are_longer_than_77_for_long_prompts(shared_registry):
    from playground.image.embeddings import condition

    pipe = shared_registry.get(MODEL).pipe
    long_prompt = " ".join(["sunset"] * 100)
    cond = condition(pipe, long_prompt, "blurry")
    assert cond.kwargs["prompt_embeds"].shape[1] == 154
    assert cond.kwargs["negative_prompt_embeds"].shape == cond.kwargs["prompt_embeds"].shape
    short = condition(pipe, "a cat", "")
    assert short.kwargs == {"prompt": "a cat", "negative_prompt": None}


def test_pipelines_without_weight_support_get_plain_text_and_a_note():
    from playground.image.embeddings import condition

    class OtherPipe:  # no tokenizer/text_encoder pair, no prompt_embeds argument
        def __call__(self, prompt=None, width=None):
            return None

    cond = condition(OtherPipe(), "a (cat:1.4) [dog]", "(blurry)")
    assert cond.kwargs == {"prompt": "a cat dog", "negative_prompt": "blurry"}
    assert any("does not support prompt weights" in note for note in cond.notes)


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"width": 100}, "multiple of 8"),
        ({"height": 30}, "from 64 to 2048"),
        ({"steps": 0}, "steps must be"),
        ({"guidance": -1.0}, "guidance"),
        ({"scheduler": "Warp Drive"}, "unknown scheduler 'Warp Drive'"),
        ({"scheduler": "Flow Euler"}, "does not work with tiny-image"),
        ({"seed": 2**33}, "seed must be"),
        ({"batch_count": 0}, "batch count"),
        ({"prompt": "   "}, "prompt is empty"),
    ],
)
def test_bad_requests_are_clear_errors(shared_registry, kw, message):
    with pytest.raises(InputError, match=message):
        make(shared_registry, **kw)


def test_every_listed_scheduler_runs(shared_registry):
    from playground.image import schedulers

    pipe = shared_registry.get(MODEL).pipe
    names = schedulers.choices(pipe)
    assert {"default", "Euler", "Euler a", "DPM++ 2M Karras", "DDIM", "UniPC"} <= set(names)
    assert "Flow Euler" not in names
    for name in ["Euler a", "DPM++ 2M Karras", "DDIM"]:
        result = make(shared_registry, scheduler=name, steps=2, seed=1)
        assert result.images[0].params.sampler == name
    assert schedulers.name_of(pipe.scheduler) == "Euler"  # the model's own is restored


def test_cancel_stops_between_steps_and_keeps_finished_images(shared_registry):
    cancel = threading.Event()
    seen: list[tuple[int, int]] = []

    def on_progress(p: StepProgress) -> None:
        seen.append((p.image_index, p.step))
        if p.image_index == 1 and p.step == 2:
            cancel.set()

    result = generate(
        shared_registry,
        ImageRequest(model=MODEL, prompt="a cat", steps=6, batch_count=3, seed=1),
        on_progress=on_progress,
        cancel=cancel,
    )
    assert result.cancelled
    assert len(result.images) == 1
    assert seen == [(0, s) for s in range(1, 7)] + [(1, 1), (1, 2)]
    assert "step 2 of 6" in result.notes[-1]


def test_stream_yields_progress_previews_then_the_result(shared_registry, tmp_path):
    events = list(
        generate_stream(
            shared_registry,
            ImageRequest(model=MODEL, prompt="a cat", steps=4, seed=3),
            out_dir=tmp_path,
            preview_every=1,
        )
    )
    steps = [e for e in events if isinstance(e, StepProgress)]
    assert [e.step for e in steps] == [1, 2, 3, 4]
    assert steps[0].preview is not None and steps[-1].preview is None
    assert steps[-1].fraction == 1.0
    assert isinstance(events[-1], ImageResult) and events[-1].images[0].path.exists()


def test_closing_the_stream_cancels_the_run(shared_registry):
    stream = generate_stream(
        shared_registry, ImageRequest(model=MODEL, prompt="a cat", steps=40, seed=3)
    )
    first = next(stream)
    assert isinstance(first, StepProgress) and first.step == 1
    stream.close()
    # The pipeline is free again quickly: a new generation does not wait for 40 steps.
    model = shared_registry.get(MODEL)
    assert model.lock.acquire(timeout=30)
    model.lock.release()


def test_memory_savers_are_chosen_from_free_gpu_memory(shared_registry):
    from playground.config import ModelEntry
    from playground.loaders.text_to_image import choose_memory_savers

    entry = shared_registry.entry(MODEL)
    pipe = shared_registry.get(MODEL).pipe
    assert choose_memory_savers(entry, pipe, "cpu") == []
    assert choose_memory_savers(entry, pipe, "cuda", free_bytes=int(40e9)) == []
    assert choose_memory_savers(entry, pipe, "cuda", free_bytes=int(2e9)) == [
        "attention_slicing",
        "vae_tiling",
    ]
    assert choose_memory_savers(entry, pipe, "cuda", free_bytes=int(0.5e9)) == [
        "cpu_offload",
        "vae_tiling",
    ]
    fixed = ModelEntry(
        name="x", task="text-to-image", source="a/b", options={"memory_savers": ["vae_tiling"]}
    )
    assert choose_memory_savers(fixed, pipe, "cuda", free_bytes=0) == ["vae_tiling"]
    bad = ModelEntry(
        name="x", task="text-to-image", source="a/b", options={"memory_savers": "turbo"}
    )
    with pytest.raises(ConfigError, match="memory_savers"):
        choose_memory_savers(bad, pipe, "cuda")


def test_room_on_a_gpu_counts_only_that_gpus_models(monkeypatch):
    """The room left is this device's budget minus what is loaded on this device."""
    import torch

    from playground.loaders.text_to_image import _room
    from playground.registry import LoadContext

    class TwoDevices:
        def budget_bytes(self, device):
            return 1000

        def used_bytes(self, device=None):
            # 100 on cuda:0, 800 more on the CPU: 900 on every device together.
            return {None: 900, "cuda:0": 100, "cpu": 800}[device]

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (10**6, 10**6))
    ctx = LoadContext(device="cuda:0", dtype="auto", base_dir=None, registry=TwoDevices())
    assert _room(ctx) == 900


def test_safety_checker_flag_is_reported(shared_registry, monkeypatch):
    model = shared_registry.get(MODEL)
    original = type(model.pipe).__call__

    @functools.wraps(original)
    def flagged_call(self, *args, **kwargs):
        output = original(self, *args, **kwargs)
        output.nsfw_content_detected = [True]
        return output

    monkeypatch.setattr(type(model.pipe), "__call__", flagged_call)
    result = make(shared_registry, seed=1)
    assert result.images[0].flagged
    assert any("safety checker" in note for note in result.notes)


def test_time_estimate_after_first_image(shared_registry):
    from playground.image import describe_estimate

    make(shared_registry, seed=1)
    text = describe_estimate(
        shared_registry, ImageRequest(model=MODEL, prompt="x", steps=4, width=64, height=64)
    )
    assert text is not None and "about" in text and "CPU" in text


def test_scheduler_choices_read_from_the_model_files_without_loading(registry):
    from playground.config import ModelEntry
    from playground.image import schedulers

    names = schedulers.choices_for_entry(registry.entry(MODEL), registry.config.base_dir)
    assert {"default", "Euler", "Euler a", "DDIM"} <= set(names) and "Flow Euler" not in names
    assert not registry.is_loaded(MODEL)
    missing = ModelEntry(name="x", task="text-to-image", source="nobody/not-cached-model")
    assert schedulers.choices_for_entry(missing) == schedulers.all_names()


def test_cpu_estimate_before_the_model_is_loaded(registry):
    from playground.image import describe_estimate

    text = describe_estimate(registry, ImageRequest(model=MODEL, prompt="x"))
    assert text is not None and "CPU" in text and "time left" in text


def test_bad_size_is_caught_before_loading(registry):
    with pytest.raises(InputError, match="multiple of 8"):
        make(registry, width=100)
    assert not registry.is_loaded(MODEL)
