"""The Validate / Start form: one definition of the parameters, read into one value."""

from __future__ import annotations

import inspect

import gradio as gr

from playground.finetune.dataset import ColumnMap
from tabs.common import bind
from tabs.finetune import handlers
from tabs.finetune.form import FORM_PARAMETERS, read_form


def test_read_form_gives_one_column_map_and_one_settings_value():
    form = read_form("tiny-chat", "data.csv", None, "q", "", "a", None, False, 0.1, 16,
                     None, "", 1e-4, None, 20, 2, 1, None, 7, "bf16", True, None)  # fmt: skip
    assert form.base == "tiny-chat" and form.dataset == "data.csv" and form.format == "auto"
    assert form.columns == ColumnMap(instruction="q", input=None, output="a", system=None)
    assert form.settings.overrides() == {
        "rank": 16,
        "learning_rate": 1e-4,
        "max_steps": 20,
        "batch_size": 2,
        "grad_accum": 1,
        "seed": 7,
        "val_ratio": 0.0,
        "mix_general": 0.1,
        "precision": "bf16",
        "gradient_checkpointing": True,
        "qlora": False,
    }


def test_left_out_settings_are_the_defaults():
    overrides = read_form("tiny-chat", "data.jsonl").settings.overrides()
    assert overrides == {
        "mix_general": 0.0,
        "precision": "auto",
        "gradient_checkpointing": False,
        "qlora": False,
    }  # val_split left out: the default split, not none


def test_validate_and_start_show_the_form_parameters_and_their_own():
    names = [p.name for p in FORM_PARAMETERS]
    validate = inspect.signature(bind(handlers.validate, None)).parameters
    start = inspect.signature(bind(handlers.start, None)).parameters
    assert list(validate) == names
    assert list(start) == [*names, "name", "client_id", "request"]
    assert [p.default for p in validate.values()] == [p.default for p in FORM_PARAMETERS]
    # Gradio fills in the request (who is asking) only when it can read its type hint.
    hints = gr.utils.get_type_hints(bind(handlers.start, None))
    assert hints["request"] is gr.Request


def test_the_docstring_lists_every_parameter():
    for handler in (handlers.validate, handlers.start):
        _, args, _ = gr.utils.get_function_description(bind(handler, None))
        assert {p.name for p in FORM_PARAMETERS} <= set(args)
        assert "{settings}" not in handler.__doc__
