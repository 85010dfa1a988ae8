"""Fair queueing: at most N model-bound requests waiting per user.

Gradio's queue already tells every waiting client its position and an
estimated wait (``EstimationMessage``: rank, queue size, ETA from the average
run time of that event), re-sent every second while it waits, and shows it
over the output ("queue: 3/5 | 20.0s"). What it lacks is a per-user cap: one
person clicking Generate ten times would push everyone else back ten places.

Gradio has no public hook for that, so ``limit_queued_per_user`` wraps the
queue's ``push`` (the single place an event joins the queue) and refuses a
new model-bound event when its user already has ``limit`` waiting. The
refusal says why, in the user's language: to a browser as Gradio's "queue
full" answer (HTTP 503) carrying the message, to an API client as a refused
parameter (HTTP 422), the one answer whose text ``gradio_client`` passes on
(it words every 503 as "Queue is full!").
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from tabs.identity import current_user


def queue_user(request: Any, username: str | None) -> str:
    """The user an event in the queue belongs to, through the one door for identity.

    ``request`` is the HTTP request that queued the event (its login or signed
    identity cookie); the session hash is client-chosen, so it is not used.
    """
    return current_user(gr.Request(request=request, username=username)).key


def waiting_for(queue: Any, user: str, groups: tuple[str, ...]) -> int:
    """How many events of ``user`` wait (not yet running) in the ``groups`` queues."""
    count = 0
    for group in groups:
        event_queue = queue.event_queue_per_concurrency_id.get(group)
        for event in getattr(event_queue, "queue", []):
            if queue_user(event.request, event.username) == user:
                count += 1
    return count


def limit_queued_per_user(demo: Any, limit: int, groups: tuple[str, ...]) -> None:
    """Refuse a model-bound event (one whose ``concurrency_id`` is in ``groups``)
    when its user already has ``limit`` events waiting in those queues."""
    queue = demo._queue  # private in Gradio 6: the queue has no public admission hook
    push = queue.push

    async def limited_push(body: Any, request: Any, username: str | None):
        fn = _target(demo, body)
        if fn is not None and fn.concurrency_id in groups:
            user = queue_user(request, username)
            count = waiting_for(queue, user, groups)
            if count >= limit:
                return refusal(request, count)
        return await push(body=body, request=request, username=username)

    queue.push = limited_push


def refusal(request: Any, count: int) -> tuple[bool, Any, str]:
    """What ``push`` answers when the user already has ``count`` requests waiting."""
    from tabs.common import is_api_call
    from tabs.i18n import tr

    message = tr("queue.refused", request, count=count)
    if not is_api_call(request):
        return False, message, "queue_full"
    refused = {"__type__": "validate", "is_valid": False, "parameter_name": "queue"}
    return False, [{**refused, "message": message}], "validator_error"


def _target(demo: Any, body: Any) -> Any:
    """The event function a push is for, as Gradio's own ``push`` finds it (None if unknown)."""
    from gradio import route_utils

    if getattr(body, "fn_index", None) is None:
        return None  # Gradio's push answers that with its own error
    try:
        return route_utils.get_fn(demo, None, body)
    except (KeyError, route_utils.FnIndexInferError):
        return None
