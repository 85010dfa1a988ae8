"""The Chat tab's panels: each builds its components and returns them as a dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import gradio as gr

from playground.chat import GenerationSettings, Role
from playground.chat.reasoning import REASONING_TAGS
from playground.chat.roles import EDITABLE_FIELDS
from tabs.chat.roles import DEFAULT_ROLE, builder_values, greeting, role_choices
from tabs.common import AppContext

# The generation sliders, in the order the chat endpoints take them.
GENERATION_FIELDS = (
    "temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens", "seed",
)  # fmt: skip


class Ordered:
    """A panel whose components an event takes in a fixed order (``ORDER``: their names)."""

    ORDER: ClassVar[tuple[str, ...]] = ()

    def in_order(self) -> list[gr.components.Component]:
        return [getattr(self, name) for name in self.ORDER]


@dataclass
class ChatPanel:
    """Model and role pickers, the two conversations (B in compare mode) and their buttons."""

    model: gr.Dropdown
    role_pick: gr.Dropdown
    role_lang: gr.Radio
    compare: gr.Checkbox
    think: gr.Checkbox
    compare_row: gr.Row
    model_b: gr.Dropdown
    role_b: gr.Dropdown
    chatbot: gr.Chatbot
    chatbot_b: gr.Chatbot
    notice: gr.Markdown
    actions: gr.Row  # other tabs put their buttons here (Speak, Image from chat)
    message: gr.Textbox
    send: gr.Button
    stop: gr.Button
    regenerate: gr.Button
    edit_last: gr.Button
    clear: gr.Button


@dataclass
class GenerationPanel(Ordered):
    """The sampling sliders and the button that puts back the model's defaults."""

    ORDER = GENERATION_FIELDS  # the seed last

    temperature: gr.Slider
    top_p: gr.Slider
    top_k: gr.Slider
    repetition_penalty: gr.Slider
    max_new_tokens: gr.Slider
    seed: gr.Number
    reset: gr.Button


@dataclass
class RoleSections(Ordered):
    """One component per section of the role, as the builder shows them."""

    ORDER = EDITABLE_FIELDS

    name: gr.Textbox
    language: gr.Radio
    description: gr.Textbox
    role: gr.Textbox
    context: gr.Textbox
    task: gr.Textbox
    steps: gr.Textbox
    output_format: gr.Textbox
    examples: gr.Dataframe
    constraints: gr.Textbox
    delimiter: gr.Textbox
    first_message: gr.Textbox


@dataclass
class BuilderPanel:
    """The role builder: its sections, the assembled prompt, the role file buttons."""

    sections: RoleSections
    assembled: gr.Code
    state: gr.State  # the role in use (its dict), kept in step with the sections
    save: gr.Button
    export: gr.Button
    upload: gr.UploadButton
    delete: gr.Button
    card: gr.File


@dataclass
class PromptPanel:
    """The exact prompt text each model received (B in compare mode)."""

    prompt_a: gr.Code
    prompt_b: gr.Code


def chat_panel(ctx: AppContext, choices, first_model: str | None, role: Role) -> ChatPanel:
    def model_pick(key: str) -> gr.Dropdown:
        return gr.Dropdown(choices=choices, value=first_model, label=ctx.t(key), scale=3)

    def role_pick(key: str) -> gr.Dropdown:
        roles = role_choices(None, "en")
        return gr.Dropdown(choices=roles, value=DEFAULT_ROLE, label=ctx.t(key), scale=3)

    with gr.Row():
        model, picked = model_pick("chat.model"), role_pick("chat.role")
        role_lang = gr.Radio(["en", "zh"], value="en", label=ctx.t("chat.role_language"), scale=1)
        compare = gr.Checkbox(label=ctx.t("chat.compare"), value=False, scale=1)
        # Off by default: a thinking model answers much sooner without its reasoning.
        think = gr.Checkbox(label=ctx.t("chat.think"), value=False, scale=1)
    with gr.Row(visible=False) as compare_row:
        model_b, role_b = model_pick("chat.model_b"), role_pick("chat.role_b")
    with gr.Row():
        chatbot = gr.Chatbot(
            value=greeting(role), label="A", height=460, buttons=["copy", "copy_all"],
            reasoning_tags=REASONING_TAGS,
        )  # fmt: skip
        chatbot_b = gr.Chatbot(
            value=greeting(role), label="B", height=460, visible=False, buttons=["copy"],
            reasoning_tags=REASONING_TAGS,
        )  # fmt: skip
    notice = gr.Markdown("")
    with gr.Row() as actions:
        pass
    with gr.Row():
        message = gr.Textbox(
            placeholder=ctx.t("chat.placeholder"), show_label=False, lines=2, scale=5
        )
        send = gr.Button(ctx.t("chat.send"), variant="primary", scale=1)
    with gr.Row():
        stop = gr.Button(ctx.t("chat.stop"), variant="stop")
        buttons = [gr.Button(ctx.t(f"chat.{key}")) for key in ("regenerate", "edit_last", "clear")]
    regenerate, edit_last, clear = buttons
    return ChatPanel(
        model=model, role_pick=picked, role_lang=role_lang, compare=compare, think=think,
        compare_row=compare_row, model_b=model_b, role_b=role_b, chatbot=chatbot,
        chatbot_b=chatbot_b, notice=notice, actions=actions, message=message, send=send,
        stop=stop, regenerate=regenerate, edit_last=edit_last, clear=clear,
    )  # fmt: skip


def generation_panel(ctx: AppContext, defaults: GenerationSettings) -> GenerationPanel:
    with gr.Accordion(ctx.t("chat.generation"), open=False):
        gr.Markdown(ctx.t("chat.generation_help"))
        temperature = gr.Slider(
            0, 2, value=defaults.temperature, step=0.05, label=ctx.t("chat.temperature")
        )
        top_p = gr.Slider(0.05, 1, value=defaults.top_p, step=0.05, label=ctx.t("chat.top_p"))
        top_k = gr.Slider(0, 200, value=defaults.top_k, step=1, label=ctx.t("chat.top_k"))
        repetition_penalty = gr.Slider(
            0.8, 2, value=defaults.repetition_penalty, step=0.01,
            label=ctx.t("chat.repetition_penalty"),
        )  # fmt: skip
        max_new_tokens = gr.Slider(
            1, 4096, value=defaults.max_new_tokens, step=1, label=ctx.t("chat.max_new_tokens")
        )
        seed = gr.Number(value=None, precision=0, label=ctx.t("chat.seed"), minimum=0)
        reset = gr.Button(ctx.t("chat.reset_defaults"), size="sm")
    return GenerationPanel(
        temperature, top_p, top_k, repetition_penalty, max_new_tokens, seed, reset
    )


def role_sections(ctx: AppContext, values: dict) -> RoleSections:
    """The builder's section components, laid out in reading order."""

    def box(name: str, **options) -> gr.Textbox:
        return gr.Textbox(values[name], label=ctx.t(f"chat.f_{name}"), **options)

    with gr.Row():
        name = box("name", scale=2)
        language = gr.Radio(["en", "zh"], value=values["language"], label=ctx.t("chat.f_language"))
    description = box("description")
    role, context, task = box("role", lines=2), box("context", lines=2), box("task", lines=2)
    steps, output_format = box("steps", lines=3), box("output_format", lines=2)
    examples = gr.Dataframe(
        value=values["examples"], headers=["input", "output"], column_count=2, type="array",
        interactive=True, wrap=True, label=ctx.t("chat.f_examples"),
    )  # fmt: skip
    constraints = box("constraints", lines=2)
    with gr.Row():
        delimiter, first_message = box("delimiter"), box("first_message")
    return RoleSections(
        name=name, language=language, description=description, role=role, context=context,
        task=task, steps=steps, output_format=output_format, examples=examples,
        constraints=constraints, delimiter=delimiter, first_message=first_message,
    )  # fmt: skip


def builder_panel(ctx: AppContext, role: Role) -> BuilderPanel:
    values = dict(zip(EDITABLE_FIELDS, builder_values(role), strict=True))
    with gr.Accordion(ctx.t("chat.builder"), open=False):
        gr.Markdown(ctx.t("chat.builder_help"))
        sections = role_sections(ctx, values)
        assembled = gr.Code(
            role.system_prompt(), label=ctx.t("chat.assembled"), language="markdown",
            wrap_lines=True, interactive=False,
        )  # fmt: skip
        state = gr.State(role.to_dict())
        with gr.Row():
            save = gr.Button(ctx.t("chat.save_role"), variant="primary")
            export = gr.Button(ctx.t("chat.export_role"))
            upload = gr.UploadButton(
                ctx.t("chat.import_role"), file_types=[".json", ".png"], type="binary"
            )
            delete = gr.Button(ctx.t("chat.delete_role"), variant="stop")
        card = gr.File(label=ctx.t("chat.card_file"), visible=False, interactive=False)
    return BuilderPanel(sections, assembled, state, save, export, upload, delete, card)


def prompt_panel(ctx: AppContext) -> PromptPanel:
    with gr.Accordion(ctx.t("chat.prompt_sent"), open=False):
        gr.Markdown(ctx.t("chat.prompt_sent_help"))
        prompt_a = gr.Code(label="A", language=None, interactive=False, lines=8, wrap_lines=True)
        prompt_b = gr.Code(
            label="B", language=None, interactive=False, lines=8, visible=False, wrap_lines=True
        )
    return PromptPanel(prompt_a, prompt_b)
