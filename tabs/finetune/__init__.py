"""The Fine-tune tab: upload a dataset, press Start, watch the loss, try it in Chat.

UI only: every action calls ``playground.finetune``. Training runs in its own
process with a job folder, so this tab only reads files: after a page refresh
(or an app restart) the timer finds the user's jobs again and re-attaches.

``layout`` builds the panels, ``handlers`` and ``results`` hold the event
handlers, ``wiring`` connects them; ``form`` is the one definition of the
Validate / Start parameters.
"""

from __future__ import annotations

import logging

from tabs.common import AppContext
from tabs.finetune.form import ADVANCED, SETTINGS_ARGS, FinetuneForm, read_form, with_settings_args
from tabs.finetune.handlers import check_job_limits
from tabs.finetune.layout import TICK_SECONDS
from tabs.finetune.views import ISSUE_HEADERS, PREVIEW_HEADERS, metrics_frame, status_markdown

_check_job_limits = check_job_limits  # the name tests/test_limits.py imports

__all__ = [
    "ADVANCED",
    "ISSUE_HEADERS",
    "PREVIEW_HEADERS",
    "SETTINGS_ARGS",
    "TICK_SECONDS",
    "FinetuneForm",
    "build",
    "check_job_limits",
    "metrics_frame",
    "read_form",
    "status_markdown",
    "with_settings_args",
]


def build(ctx: AppContext) -> None:
    from playground.finetune import base_models, register_finished
    from tabs.finetune.layout import build_layout
    from tabs.finetune.wiring import wire

    try:  # adapters trained before this start appear in Chat at once
        register_finished(ctx.registry, ctx.data_dir)
    except Exception:  # a damaged job folder must not stop the tab from building
        logging.getLogger(__name__).warning("could not register finished adapters", exc_info=True)
    wire(ctx, build_layout(ctx, base_models(ctx.registry)))
