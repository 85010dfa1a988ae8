"""What every tab shares: the app context, who the user is, and error handling."""

from __future__ import annotations

import functools
import inspect
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from playground.downloads import DONE, DOWNLOADING, listening
from playground.errors import InputError, PlaygroundError
from playground.registry import Registry
from tabs.stop_flags import StopFlags  # noqa: F401  (re-exported: every tab takes it from here)


@dataclass
class Settings:
    """Launch settings the tabs may need (from app.py flags)."""

    workshop: bool = False
    max_file_size_mb: int = 200
    heavy_concurrency: int = 1
    light_concurrency: int = 8
    zerogpu: bool = False
    user_quota_bytes: int = 2_000_000_000  # --user-quota: disk per user
    # Chat replies share the model's continuous-batching loop, so many run at once.
    chat_concurrency: int = 32
    max_queued_per_user: int = 2  # model-bound requests one user may have waiting


@dataclass
class AppContext:
    """Handed to every tab's ``build``: the registry, data dir, strings and shared components."""

    registry: Registry
    data_dir: Path
    i18n: gr.I18n
    settings: Settings = field(default_factory=Settings)
    client_id: Any = None  # a gr.State page marker (set on load); NOT identity, see tabs.identity
    tabs: Any = None  # the gr.Tabs, so a tab can switch to another
    shared: dict[str, Any] = field(default_factory=dict)  # components other tabs may wire to

    def t(self, key: str) -> Any:
        """A translated UI string (resolved in the browser's language)."""
        return self.i18n(key)

    def check_quota(self, owner: str, adding: int = 0) -> None:
        """Refuse new data once ``owner``'s folder holds --user-quota (QuotaError)."""
        from playground.quota import check_quota

        check_quota(self.data_dir, owner, self.settings.user_quota_bytes, adding)

    @property
    def heavy(self) -> dict[str, Any]:
        """Event options for image, voice, training and loads: one at a time on the device.

        "heavy" is the one shared queue of the models' device (the registry keeps
        its models on one device).
        """
        return {"concurrency_id": "heavy", "concurrency_limit": self.settings.heavy_concurrency}

    @property
    def chat(self) -> dict[str, Any]:
        """Event options for chat replies (Chat, Compare, Documents answers, prompt assistant).

        They do not take the device slot: each reply is one request in the model's
        decode loop (``playground.chat.service``). On ZeroGPU there is no loop (each
        call borrows a GPU), so chat goes through the heavy queue there.
        """
        if self.settings.zerogpu:
            return self.heavy
        return {"concurrency_id": "chat", "concurrency_limit": self.settings.chat_concurrency}

    @property
    def light(self) -> dict[str, Any]:
        return {"concurrency_limit": self.settings.light_concurrency}


def bind(handler, ctx: AppContext):
    """``handler(ctx, ...)`` as an event function: ``ctx`` filled in, the rest as Gradio sees it.

    Tab handlers are top-level functions whose first parameter is the app context,
    so a test can call them directly with a context of its own. Gradio (and the API
    page) see the remaining named, typed parameters and the docstring; the result is
    a plain function (generator function for a streaming handler), because Gradio
    reads the type hints of a function -- a ``gr.Request`` parameter is filled in
    only when it can see it (it cannot through ``functools.partial``).
    """
    if inspect.isgeneratorfunction(handler):

        def bound(*args, **kwargs):
            yield from handler(ctx, *args, **kwargs)
    else:

        def bound(*args, **kwargs):
            return handler(ctx, *args, **kwargs)

    functools.update_wrapper(bound, handler)
    signature = inspect.signature(handler)
    bound.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    return bound


def owner_of(request: gr.Request | None, client_id: str | None = None) -> str:
    """The storage key of whoever sent ``request`` (see ``tabs.identity.current_user``).

    ``client_id`` is ignored: identity comes from the login or the signed
    cookie/header the request carries, never from an event's inputs.
    """
    from tabs.identity import current_user

    return current_user(request, client_id).key


def session_key(request: gr.Request | None) -> str:
    """The browser session a request comes from (one page load), within its user.

    Prefixed by the login so that knowing someone's session hash is not enough
    to stop their generation (Stop events carry no identity token).
    """
    session = getattr(request, "session_hash", None) or "local"
    return f"{getattr(request, 'username', None) or ''}:{session}"


_END = object()  # marks the end of a wrapped generator
log = logging.getLogger("playground.ui")


def user_error(exc: Exception, request: gr.Request | None = None, *, where: str = "") -> gr.Error:
    """The ``gr.Error`` a user sees for ``exc``, in their language; logs it once.

    Expected errors (``PlaygroundError``: a missing model, no consent...) log one
    line without a traceback; anything else is a bug: its traceback goes to the
    log and the user gets a message instead of a bare "Error".
    """
    from tabs.i18n import tr

    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, PlaygroundError):
        log.info("%s in %s: %s", type(exc).__name__, where or "a handler", exc)
        message = error_text(exc, request)
        title = tr("errors.check_input", request) if isinstance(exc, InputError) else None
        return gr.Error(message, title=title or "Error", print_exception=False)
    log.error("unexpected error in %s", where or "a handler", exc_info=exc)
    message = tr("errors.unexpected", request, kind=type(exc).__name__)
    return gr.Error(message, print_exception=False)


def error_text(exc: PlaygroundError, request: gr.Request | None = None) -> str:
    """``exc``'s message in the user's language (its English text where no table has it)."""
    from tabs.i18n import tr

    if exc.key and tr(exc.key, request) != exc.key:
        return tr(exc.key, request, **exc.params)
    return str(exc)


DOWNLOAD_TOAST_SECONDS = 10.0  # a model download's progress is shown this often
# A handler waits this long for a model download, then frees its queue slot with a
# "still downloading" message; the download goes on (Models panel shows it).
DOWNLOAD_WAIT_SECONDS = 60.0


def download_toasts(request: gr.Request | None):
    """A download listener that shows progress as toasts in the browser's language."""
    from tabs.i18n import tr

    shown = {"at": 0.0}

    def show(progress) -> None:
        now = time.monotonic()
        if progress.state == DOWNLOADING and now - shown["at"] >= DOWNLOAD_TOAST_SECONDS:
            text = tr("models.downloading", request, **progress.values())
            gr.Info(f"{progress.name}: {text}", duration=DOWNLOAD_TOAST_SECONDS)
            shown["at"] = now
        elif progress.state == DONE and shown["at"]:
            gr.Info(tr("models.downloaded", request, **progress.values()), duration=5)
            shown["at"] = 0.0

    return show


def _request_in(args, kwargs) -> gr.Request | None:
    return next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)


def ui_errors(fn):
    """Turn engine errors into messages the user sees (``gr.Error``), keeping UI state.

    While the handler runs, a model download it waits for shows its progress as toasts.
    """

    def convert(exc: Exception, request) -> Exception:
        return user_error(exc, request, where=fn.__name__)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            listener = download_toasts(_request_in(args, kwargs))
            steps = fn(*args, **kwargs)
            try:
                while True:
                    # Each step may run in a fresh context (Gradio), so listen per step.
                    with listening(listener, max_wait=DOWNLOAD_WAIT_SECONDS):
                        item = next(steps, _END)
                    if item is _END:
                        return
                    yield item
            except Exception as exc:
                converted = convert(exc, _request_in(args, kwargs))
                if converted is exc:
                    raise
                raise converted from exc
            finally:
                steps.close()  # a cancelled event closes the handler at once (its finally runs)

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            toasts = download_toasts(_request_in(args, kwargs))
            with listening(toasts, max_wait=DOWNLOAD_WAIT_SECONDS):
                return fn(*args, **kwargs)
        except Exception as exc:
            converted = convert(exc, _request_in(args, kwargs))
            if converted is exc:
                raise
            raise converted from exc

    return wrapper


def is_api_call(request: gr.Request | None) -> bool:
    """True for ``gradio_client`` callers (they mark their requests), False for a browser."""
    headers = getattr(request, "headers", None) or {}
    return str(headers.get("x-gradio-user", "")).lower() == "api"


def keep_inputs_on_failure(*, outputs: int, inputs: dict[str, int] | None = None):
    """For a streaming handler whose last output is a status Markdown (wrap it around ``ui_errors``).

    In the browser a failure leaves the other outputs as they were -- the typed
    question, the answer, the sources -- puts the named inputs back into their
    outputs (``{"history": 0}``: a half-streamed reply is taken back) and shows
    the message in the status until the next action, instead of "Error" badges
    and a toast that fades. API callers still get the error itself.
    """

    def wrap(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            request = _request_in(args, kwargs)
            try:
                yield from fn(*args, **kwargs)
            except gr.Error as exc:
                if is_api_call(request):
                    raise
                kept: list[Any] = [gr.skip()] * outputs
                given = inspect.signature(fn).bind_partial(*args, **kwargs).arguments
                for name, index in (inputs or {}).items():
                    kept[index] = given.get(name)
                yield (*kept, f"⚠️ {exc.message}")

        return wrapper

    return wrap


FETCH_POLL_SECONDS = 0.5  # how often a download's progress is shown while it runs


def fetch_models(ctx: AppContext, names: list[str], request: gr.Request | None = None):
    """Download what ``names`` still need, yielding progress lines (percent, MB, speed, left).

    Runs in a light event before the model-bound one, so a first download never
    holds the device slot: others keep generating meanwhile. Each download runs
    once (``playground.downloads.DOWNLOADS``); a failure raises its own message.
    """
    from playground.downloads import DOWNLOADS, FAILED, needs_download
    from playground.errors import ModelLoadError
    from tabs.i18n import tr

    base_dir = ctx.registry.config.base_dir
    entries = [ctx.registry.entry(name) for name in dict.fromkeys(names) if name]
    jobs = [DOWNLOADS.start(entry) for entry in entries if needs_download(entry, base_dir)]
    while any(job.state == DOWNLOADING for job in jobs):
        yield "\n\n".join(
            f"⬇️ **{job.name}**: {tr('models.downloading', request, **job.values())}" for job in jobs
        )
        time.sleep(FETCH_POLL_SECONDS)
    for job in jobs:
        if job.state == FAILED:
            raise ModelLoadError(job.error or "download failed", key=job.error_key, **job.params)
    if jobs:
        yield "\n\n".join(f"✅ {tr('models.downloaded', request, **job.values())}" for job in jobs)


def prefetch(ctx: AppContext, models_of, stops: StopFlags | None = None):
    """A light event handler that downloads the models an action needs, before it runs.

    ``models_of(ctx, *values)`` names the models from the action's inputs. Chain
    the model-bound event with ``.success`` after it. When the inputs cannot name
    a model (an unknown one, text no model speaks), nothing is fetched and the
    action itself reports why, in its own status. With ``stops``, the action's
    stop flag is armed here, at the click, so Stop reaches it while it waits.

    The handler shows Gradio ``models_of``'s parameters and then ``request``:
    Gradio fills in a ``gr.Request`` only for a positional parameter, never after
    ``*values``.
    """
    shown = _values_then_request(models_of)

    @ui_errors
    def fetch_first(*args, **kwargs):
        given = shown.bind(*args, **kwargs)
        given.apply_defaults()
        request = given.arguments.pop("request")
        if stops is not None:
            stops.arm(session_key(request))
        try:
            names = list(models_of(ctx, *given.arguments.values()))
        except PlaygroundError:
            names = []  # reported by the action this event precedes
        yield from fetch_models(ctx, names, request)

    fetch_first.__signature__ = shown
    fetch_first.__annotations__ = {"request": gr.Request}
    return fetch_first


def _values_then_request(models_of) -> inspect.Signature:
    """``models_of``'s parameters after the context, each positional, then ``request``."""
    values = list(inspect.signature(models_of).parameters.values())[1:]
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    request = inspect.Parameter("request", positional, default=None, annotation=gr.Request)
    return inspect.Signature([*(value.replace(kind=positional) for value in values), request])


def takes_settings(build, name: str):
    """Decorator: the handler's parameter ``name`` is shown as ``build``'s parameters.

    For endpoints whose settings travel together (chat and regenerate, fine-tune
    Validate and Start, Documents Search and Ask): the parameter list is written
    once, on ``build``, which turns it into one value. Gradio and the API page see
    ``build``'s names, defaults and type hints in that place (so a ``gr.Request``
    among them is filled in); the handler gets ``name=build(...)``.
    """
    import typing

    def decorate(handler):
        own = list(inspect.signature(handler).parameters.values())
        at = [p.name for p in own].index(name)
        spliced = list(inspect.signature(build).parameters.values())
        shown = inspect.Signature([*own[:at], *spliced, *own[at + 1 :]])
        built = {p.name for p in spliced}

        def arguments(args, kwargs) -> dict[str, Any]:
            given = shown.bind(*args, **kwargs)
            given.apply_defaults()
            values = dict(given.arguments)
            settings = build(**{key: values.pop(key) for key in built})
            return {**values, name: settings}

        if inspect.isgeneratorfunction(handler):

            @functools.wraps(handler)
            def wrapper(*args, **kwargs):
                yield from handler(**arguments(args, kwargs))
        else:

            @functools.wraps(handler)
            def wrapper(*args, **kwargs):
                return handler(**arguments(args, kwargs))

        hints = {**typing.get_type_hints(build), **typing.get_type_hints(handler)}
        wrapper.__signature__ = shown
        wrapper.__annotations__ = {k: v for k, v in hints.items() if k not in (name, "return")}
        return wrapper

    return decorate
