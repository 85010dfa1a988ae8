"""The one tab pattern: handlers are top-level functions of the app context, wired by ``bind``."""

from __future__ import annotations

import inspect

import gradio as gr

from tests.conftest import free_port


def _greet(ctx, name: str, times: int = 1, request: gr.Request = None):
    """Greet someone.

    Args:
        name: who to greet
    """
    who = getattr(request, "session_hash", None)
    return f"{ctx}:{name * times}:{'request' if who else 'no request'}"


def _stream(ctx, name: str, request: gr.Request = None):
    yield f"{ctx}:{name}:{'request' if request is not None else 'no request'}"


def test_bind_hides_the_context_and_keeps_the_rest_of_the_signature():
    from tabs.common import bind

    bound = bind(_greet, "CTX")
    assert list(inspect.signature(bound).parameters) == ["name", "times", "request"]
    assert bound.__name__ == "_greet" and "Greet someone" in bound.__doc__
    assert bound("a", 2) == "CTX:aa:no request"
    assert inspect.isgeneratorfunction(bind(_stream, "CTX"))
    assert not inspect.isgeneratorfunction(bound)


def test_gradio_fills_in_the_request_of_a_bound_handler():
    """Identity comes from ``gr.Request``: a bound handler must still receive it."""
    from gradio_client import Client

    from tabs.common import bind

    with gr.Blocks() as demo:
        name, out = gr.Textbox(), gr.Textbox()
        gr.Button().click(bind(_greet, "CTX"), name, out, api_name="greet")
        gr.Button().click(bind(_stream, "CTX"), name, out, api_name="stream")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert client.predict("x", api_name="/greet") == "CTX:x:request"
        assert client.predict("y", api_name="/stream") == "CTX:y:request"
        api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert [p["parameter_name"] for p in api["/greet"]["parameters"]] == ["name"]
    finally:
        demo.close()


def test_every_handler_that_asks_for_the_request_is_given_it(launched_app):
    """Gradio fills in ``gr.Request`` only for a positional parameter before any ``*args``.

    A handler that names ``request`` but never receives it would treat every user
    as the same anonymous one (identity, language, stop flags); this checks all of
    the app's event handlers the way Gradio calls them.
    """
    from gradio.helpers import special_args

    request = gr.Request(username=None, session_hash="page")
    missed = []
    for event in launched_app.demo.fns.values():
        if event.fn is None or "request" not in inspect.signature(event.fn).parameters:
            continue
        given, *_ = special_args(event.fn, [None] * len(event.inputs), request)
        if not any(value is request for value in given):
            missed.append(event.name)
    assert not missed, f"these handlers never get the request: {missed}"
