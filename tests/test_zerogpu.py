"""ZeroGPU: spaces.GPU wraps GPU-bound calls on ZeroGPU hardware only (fake `spaces` module)."""

from __future__ import annotations

import functools
import sys
import types
from dataclasses import dataclass

import gradio as gr
import pytest

from playground import zerogpu


class FakeSpaces(types.ModuleType):
    """Behaves like the `spaces` package: GPU(duration=...) wraps, and evaluates callables per call."""

    def __init__(self):
        super().__init__("spaces")
        self.requests: list[tuple[str, int]] = []
        self.auto_wrap_disabled = False

    def disable_gradio_auto_wrap(self):
        self.auto_wrap_disabled = True

    def GPU(self, fn=None, *, duration=60):  # noqa: N802 - the real name
        def decorate(func):
            import inspect

            def seconds(args, kwargs):
                return duration(*args, **kwargs) if callable(duration) else duration

            # like the real package, keep the signature (Gradio injects gr.Request by it)
            if inspect.isgeneratorfunction(func):

                @functools.wraps(func)
                def gen(*args, **kwargs):
                    self.requests.append((func.__name__, seconds(args, kwargs)))
                    yield from func(*args, **kwargs)

                return gen

            @functools.wraps(func)
            def call(*args, **kwargs):
                self.requests.append((func.__name__, seconds(args, kwargs)))
                return func(*args, **kwargs)

            return call

        return decorate(fn) if fn is not None else decorate


@pytest.fixture
def fake_spaces(monkeypatch):
    module = FakeSpaces()
    monkeypatch.setitem(sys.modules, "spaces", module)
    # find_spec needs a spec for a module already in sys.modules
    module.__spec__ = types.SimpleNamespace(
        name="spaces", loader=None, parent="", submodule_search_locations=None
    )
    return module


@pytest.fixture
def on_zero(monkeypatch, fake_spaces):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setattr(
        zerogpu.importlib.util, "find_spec", lambda name, *a: object() if name == "spaces" else None
    )
    return fake_spaces


def test_noop_off_zerogpu_even_with_spaces_installed(monkeypatch, fake_spaces):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)

    def generate(prompt):
        return prompt.upper()

    assert zerogpu.on_zerogpu() is False
    assert zerogpu.gpu(duration=30)(generate) is generate
    assert zerogpu.gpu(generate) is generate
    assert zerogpu.setup() is False
    assert zerogpu.training_allowed() is True
    zerogpu.check_training_allowed()
    assert fake_spaces.requests == []


def test_env_flag_without_spaces_package_is_not_zerogpu(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setattr(zerogpu.importlib.util, "find_spec", lambda name, *a: None)
    assert zerogpu.on_zerogpu() is False


def test_fixed_duration_wraps_with_spaces_gpu(on_zero):
    @zerogpu.gpu(duration=45)
    def embed(texts):
        return [len(t) for t in texts]

    assert zerogpu.on_zerogpu() and zerogpu.setup()
    assert on_zero.auto_wrap_disabled  # only model-bound events borrow a GPU
    assert embed(["ab", "c"]) == [2, 1]
    assert on_zero.requests == [("embed", 45)]
    assert embed.zerogpu_duration == 45


def test_bare_decorator_uses_default_duration(on_zero):
    @zerogpu.gpu
    def run():
        return "ok"

    assert run() == "ok"
    assert on_zero.requests == [("run", 60)]


@dataclass
class ImageSettings:
    steps: int = 4
    width: int = 512


def test_callable_duration_scales_with_steps_and_is_clamped(on_zero):
    @zerogpu.gpu(duration=zerogpu.by_steps(per_step=2.0, base=10))
    def generate(prompt, settings=None, steps=None):
        return prompt

    generate("a cat", steps=5)  # keyword
    generate("a cat", ImageSettings(steps=20))  # from a settings dataclass
    generate("a cat")  # default 30 steps
    generate("a cat", steps=1000)  # clamped to the maximum
    assert [s for _, s in on_zero.requests] == [20, 50, 70, zerogpu.MAX_DURATION]


def test_streaming_generator_is_wrapped_and_streams(on_zero):
    @zerogpu.gpu(duration=zerogpu.by_tokens(0.1, base=5))
    def stream(prompt, max_new_tokens=100):
        for i in range(3):
            yield prompt * (i + 1)

    assert list(stream("x", max_new_tokens=200)) == ["x", "xx", "xxx"]
    assert on_zero.requests == [("stream", 25)]


def test_callable_duration_from_text_length(on_zero):
    @zerogpu.gpu(duration=zerogpu.by_text_length(0.5, base=10))
    def speak(voice, text):
        return len(text)

    speak("narrator", "x" * 40)
    speak(voice="narrator", text="y" * 100)
    assert [s for _, s in on_zero.requests] == [30, 60]


def test_training_disabled_on_zerogpu_with_a_pointer(on_zero):
    assert zerogpu.training_allowed() is False
    with pytest.raises(zerogpu.TrainingDisabledError) as err:
        zerogpu.check_training_allowed()
    message = str(err.value)
    assert "ZeroGPU" in message and "own machine" in message
    assert "dedicated GPU" in message


def test_zerogpu_module_imports_nothing_heavy():
    import subprocess

    code = (
        "import sys, playground.zerogpu as z\n"
        "z.gpu(duration=10)(lambda: 1)\n"
        "print([m for m in ('spaces', 'torch', 'gradio') if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": "."},
    )
    assert out.stdout.strip() == "[]"


def test_heavy_gradio_events_are_wrapped_and_still_work(on_zero):
    """Real Gradio + gradio_client; only the fake `spaces` stands in for ZeroGPU."""
    from gradio_client import Client

    def make(prompt, steps, batch_count, request: gr.Request):
        """Pretend to make images."""
        for i in range(2):
            yield f"{prompt}:{int(steps)}x{int(batch_count)}:{i}:{bool(request.session_hash)}"

    def listing():
        return "light"

    def load(name):
        return f"loaded {name}"

    heavy = {"concurrency_id": "heavy", "concurrency_limit": 1}
    with gr.Blocks() as demo:
        prompt, steps, batch, out = gr.Textbox(), gr.Number(4), gr.Number(2), gr.Textbox()
        btn = gr.Button()
        btn.click(make, [prompt, steps, batch], out, api_name="image_generate", **heavy)
        prompt.submit(make, [prompt, steps, batch], out, api_visibility="private", **heavy)
        btn.click(listing, None, out, api_name="listing")
        btn.click(load, prompt, out, api_name="models_load", **heavy)
    wrapped = zerogpu.wrap_heavy_events(demo)
    assert wrapped == ["image_generate", "image_generate"]  # the button and its Enter twin
    demo.launch(prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        assert client.predict("cat", 5, 3, api_name="/image_generate") == "cat:5x3:1:True"
        assert client.predict(api_name="/listing") == "light"
        assert client.predict("m", api_name="/models_load") == "loaded m"
    finally:
        demo.close()
    # by_steps(1.0, base=15, times="batch_count"): 15 + 5 steps * 3 images
    assert on_zero.requests == [("make", 30)]


def test_app_on_zerogpu_wraps_every_model_bound_event(on_zero, tiny_models, tmp_path):
    import app

    demo = app.build_app(
        app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path)])
    )
    assert demo.settings.zerogpu and demo.settings.heavy_concurrency > 1
    assert on_zero.auto_wrap_disabled
    for block_fn in demo.fns.values():
        if block_fn.concurrency_id != "heavy":
            assert getattr(block_fn.fn, "zerogpu_duration", None) is None, block_fn.api_name
        elif block_fn.api_name not in zerogpu.NOT_ON_GPU:
            assert getattr(block_fn.fn, "zerogpu_duration", None) is not None, block_fn.api_name


def test_app_on_zerogpu_replaces_fine_tuning_with_the_reason(on_zero, tiny_models, tmp_path):
    import app

    demo = app.build_app(
        app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path)])
    )
    texts = [str(b.value) for b in demo.blocks.values() if isinstance(b, gr.Markdown)]
    assert any(zerogpu.TRAINING_DISABLED in t for t in texts)
    assert not any(f.api_name and f.api_name.startswith("finetune_") for f in demo.fns.values())
