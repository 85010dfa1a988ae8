"""The image engine's pure-Python parts: prompt weights, PNG parameters, the prompt assistant."""

from __future__ import annotations

import pytest

from playground.errors import InputError
from playground.image.assistant import parse_reply, suggest_prompt
from playground.image.params import ImageParams, format_parameters, parse_parameters
from playground.image.prompt_weights import is_weighted, parse_weights, plain_text, sections

# Golden cases: the AUTOMATIC1111 web UI gives exactly these fragments.
GOLDEN = [
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    (r"\(literal\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    (
        "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
        [
            ("a ", 1.0),
            ("house", 1.1 * 1.1 * 1.3),
            (" ", 1.1),
            ("on", 1.0),
            (" a ", 1.1),
            ("hill", 0.55),
            (", sun, ", 1.1),
            ("sky", 1.1**4),
            (".", 1.1),
        ],
    ),
    ("((word))", [("word", 1.21)]),
    ("[[word]]", [("word", 1 / 1.21)]),
    ("((a) b:1.5) c", [("a", 1.65), (" b", 1.5), (" c", 1.0)]),
    (r"\(not weighted\) \\ back", [("(not weighted) \\ back", 1.0)]),
    (r"(a \(b\):1.2)", [("a (b)", 1.2)]),
    ("ratio 16:9, (x:-0.5)", [("ratio 16:9, ", 1.0), ("x", -0.5)]),
    ("stray) bracket]", [("stray bracket", 1.0)]),
    ("", [("", 1.0)]),
    ("一只(猫:1.3)", [("一只", 1.0), ("猫", 1.3)]),
]


@pytest.mark.parametrize("prompt,expected", GOLDEN)
def test_weight_parser_golden(prompt, expected):
    got = parse_weights(prompt)
    assert [t for t, _ in got] == [t for t, _ in expected]
    assert [w for _, w in got] == pytest.approx([w for _, w in expected])


def test_break_splits_sections_and_plain_text_drops_syntax():
    assert sections("a (cat) BREAK (dog:1.4)") == [[("a ", 1.0), ("cat", 1.1)], [("dog", 1.4)]]
    assert plain_text("a (cat:1.2) [on] a hill BREAK sky") == "a cat on a hill sky"
    assert plain_text(r"\(literal\)") == "(literal)"
    assert not is_weighted("a cat, sunset: warm")
    assert is_weighted("a (cat)") and is_weighted(r"\(x\)") and is_weighted("a BREAK b")


def test_parameters_round_trip_with_awkward_values():
    params = ImageParams(
        prompt='a cat, "quoted", (sunset:1.2)\nsecond line 中文',
        negative_prompt="blurry, lowres\nwatermark",
        steps=7,
        sampler="DPM++ 2M Karras",
        guidance=6.5,
        seed=4294967295,
        width=640,
        height=384,
        model="sd-turbo",
        extra={"Memory savers": "attention_slicing, vae_tiling", "Note": 'a "b": c'},
    )
    text = format_parameters(params)
    assert text.splitlines()[-1].startswith("Steps: 7, Sampler: DPM++ 2M Karras, CFG scale: 6.5")
    assert "Negative prompt: blurry, lowres" in text
    assert parse_parameters(text) == params


def test_parse_automatic1111_infotext():
    text = (
        "masterpiece, 1girl\nNegative prompt: lowres\n"
        "Steps: 28, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 123, "
        "Size: 512x768, Model hash: abc123, Model: anything-v5, Version: v1.9.0"
    )
    params = parse_parameters(text)
    assert (params.prompt, params.negative_prompt) == ("masterpiece, 1girl", "lowres")
    assert (params.steps, params.sampler, params.guidance, params.seed) == (28, "Euler a", 7.0, 123)
    assert (params.width, params.height, params.model) == (512, 768, "anything-v5")
    assert params.extra["Model hash"] == "abc123"


def test_parameters_without_settings_line_is_a_clear_error():
    with pytest.raises(InputError, match="Steps"):
        parse_parameters("just a caption")


# ---------------------------------------------------------------- prompt assistant

REPLIES = [
    (
        "Prompt: masterpiece, a cat on a windowsill, sunset\nNegative Prompt: lowres, blurry",
        ("masterpiece, a cat on a windowsill, sunset", "lowres, blurry", True),
    ),
    ("**Prompt:** a cat\n**Negative Prompt:** ugly", ("a cat", "ugly", True)),
    ("```\nPrompt: a cat\nNegative prompt: ugly\n```", ("a cat", "ugly", True)),
    (
        "Sure!\nPrompt:\na dog,\nsnow\n\nNegative Prompt:\nbad hands",
        ("a dog, snow", "bad hands", True),
    ),
    ("提示词：一只猫，夕阳\n负面提示词：模糊", ("一只猫，夕阳", "模糊", True)),
    ("A lovely cat sitting in the sun.", ("A lovely cat sitting in the sun.", "", False)),
    ('"a cat in the rain"', ("a cat in the rain", "", False)),
]


@pytest.mark.parametrize("reply,expected", REPLIES)
def test_parse_assistant_reply(reply, expected):
    got = parse_reply(reply)
    assert (got.prompt, got.negative_prompt, got.followed_format) == expected


def test_suggest_prompt_sends_role_and_description():
    seen = []

    def complete(messages):
        seen.append(messages)
        return "Prompt: a red fox, snow\nNegative Prompt: blurry"

    got = suggest_prompt("一只在雪地里的红狐狸", complete, "SYSTEM")
    assert seen == [
        [
            {"role": "system", "content": "SYSTEM"},
            {"role": "user", "content": "一只在雪地里的红狐狸"},
        ]
    ]
    assert (got.prompt, got.negative_prompt, got.followed_format) == (
        "a red fox, snow",
        "blurry",
        True,
    )
    with pytest.raises(InputError, match="describe"):
        suggest_prompt("  ", complete)


def test_assistant_uses_the_chat_engine_and_the_sd_prompt_role(shared_registry, monkeypatch):
    """Through ``playground.chat``: the role's messages go to the chat model; a formatted reply
    fills both boxes."""
    from playground import chat
    from playground.image.assistant import assist

    sent = []

    def fake_complete(registry, model, messages, settings=None):
        sent.append((model, messages))
        return "Prompt: masterpiece, (orange cat:1.3), windowsill\nNegative Prompt: lowres, text"

    monkeypatch.setattr(chat, "complete", fake_complete)
    got = assist(shared_registry, "tiny-chat", "一只橘猫趴在窗台上")
    assert (got.prompt, got.negative_prompt, got.followed_format) == (
        "masterpiece, (orange cat:1.3), windowsill",
        "lowres, text",
        True,
    )
    model, messages = sent[0]
    assert model == "tiny-chat"
    assert messages[0]["role"] == "system"
    assert messages[0]["content"] == chat.load_role("sd-prompt").system_prompt()
    assert "一只橘猫趴在窗台上" in messages[-1]["content"]


def test_assistant_copes_with_the_tiny_chat_models_free_text(shared_registry):
    """The random tiny chat model ignores the format: its whole reply becomes the prompt."""
    import unicodedata

    from playground import chat
    from playground.image.assistant import assist

    settings = chat.GenerationSettings(max_new_tokens=12, seed=2, temperature=1.0)
    got = assist(shared_registry, "tiny-chat", "a cat on a windowsill", settings)
    assert got.raw.strip()
    assert got.followed_format is False
    assert got.prompt and got.negative_prompt == ""
    assert not any(unicodedata.category(c) == "Cc" for c in got.prompt)
