"""The Image tab: prompt (with an assistant), settings, live progress, gallery and history.

UI only: every action calls ``playground.image``.
"""

from __future__ import annotations

import threading
from typing import Any

import gradio as gr

from playground.image import schedulers
from playground.storage import user_dir
from playground.users import visible_entry
from tabs.common import AppContext, owner_of, ui_errors
from tabs.i18n import tr
from tabs.identity import current_user

SETTINGS = ["width", "height", "steps", "guidance", "scheduler"]


def text(request: gr.Request | None, key: str, **fields: Any) -> str:
    """Server-side strings (status lines, notes) in the browser's language."""
    return tr(key, request, **fields)


def build(ctx: AppContext) -> None:
    names = ctx.registry.names("text-to-image")
    if not names:
        gr.Markdown(ctx.t("image.no_models"))
        return
    from playground.image import model_defaults

    defaults = model_defaults(ctx.registry, names[0])
    gr.Markdown(ctx.t("image.intro"))
    with gr.Row():
        with gr.Column(scale=5):
            model = gr.Dropdown(names, value=names[0], label=ctx.t("image.model"))
            assistant = _assistant_panel(ctx)
            prompt = gr.Textbox(
                label=ctx.t("image.prompt"), info=ctx.t("image.prompt_info"), lines=3
            )
            negative = gr.Textbox(label=ctx.t("image.negative"), lines=2)
            with gr.Row():
                go = gr.Button(ctx.t("image.generate"), variant="primary", scale=3)
                stop = gr.Button(ctx.t("image.cancel"), variant="stop", scale=1)
            settings = _settings_panel(ctx, defaults)
            send_back = _send_back_panel(ctx)
        with gr.Column(scale=6):
            status = gr.Markdown(ctx.t("image.ready"))
            preview = gr.Image(
                label=ctx.t("image.preview"), visible=False, interactive=False, height=256
            )
            gallery = gr.Gallery(
                label=ctx.t("image.gallery"), columns=2, height=520, format="png", interactive=False
            )
            info = gr.Markdown()
    history = _history_panel(ctx)

    fields = [model, prompt, negative] + [settings[k] for k in [*SETTINGS, "seed", "batch"]]
    outputs = [gallery, status, preview, info, settings["last_seed"]]

    def change_model(name):
        values = model_defaults(ctx.registry, name)
        entry = ctx.registry.entry(name)
        names = schedulers.choices_for_entry(entry, ctx.registry.config.base_dir)
        updates = {k: gr.update(value=values[k]) for k in SETTINGS}
        updates["scheduler"] = gr.update(choices=names, value=values["scheduler"])
        return [updates[k] for k in SETTINGS]

    # `.input`, not `.change`: loading parameters from a PNG sets the model without a reset.
    model.input(
        change_model,
        model,
        [settings[k] for k in SETTINGS],
        api_visibility="private",
        **ctx.light,
    )

    settings["reuse"].click(
        lambda s: -1 if s is None else s,
        settings["last_seed"],
        settings["seed"],
        api_visibility="private",
        queue=False,
    )
    settings["random"].click(
        lambda: -1, None, settings["seed"], api_visibility="private", queue=False
    )
    _wire_generate(ctx, text, fields, outputs, go, stop, prompt, history)
    _wire_assistant(ctx, text, assistant, prompt, negative)
    _wire_send_back(ctx, text, send_back, history, fields)
    _wire_chat_button(ctx, text, prompt, negative)


def _wire_generate(ctx: AppContext, text, fields, outputs, go, stop, prompt, history) -> None:
    """Generate (streaming progress and previews), Cancel, and the history refresh after."""
    running: dict[str, threading.Event] = {}  # owner -> cancel flag of their running job

    @ui_errors
    def generate(
        model_name: str,
        prompt_text: str,
        negative_text: str | None = None,  # None: left out through the API
        width: float = None,  # the rest: the UI's values when left out through the API
        height: float = None,
        steps: float = None,
        guidance: float = None,
        scheduler: str = None,
        seed: float | None = None,
        batch_count: float = None,
        client_id: str | None = None,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008 (gradio injects it)
    ):
        """Generate images from a text prompt with a text-to-image model.

        Args:
            model_name: text-to-image model name from the models file.
            prompt_text: what the image should show; AUTOMATIC1111 weights such as (word:1.3) work.
            negative_text: what to avoid (may be empty).
            width: image width in pixels (a multiple of 8 for Stable Diffusion).
            height: image height in pixels.
            steps: denoising steps.
            guidance: CFG scale (0 for SD-Turbo).
            scheduler: sampler name, or "default" for the model's own.
            seed: a whole number, or empty/-1 for a random seed (the seed used is reported).
            batch_count: how many images, with seeds seed, seed+1, ...

        Returns:
            The gallery of PNG files (each carries its parameters), a status line with the seeds, a preview
            (hidden at the end), and notes (prompt chunks, memory savers, safety checker...).
        """
        from playground.image import ImageRequest, ImageResult, describe_estimate, generate_stream

        owner = owner_of(request, client_id)
        ctx.check_quota(owner)
        previous = running.get(owner)
        if previous is not None:
            previous.set()
        cancel = threading.Event()
        running[owner] = cancel
        req = ImageRequest(
            model=model_name,
            prompt=prompt_text or "",
            negative_prompt=negative_text or "",
            steps=int(steps),
            guidance=float(guidance),
            width=int(width),
            height=int(height),
            scheduler=scheduler or schedulers.DEFAULT,
            seed=None if seed in (None, "") or int(seed) < 0 else int(seed),
            batch_count=int(batch_count or 1),
        )
        estimate = describe_estimate(ctx.registry, req) or ""
        loading = "" if ctx.registry.is_loaded(model_name) else text(request, "image.loading")
        yield (
            gr.skip(),
            f"{loading} {estimate}".strip() or "…",
            gr.update(visible=True),
            "",
            gr.skip(),
        )
        result = None
        try:
            for event in generate_stream(
                ctx.registry,
                req,
                out_dir=user_dir(ctx.data_dir, owner, "images"),
                cancel=cancel,
                preview_every=max(1, int(steps) // 5),
            ):
                if isinstance(event, ImageResult):
                    result = event
                    break
                line = text(
                    request,
                    "image.step",
                    image=event.image_index + 1,
                    images=event.image_count,
                    step=event.step,
                    steps=event.steps,
                    left=f"{event.seconds_left:.0f}" if event.seconds_left is not None else "?",
                )
                progress(event.fraction, desc=line)
                preview_update = gr.update(value=event.preview) if event.preview else gr.skip()
                yield gr.skip(), line, preview_update, gr.skip(), gr.skip()
        finally:
            if running.get(owner) is cancel:
                running.pop(owner, None)
        if result is None:
            return
        items = [(str(g.path), g.params.prompt[:80]) for g in result.images]
        if result.cancelled:
            gr.Info(text(request, "image.cancelled"))
        seed_out = result.seeds[-1] if result.seeds else gr.skip()
        notes = "\n".join(f"- {note}" for note in result.notes)
        yield (
            items,
            _summary(text, request, result),
            gr.update(visible=False, value=None),
            notes,
            seed_out,
        )

    def cancel_run(client_id: str | None = None, request: gr.Request = None):
        event = running.get(owner_of(request, client_id))
        if event is not None:
            event.set()
        return text(request, "image.cancelling" if event else "image.nothing_running")

    run = go.click(
        generate,
        [*fields, ctx.client_id],
        outputs,
        api_name="image_generate",
        **ctx.heavy,
    )
    run.then(history["refresh_fn"], ctx.client_id, history["outputs"], api_visibility="private")
    stop.click(cancel_run, ctx.client_id, outputs[1], api_visibility="private", queue=False)
    prompt.submit(
        generate,
        [*fields, ctx.client_id],
        outputs,
        api_visibility="private",
        **ctx.heavy,
    ).then(history["refresh_fn"], ctx.client_id, history["outputs"], api_visibility="private")


# ---------------------------------------------------------------- panels


def _settings_panel(ctx: AppContext, defaults: dict[str, Any]) -> dict[str, Any]:
    with gr.Accordion(ctx.t("image.settings"), open=True):
        with gr.Row():
            width = gr.Slider(64, 2048, value=defaults["width"], step=8, label=ctx.t("image.width"))
            height = gr.Slider(
                64, 2048, value=defaults["height"], step=8, label=ctx.t("image.height")
            )
        with gr.Row():
            steps = gr.Slider(1, 150, value=defaults["steps"], step=1, label=ctx.t("image.steps"))
            guidance = gr.Slider(
                0,
                30,
                value=defaults["guidance"],
                step=0.5,
                label=ctx.t("image.guidance"),
                info=ctx.t("image.guidance_info"),
            )
        with gr.Row():
            scheduler = gr.Dropdown(
                schedulers.all_names(),
                value=defaults["scheduler"],
                label=ctx.t("image.scheduler"),
                info=ctx.t("image.scheduler_info"),
            )
            batch = gr.Slider(1, 16, value=1, step=1, label=ctx.t("image.batch"))
        with gr.Row():
            seed = gr.Number(
                value=-1,
                precision=0,
                minimum=-1,
                label=ctx.t("image.seed"),
                info=ctx.t("image.seed_info"),
                scale=3,
            )
            with gr.Column(scale=1, min_width=120):
                reuse = gr.Button(ctx.t("image.reuse_seed"), size="sm")
                random_seed = gr.Button(ctx.t("image.random_seed"), size="sm")
    return {
        "width": width,
        "height": height,
        "steps": steps,
        "guidance": guidance,
        "scheduler": scheduler,
        "batch": batch,
        "seed": seed,
        "reuse": reuse,
        "random": random_seed,
        "last_seed": gr.State(None),
    }


def _assistant_panel(ctx: AppContext) -> dict[str, Any]:
    chat_models = [
        e.name
        for e in ctx.registry.entries("chat", "endpoint")
        if (e.task == "chat" or e.serves == "chat") and e.visible_to(None)  # shared only
    ]
    with gr.Accordion(ctx.t("image.assistant"), open=False):
        gr.Markdown(ctx.t("image.assistant_help"))
        description = gr.Textbox(
            label=ctx.t("image.description"), lines=2, placeholder=ctx.t("image.description_hint")
        )
        with gr.Row():
            chat_model = gr.Dropdown(
                chat_models,
                value=chat_models[0] if chat_models else None,
                label=ctx.t("image.chat_model"),
                scale=3,
            )
            button = gr.Button(ctx.t("image.write_prompt"), scale=1)
        note = gr.Markdown()
    return {"description": description, "chat_model": chat_model, "button": button, "note": note}


def _send_back_panel(ctx: AppContext) -> dict[str, Any]:
    with gr.Accordion(ctx.t("image.send_back"), open=False):
        gr.Markdown(ctx.t("image.send_back_help"))
        png = gr.File(label=ctx.t("image.drop_png"), file_types=[".png"], type="filepath")
        note = gr.Markdown()
    return {"png": png, "note": note}


def _history_panel(ctx: AppContext) -> dict[str, Any]:
    with gr.Accordion(ctx.t("image.history"), open=False) as accordion:
        gallery = gr.Gallery(label=ctx.t("image.history"), columns=6, height=360, interactive=False)
        with gr.Row():
            refresh = gr.Button(ctx.t("image.refresh"), size="sm", scale=1)
            use = gr.Button(ctx.t("image.use_params"), size="sm", scale=1)
        details = gr.Markdown()
        paths = gr.State([])
        selected = gr.State(None)

    def refresh_fn(client_id: str | None = None, request: gr.Request = None):
        from playground.image import list_history

        items = list_history(user_dir(ctx.data_dir, owner_of(request, client_id), "images"))
        return [(str(i.path), i.caption) for i in items], [str(i.path) for i in items]

    outputs = [gallery, paths]
    refresh.click(refresh_fn, ctx.client_id, outputs, api_visibility="private", **ctx.light)
    accordion.expand(refresh_fn, ctx.client_id, outputs, api_visibility="private", **ctx.light)
    return {
        "gallery": gallery,
        "refresh_fn": refresh_fn,
        "outputs": outputs,
        "use": use,
        "details": details,
        "paths": paths,
        "selected": selected,
    }


# ---------------------------------------------------------------- wiring


def _summary(text, request, result) -> str:
    seeds = ", ".join(str(s) for s in result.seeds) or "-"
    return text(
        request,
        "image.done",
        count=len(result.images),
        seconds=f"{result.seconds:.1f}",
        seeds=seeds,
    )


def _wire_assistant(ctx: AppContext, text, panel: dict[str, Any], prompt, negative) -> None:
    @ui_errors
    def write_prompt(description: str, chat_model: str, client_id=None, request: gr.Request = None):
        """Turn a plain description (Chinese or English) into a Stable Diffusion prompt.

        Args:
            description: what the picture should show, in any language.
            chat_model: the chat model that writes the prompt.

        Returns:
            The prompt, the negative prompt and a note.
        """
        from playground.image.assistant import assist

        if not chat_model:
            raise gr.Error(text(request, "image.no_chat_model"))
        visible_entry(ctx.registry, current_user(request, client_id), chat_model)
        suggestion = assist(ctx.registry, chat_model, description)
        key = "image.assistant_ok" if suggestion.followed_format else "image.assistant_loose"
        return suggestion.prompt, suggestion.negative_prompt, text(request, key)

    panel["button"].click(
        write_prompt,
        [panel["description"], panel["chat_model"], ctx.client_id],
        [prompt, negative, panel["note"]],
        api_name="image_prompt_assistant",
        **ctx.chat,
    )


def _wire_send_back(ctx: AppContext, text, panel, history, fields) -> None:
    def to_updates(params, request) -> tuple[list[Any], str]:
        notes = []
        names = ctx.registry.names("text-to-image")
        if params.model in names:
            model_update = params.model
        else:
            model_update = gr.skip()
            if params.model:
                notes.append(text(request, "image.unknown_model", model=params.model))
        sampler = params.sampler
        if sampler not in schedulers.all_names():
            notes.append(text(request, "image.unknown_sampler", sampler=sampler))
            sampler = schedulers.DEFAULT
        values = [
            model_update,
            params.prompt,
            params.negative_prompt,
            params.width,
            params.height,
            params.steps,
            params.guidance,
            sampler,
            params.seed,
            gr.skip(),
        ]
        return values, "\n".join([text(request, "image.params_loaded"), *notes])

    @ui_errors
    def from_png(path: str | None, request: gr.Request = None):
        """Read the generation parameters (prompt, seed, steps, ...) stored in a PNG."""
        from playground.image import read_parameters

        if not path:
            return [gr.skip()] * len(fields) + [""]
        values, note = to_updates(read_parameters(path), request)
        return [*values, note]

    panel["png"].upload(
        from_png,
        panel["png"],
        [*fields, panel["note"]],
        api_name="image_read_parameters",
        **ctx.light,
    )

    def select(paths: list[str], evt: gr.SelectData):
        from playground.errors import InputError
        from playground.image import format_parameters, read_parameters

        if evt.index is None or evt.index >= len(paths):
            return "", None
        try:
            params = read_parameters(paths[evt.index])
        except InputError as exc:
            return str(exc), None
        return f"```\n{format_parameters(params)}\n```", paths[evt.index]

    history["gallery"].select(
        select,
        history["paths"],
        [history["details"], history["selected"]],
        api_visibility="private",
    )

    @ui_errors
    def use(selected: str | None, request: gr.Request = None):
        from playground.image import read_parameters

        if not selected:
            raise gr.Error(text(request, "image.pick_history"))
        values, _ = to_updates(read_parameters(selected), request)
        return values

    history["use"].click(use, history["selected"], fields, api_visibility="private", **ctx.light)


def _wire_chat_button(ctx: AppContext, text, prompt, negative) -> None:
    """A button under the chat: send the last reply (e.g. from the sd-prompt role) here."""
    actions, chatbot = ctx.shared.get("chat.actions"), ctx.shared.get("chat.chatbot")
    if actions is None or chatbot is None:
        return
    with actions:
        button = gr.Button(ctx.t("image.from_chat"), size="sm")

    def from_chat(history: list[dict[str, Any]] | None, request: gr.Request = None):
        from playground.chat.messages import last_assistant_text
        from playground.image import parse_reply

        reply = last_assistant_text(history)
        if not reply:
            raise gr.Error(text(request, "image.no_reply"))
        suggestion = parse_reply(reply)
        values = [suggestion.prompt, suggestion.negative_prompt]
        return values if ctx.tabs is None else [*values, gr.Tabs(selected="image")]

    outputs = [prompt, negative] + ([] if ctx.tabs is None else [ctx.tabs])
    button.click(from_chat, chatbot, outputs, api_visibility="private", queue=False)
