"""The Chat tab: talk to a role on any chat model, build roles, compare two models.

UI only: every reply comes from ``playground.chat`` (which never imports
gradio). The role builder's sections are the source of truth for the role in
use, so an edit changes the very next reply -- the point of the tab is to see
how each part of a prompt changes the answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from playground.chat import (
    GenerationSettings,
    Role,
    delete_user_role,
    export_card_json,
    import_card,
    list_roles,
    load_role,
    merge_streams,
    save_user_role,
    stream_chat,
)
from playground.chat.messages import message_text, plain_history
from playground.chat.reasoning import REASONING_TAGS
from playground.chat.roles import EDITABLE_FIELDS as BUILDER_FIELDS
from playground.chat.roles import slugify
from playground.errors import InputError
from playground.storage import atomic_write_text, user_dir
from playground.users import visible_entry
from tabs.common import AppContext, StopFlags, owner_of, session_key, ui_errors
from tabs.identity import current_user

DEFAULT_ROLE = "assistant"
USER_PREFIX = "user:"
GEN_FIELDS = ("temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens", "seed")
# A Stop press must reach the running reply: one stop event per browser session.
_STOPS = StopFlags()


# ------------------------------------------------------------------ plain helpers


def model_choices(registry, owner: str | None = None) -> list[tuple[str, str]]:
    """Chat models, each followed by its fine-tuned LoRA adapters, then endpoints.

    Adapters a user trained are offered to that ``owner`` only.
    """
    entries = [e for e in registry.entries("chat", "endpoint") if e.visible_to(owner)]
    adapters = [e for e in entries if e.task == "chat" and e.base]
    choices = []
    for entry in entries:
        if entry.task != "chat" or entry.base:
            continue
        choices.append((entry.display, entry.name))
        for adapter in adapters:
            if adapter.base == entry.name:
                choices.append((f"  ↳ {adapter.display} (LoRA on {entry.name})", adapter.name))
    listed = {value for _, value in choices}
    for adapter in adapters:  # an adapter whose base is not a configured chat model
        if adapter.name not in listed:
            choices.append((f"{adapter.display} (LoRA on {adapter.base})", adapter.name))
    for entry in entries:
        if entry.task == "endpoint" and entry.serves == "chat":
            choices.append((f"{entry.display} (endpoint)", entry.name))
    return choices


def greeting(role: Role) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": role.first_message}] if role.first_message else []


def role_from_builder(values: dict[str, Any]) -> Role:
    """The role the builder's sections describe (``InputError`` if unusable)."""
    data = dict(values)
    data["examples"] = [
        {"input": str(row[0] or ""), "output": str(row[1] or "")}
        for row in (data.get("examples") or [])
        if len(row) >= 2 and (str(row[0] or "").strip() or str(row[1] or "").strip())
    ]
    data["name"] = (data.get("name") or "").strip() or "Untitled role"
    data["id"] = slugify(data["name"])
    return Role.from_dict(data, where="role builder")


def builder_values(role: Role) -> list[Any]:
    """Component values for the builder, in ``BUILDER_FIELDS`` order."""
    values = {
        **role.to_dict(),
        "steps": "\n".join(role.steps),
        "constraints": "\n".join(role.constraints),
        "examples": [[e.input, e.output] for e in role.examples] or [["", ""]],
    }
    return [values[name] for name in BUILDER_FIELDS]


def settings_from(values: dict[str, Any]) -> GenerationSettings:
    seed = values.get("seed")
    seed = None if seed in (None, "", -1) else int(seed)
    return GenerationSettings(
        temperature=float(values["temperature"]),
        top_p=float(values["top_p"]),
        top_k=int(values["top_k"]),
        repetition_penalty=float(values["repetition_penalty"]),
        max_new_tokens=int(values["max_new_tokens"]),
        seed=seed,
        enable_thinking=bool(values.get("think")),
    ).validated()


def stats_line(info) -> str:
    parts = [f"**{info.model}**: {info.new_tokens} tokens"]
    if info.seconds:
        parts.append(f"{info.tokens_per_second:.1f} tokens/s")
    if info.first_token_seconds is not None:
        parts.append(f"first token {info.first_token_seconds:.2f} s")
    if info.finish_reason == "cancelled":
        parts.append("stopped")
    elif info.finish_reason == "length":
        parts.append("cut at max new tokens")
    if getattr(info, "path", ""):  # batched with other users, or plain generate and why
        parts.append(info.path)
    line = " · ".join(parts)
    if info.dropped:
        line += (
            f"\n\n⚠️ {info.dropped} oldest message(s) were left out to fit the "
            f"{info.context_window}-token context window (the system prompt is kept)."
        )
    return line


# ------------------------------------------------------------------ the tab


def build(ctx: AppContext) -> None:
    registry = ctx.registry
    choices = model_choices(registry)
    first_model = choices[0][1] if choices else None
    default_role = load_role(DEFAULT_ROLE)
    defaults = (
        GenerationSettings.for_model(registry, first_model) if first_model else GenerationSettings()
    )

    gr.Markdown(ctx.t("chat.intro"))
    with gr.Row():
        with gr.Column(scale=3):
            c = _chat_panel(ctx, choices, first_model, default_role)
        with gr.Column(scale=2):
            g = _generation_panel(ctx, defaults)
            b = _builder_panel(ctx, default_role)
            with gr.Accordion(ctx.t("chat.prompt_sent"), open=False):
                gr.Markdown(ctx.t("chat.prompt_sent_help"))
                prompt_a = gr.Code(
                    label="A", language=None, interactive=False, lines=8, wrap_lines=True
                )
                prompt_b = gr.Code(
                    label="B",
                    language=None,
                    interactive=False,
                    lines=8,
                    visible=False,
                    wrap_lines=True,
                )

    ctx.shared.update(
        {
            "chat.model": c["model"],
            "chat.model_b": c["model_b"],
            "chat.compare": c["compare"],
            "chat.chatbot": c["chatbot"],
            "chat.actions": c["actions"],
            "chat.refresh_models": lambda owner=None: refresh_models(registry, owner),
            "chat.role_state": b["state"],
        }
    )
    _wire_roles(ctx, c, b)
    _wire_chat(ctx, c, g, b, prompt_a, prompt_b)
    from tabs import agents  # the Agents panel: its own module, shown in this tab

    agents.build(ctx)


def refresh_models(registry, owner: str | None = None) -> tuple[gr.Dropdown, gr.Dropdown]:
    """Updated choices for the A and B model dropdowns (after a fine-tune, say)."""
    choices = model_choices(registry, owner)
    return gr.Dropdown(choices=choices), gr.Dropdown(choices=choices)


def _chat_panel(ctx: AppContext, choices, first_model, role: Role) -> dict[str, Any]:
    c: dict[str, Any] = {}
    with gr.Row():
        c["model"] = gr.Dropdown(
            choices=choices, value=first_model, label=ctx.t("chat.model"), scale=3
        )
        c["role_pick"] = gr.Dropdown(
            choices=_role_choices(ctx, None, "en"),
            value=DEFAULT_ROLE,
            label=ctx.t("chat.role"),
            scale=3,
        )
        c["role_lang"] = gr.Radio(
            ["en", "zh"], value="en", label=ctx.t("chat.role_language"), scale=1
        )
        c["compare"] = gr.Checkbox(label=ctx.t("chat.compare"), value=False, scale=1)
        # Off by default: a thinking model answers much sooner without its reasoning.
        c["think"] = gr.Checkbox(label=ctx.t("chat.think"), value=False, scale=1)
    with gr.Row(visible=False) as c["compare_row"]:
        c["model_b"] = gr.Dropdown(
            choices=choices, value=first_model, label=ctx.t("chat.model_b"), scale=3
        )
        c["role_b"] = gr.Dropdown(
            choices=_role_choices(ctx, None, "en"),
            value=DEFAULT_ROLE,
            label=ctx.t("chat.role_b"),
            scale=3,
        )
    with gr.Row():
        c["chatbot"] = gr.Chatbot(
            value=greeting(role), label="A", height=460, buttons=["copy", "copy_all"],
            reasoning_tags=REASONING_TAGS,
        )  # fmt: skip
        c["chatbot_b"] = gr.Chatbot(
            value=greeting(role), label="B", height=460, visible=False, buttons=["copy"],
            reasoning_tags=REASONING_TAGS,
        )  # fmt: skip
    c["notice"] = gr.Markdown("")
    with gr.Row() as c["actions"]:
        pass
    with gr.Row():
        c["message"] = gr.Textbox(
            placeholder=ctx.t("chat.placeholder"), show_label=False, lines=2, scale=5
        )
        c["send"] = gr.Button(ctx.t("chat.send"), variant="primary", scale=1)
    with gr.Row():
        c["stop"] = gr.Button(ctx.t("chat.stop"), variant="stop")
        c["regenerate"] = gr.Button(ctx.t("chat.regenerate"))
        c["edit_last"] = gr.Button(ctx.t("chat.edit_last"))
        c["clear"] = gr.Button(ctx.t("chat.clear"))
    return c


def _generation_panel(ctx: AppContext, s: GenerationSettings) -> dict[str, Any]:
    g: dict[str, Any] = {}
    with gr.Accordion(ctx.t("chat.generation"), open=False):
        gr.Markdown(ctx.t("chat.generation_help"))
        g["temperature"] = gr.Slider(
            0, 2, value=s.temperature, step=0.05, label=ctx.t("chat.temperature")
        )
        g["top_p"] = gr.Slider(0.05, 1, value=s.top_p, step=0.05, label=ctx.t("chat.top_p"))
        g["top_k"] = gr.Slider(0, 200, value=s.top_k, step=1, label=ctx.t("chat.top_k"))
        g["repetition_penalty"] = gr.Slider(
            0.8, 2, value=s.repetition_penalty, step=0.01, label=ctx.t("chat.repetition_penalty")
        )
        g["max_new_tokens"] = gr.Slider(
            1, 4096, value=s.max_new_tokens, step=1, label=ctx.t("chat.max_new_tokens")
        )
        g["seed"] = gr.Number(value=None, precision=0, label=ctx.t("chat.seed"), minimum=0)
        g["reset"] = gr.Button(ctx.t("chat.reset_defaults"), size="sm")
    return g


def _builder_panel(ctx: AppContext, role: Role) -> dict[str, Any]:
    b: dict[str, Any] = {}
    values = dict(zip(BUILDER_FIELDS, builder_values(role), strict=True))
    with gr.Accordion(ctx.t("chat.builder"), open=False):
        gr.Markdown(ctx.t("chat.builder_help"))
        with gr.Row():
            b["name"] = gr.Textbox(values["name"], label=ctx.t("chat.f_name"), scale=2)
            b["language"] = gr.Radio(
                ["en", "zh"], value=values["language"], label=ctx.t("chat.f_language")
            )
        b["description"] = gr.Textbox(values["description"], label=ctx.t("chat.f_description"))
        b["role"] = gr.Textbox(values["role"], label=ctx.t("chat.f_role"), lines=2)
        b["context"] = gr.Textbox(values["context"], label=ctx.t("chat.f_context"), lines=2)
        b["task"] = gr.Textbox(values["task"], label=ctx.t("chat.f_task"), lines=2)
        b["steps"] = gr.Textbox(values["steps"], label=ctx.t("chat.f_steps"), lines=3)
        b["output_format"] = gr.Textbox(
            values["output_format"], label=ctx.t("chat.f_output_format"), lines=2
        )
        b["examples"] = gr.Dataframe(
            value=values["examples"],
            headers=["input", "output"],
            column_count=2,
            type="array",
            interactive=True,
            wrap=True,
            label=ctx.t("chat.f_examples"),
        )
        b["constraints"] = gr.Textbox(
            values["constraints"], label=ctx.t("chat.f_constraints"), lines=2
        )
        with gr.Row():
            b["delimiter"] = gr.Textbox(values["delimiter"], label=ctx.t("chat.f_delimiter"))
            b["first_message"] = gr.Textbox(
                values["first_message"], label=ctx.t("chat.f_first_message")
            )
        b["assembled"] = gr.Code(
            role.system_prompt(),
            label=ctx.t("chat.assembled"),
            language="markdown",
            wrap_lines=True,
            interactive=False,
        )
        b["state"] = gr.State(role.to_dict())
        with gr.Row():
            b["save"] = gr.Button(ctx.t("chat.save_role"), variant="primary")
            b["export"] = gr.Button(ctx.t("chat.export_role"))
            b["import"] = gr.UploadButton(
                ctx.t("chat.import_role"), file_types=[".json", ".png"], type="binary"
            )
            b["delete"] = gr.Button(ctx.t("chat.delete_role"), variant="stop")
        b["card"] = gr.File(label=ctx.t("chat.card_file"), visible=False, interactive=False)
    return b


def _roles_dir(ctx: AppContext, request: gr.Request | None, client_id: str | None) -> Path:
    return user_dir(ctx.data_dir, owner_of(request, client_id), "roles")


def _role_choices(ctx: AppContext, folder: Path | None, language: str) -> list[tuple[str, str]]:
    out = []
    for role in list_roles(language, user_roles=folder):
        if role.preset:
            out.append((role.name, role.id))
        else:
            out.append((f"★ {role.name}", USER_PREFIX + role.id))
    return out


def _load_picked(ctx, value: str, language: str, folder: Path) -> Role:
    if value and value.startswith(USER_PREFIX):
        return load_role(value[len(USER_PREFIX) :], user_roles=folder)
    return load_role(value or DEFAULT_ROLE, language)


# ------------------------------------------------------------------ wiring: roles


def _wire_roles(ctx: AppContext, c: dict, b: dict) -> None:
    fields = [b[name] for name in BUILDER_FIELDS]

    def assemble(*values):
        try:
            role = role_from_builder(dict(zip(BUILDER_FIELDS, values, strict=True)))
        except InputError as exc:
            return f"({exc})", gr.skip()
        return role.system_prompt(), role.to_dict()

    gr.on(
        [f.change for f in fields],
        assemble,
        fields,
        [b["assembled"], b["state"]],
        api_visibility="private",
        queue=False,
    )

    def refresh_roles(language, client_id, request: gr.Request):
        return _refresh_roles(ctx, language, client_id, request)

    @ui_errors
    def pick_role(value, language, client_id, request: gr.Request):
        role = _load_picked(ctx, value, language, _roles_dir(ctx, request, client_id))
        return *builder_values(role), greeting(role), ""

    pick_outputs = [*fields, c["chatbot"], c["notice"]]
    c["role_pick"].input(
        pick_role,
        [c["role_pick"], c["role_lang"], ctx.client_id],
        pick_outputs,
        api_visibility="private",
        **ctx.light,
    )
    c["role_lang"].input(
        pick_role,
        [c["role_pick"], c["role_lang"], ctx.client_id],
        pick_outputs,
        api_visibility="private",
        **ctx.light,
    ).then(
        refresh_roles,
        [c["role_lang"], ctx.client_id],
        [c["role_pick"], c["role_b"]],
        api_visibility="private",
    )

    @ui_errors
    def save(state, language="en", client_id=None, request: gr.Request = None):
        """Save the role being edited as one of your roles; returns the updated role lists."""
        ctx.check_quota(owner_of(request, client_id))
        role = save_user_role(_roles_dir(ctx, request, client_id), Role.from_dict(state))
        gr.Info(f"Saved role '{role.name}'.")
        choices = _role_choices(ctx, _roles_dir(ctx, request, client_id), language)
        return gr.update(choices=choices, value=USER_PREFIX + role.id), gr.update(choices=choices)

    b["save"].click(
        save,
        [b["state"], c["role_lang"], ctx.client_id],
        [c["role_pick"], c["role_b"]],
        api_name="chat_save_role",
        **ctx.light,
    )

    @ui_errors
    def export(state, client_id=None, request: gr.Request = None):
        """Export the role being edited as a JSON role card (SillyTavern can read it too)."""
        role = Role.from_dict(state)
        folder = user_dir(ctx.data_dir, owner_of(request, client_id), "exports")
        path = folder / f"{role.id}.role.json"
        atomic_write_text(path, export_card_json(role))
        return gr.File(value=str(path), visible=True)

    b["export"].click(
        export, [b["state"], ctx.client_id], b["card"], api_name="chat_export_role", **ctx.light
    )

    @ui_errors
    def import_(data, language, client_id, request: gr.Request):
        ctx.check_quota(owner_of(request, client_id))
        if data is None:
            raise InputError("choose a .json role card (or a character-card .png) to import")
        role = import_card(data, name="uploaded card")
        role = save_user_role(_roles_dir(ctx, request, client_id), role)
        gr.Info(f"Imported role '{role.name}'.")
        choices = _role_choices(ctx, _roles_dir(ctx, request, client_id), language)
        chosen = gr.update(choices=choices, value=USER_PREFIX + role.id)
        return chosen, gr.update(choices=choices), *builder_values(role), greeting(role)

    b["import"].upload(
        import_,
        [b["import"], c["role_lang"], ctx.client_id],
        [c["role_pick"], c["role_b"], *fields, c["chatbot"]],
        api_visibility="private",
        **ctx.light,
    )

    @ui_errors
    def delete(value, language, client_id, request: gr.Request):
        if not (value or "").startswith(USER_PREFIX):
            raise InputError("pick one of your own roles (marked ★) to delete; presets stay")
        folder = _roles_dir(ctx, request, client_id)
        delete_user_role(folder, value[len(USER_PREFIX) :])
        role = load_role(DEFAULT_ROLE, language)
        choices = _role_choices(ctx, folder, language)
        return (
            gr.update(choices=choices, value=DEFAULT_ROLE),
            gr.update(choices=choices),
            *builder_values(role),
            greeting(role),
        )

    b["delete"].click(
        delete,
        [c["role_pick"], c["role_lang"], ctx.client_id],
        [c["role_pick"], c["role_b"], *fields, c["chatbot"]],
        api_visibility="private",
        **ctx.light,
    )


def _refresh_roles(ctx, language, client_id, request) -> tuple[dict, dict]:
    choices = _role_choices(ctx, _roles_dir(ctx, request, client_id), language)
    return gr.update(choices=choices), gr.update(choices=choices)


# ------------------------------------------------------------------ wiring: chat


def _wire_chat(ctx: AppContext, c: dict, g: dict, b: dict, prompt_a, prompt_b) -> None:
    registry = ctx.registry
    gen = [g[name] for name in GEN_FIELDS]

    def _streams(history, history_b, model, model_b, compare, role, role_b, settings, stop):
        """Start the reply streams (A, and B in compare mode)."""
        if not model:
            raise InputError("pick a model first (the Models tab lists what is configured)")
        streams = [
            stream_chat(registry, model, role.messages(plain_history(history)), settings, stop=stop)
        ]
        if compare:
            if not model_b:
                raise InputError("compare mode: pick a second model (B)")
            streams.append(
                stream_chat(
                    registry,
                    model_b,
                    role_b.messages(plain_history(history_b)),
                    settings,
                    stop=stop,
                )
            )
        return streams

    def _reply(
        history,
        history_b,
        model,
        model_b,
        compare,
        role_state,
        role_b_id,
        language,
        settings,
        client_id,
        request,
    ):
        user = current_user(request, client_id)
        for name in (model, model_b) if compare else (model,):
            if name:  # another user's adapter fails exactly like a name that does not exist
                visible_entry(registry, user, name)
        role = Role.from_dict(role_state)
        role_b = _load_picked(ctx, role_b_id, language, _roles_dir(ctx, request, client_id))
        with _STOPS.running(session_key(request)) as stop:
            histories = [list(history), list(history_b)]
            streams = _streams(
                history, history_b, model, model_b, compare, role, role_b, settings, stop
            )
            for h in histories[: len(streams)]:
                h.append({"role": "assistant", "content": ""})
            shown: set[int] = set()
            for index, text in merge_streams(streams, stop):
                histories[index][-1]["content"] = text
                prompts: list[Any] = [gr.skip(), gr.skip()]
                if index not in shown:  # the prompt is known from the first token on
                    shown.add(index)
                    prompts[index] = streams[index].info.prompt
                yield histories[0], histories[1], gr.skip(), *prompts
        notice = "\n\n".join(stats_line(s.info) for s in streams)
        prompts = [s.info.prompt for s in streams] + [gr.skip()]
        yield histories[0], histories[1], notice, prompts[0], prompts[1]

    @ui_errors
    def chat(
        message: str,
        history: list,
        model: str,
        temperature: float = 0.7,
        top_p: float = 0.9,
        top_k: int = 50,
        repetition_penalty: float = 1.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
        compare: bool = False,
        model_b: str | None = None,
        role_b: str = DEFAULT_ROLE,
        history_b: list | None = None,
        role_state: dict | None = None,
        language: str = "en",
        client_id: str | None = None,
        think: bool = False,
        request: gr.Request = None,
    ):
        """Send a message to the chat model in the current role and stream the reply.

        Yields the conversation (A, and B in compare mode) as the reply grows,
        then a note with tokens/s, time to first token and any history trimming,
        and the exact prompt text the model received.
        """
        if not (message or "").strip():
            raise InputError("type a message first")
        settings = settings_from(locals())
        user = {"role": "user", "content": message}
        history = [*(history or []), user]
        history_b = [*(history_b or []), user] if compare else list(history_b or [])
        yield history, history_b, "", "", gr.skip(), gr.skip()
        role_state = role_state or load_role(DEFAULT_ROLE).to_dict()
        for out in _reply(
            history,
            history_b,
            model,
            model_b,
            compare,
            role_state,
            role_b,
            language,
            settings,
            client_id,
            request,
        ):
            yield *out[:2], gr.skip(), *out[2:]

    @ui_errors
    def regenerate(
        history: list,
        model: str,
        temperature: float = 0.7,
        top_p: float = 0.9,
        top_k: int = 50,
        repetition_penalty: float = 1.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
        compare: bool = False,
        model_b: str | None = None,
        role_b: str = DEFAULT_ROLE,
        history_b: list | None = None,
        role_state: dict | None = None,
        language: str = "en",
        client_id: str | None = None,
        think: bool = False,
        request: gr.Request = None,
    ):
        """Answer the last message again (a new sample unless the seed is fixed)."""
        settings = settings_from(locals())
        history, history_b = (
            _strip_reply(history),
            _strip_reply(history_b) if compare else list(history_b or []),
        )
        role_state = role_state or load_role(DEFAULT_ROLE).to_dict()
        if not history or history[-1]["role"] != "user":
            raise InputError("nothing to regenerate yet: send a message first")
        yield from _reply(
            history,
            history_b,
            model,
            model_b,
            compare,
            role_state,
            role_b,
            language,
            settings,
            client_id,
            request,
        )

    common = [
        c["model"],
        *gen,
        c["compare"],
        c["model_b"],
        c["role_b"],
        c["chatbot_b"],
        b["state"],
        c["role_lang"],
        ctx.client_id,
        c["think"],
    ]
    outputs = [c["chatbot"], c["chatbot_b"], c["notice"], prompt_a, prompt_b]
    send_outputs = [c["chatbot"], c["chatbot_b"], c["message"], c["notice"], prompt_a, prompt_b]
    inputs = [c["message"], c["chatbot"], *common]
    send_event = c["send"].click(chat, inputs, send_outputs, api_name="chat", **ctx.chat)
    submit_event = c["message"].submit(
        chat, inputs, send_outputs, api_visibility="private", **ctx.chat
    )
    regen_event = c["regenerate"].click(
        regenerate, [c["chatbot"], *common], outputs, api_name="chat_regenerate", **ctx.chat
    )

    def stop(request: gr.Request):
        """Stop the reply being generated for this session; the partial reply is kept."""
        _STOPS.stop(session_key(request))

    # Setting the event ends generation within a token and keeps the partial reply;
    # cancelling also drops a reply still waiting in the queue.
    c["stop"].click(
        stop,
        None,
        None,
        api_name="chat_stop",
        cancels=[send_event, submit_event, regen_event],
        **ctx.light,
    )

    def edit_last(history, history_b):
        """Put the last user message back in the box, and drop it and its reply."""
        history = list(history or [])
        last = max((i for i, m in enumerate(history) if m["role"] == "user"), default=None)
        if last is None:
            raise gr.Error("there is no message to edit yet")
        text = message_text(history[last])
        last_b = max(
            (i for i, m in enumerate(history_b or []) if m["role"] == "user"), default=None
        )
        kept_b = list(history_b or [])[:last_b] if last_b is not None else history_b
        return history[:last], kept_b, text

    edit_event = c["edit_last"].click(
        edit_last,
        [c["chatbot"], c["chatbot_b"]],
        [c["chatbot"], c["chatbot_b"], c["message"]],
        api_visibility="private",
        queue=False,
    )

    def clear(
        role_state,
        role_b_id=DEFAULT_ROLE,
        language="en",
        client_id=None,
        request: gr.Request = None,
    ):
        """Start a new conversation: both chats go back to their roles' greetings."""
        role = Role.from_dict(role_state)
        role_b = _load_picked(ctx, role_b_id, language, _roles_dir(ctx, request, client_id))
        return greeting(role), greeting(role_b), "", "", ""

    clear_event = c["clear"].click(
        clear,
        [b["state"], c["role_b"], c["role_lang"], ctx.client_id],
        [c["chatbot"], c["chatbot_b"], c["notice"], prompt_a, prompt_b],
        api_name="chat_clear",
        queue=False,
    )

    def show_compare(on):
        return gr.update(visible=on), gr.update(visible=on), gr.update(visible=on)

    c["compare"].change(
        show_compare,
        c["compare"],
        [c["compare_row"], c["chatbot_b"], prompt_b],
        api_visibility="private",
        queue=False,
    )

    def pick_role_b(role_b_id, language, client_id, request: gr.Request):
        return greeting(_load_picked(ctx, role_b_id, language, _roles_dir(ctx, request, client_id)))

    c["role_b"].input(
        pick_role_b,
        [c["role_b"], c["role_lang"], ctx.client_id],
        c["chatbot_b"],
        api_visibility="private",
        queue=False,
    )

    # A page refresh must not lose the conversation: keep chat A in the browser too.
    saved = gr.BrowserState([], storage_key="aigc-playground-chat")
    for event in (send_event, submit_event, regen_event, edit_event, clear_event):
        event.then(plain_history, c["chatbot"], saved, api_visibility="private", queue=False)

    def on_page_load(kept, language, client_id, request: gr.Request):
        """Restore the conversation; list this user's roles and any new adapters."""
        roles = _role_choices(ctx, _roles_dir(ctx, request, client_id), language or "en")
        models = model_choices(registry, owner_of(request, client_id))
        return (
            kept or gr.skip(),
            gr.update(choices=roles),
            gr.update(choices=roles),
            gr.update(choices=models),
            gr.update(choices=models),
        )

    root = gr.context.Context.root_block
    if root is not None:
        root.load(
            on_page_load,
            [saved, c["role_lang"], ctx.client_id],
            [c["chatbot"], c["role_pick"], c["role_b"], c["model"], c["model_b"]],
            api_visibility="private",
            queue=False,
        )

    @ui_errors
    def model_defaults(model):
        s = GenerationSettings.for_model(registry, model) if model else GenerationSettings()
        return [getattr(s, name) for name in GEN_FIELDS[:-1]]

    c["model"].change(model_defaults, c["model"], gen[:-1], api_visibility="private", queue=False)
    g["reset"].click(model_defaults, c["model"], gen[:-1], api_visibility="private", queue=False)


def _strip_reply(history: list | None) -> list:
    """The conversation without its trailing assistant reply."""
    history = list(history or [])
    while history and history[-1]["role"] == "assistant":
        history.pop()
    return history
