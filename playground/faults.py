"""Named crash points, so fault-injection tests can kill a process at an exact step.

``PLAYGROUND_FAULT_AT=NAME`` (or ``NAME:N`` for the N-th time) makes the
process stop at ``fault_point(NAME)``. ``PLAYGROUND_FAULT_ACTION`` says how:

- ``kill`` (default): SIGKILL itself, like a power cut: no ``finally``, no cleanup;
- ``hang``: block there, as a stuck download or load would (SIGTERM still works);
- ``hang-hard``: block and ignore SIGTERM, so only SIGKILL ends it.

Unset (always, outside tests) a point costs one environment lookup. The points:
``swap.staged``, ``swap.old-cleared``, ``swap.aside``, ``swap.promoted`` (in
``playground.storage.replace_dir``); ``finetune.before-load``,
``finetune.loading``, ``finetune.step``, ``finetune.saving`` (in the trainer).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter

ENV = "PLAYGROUND_FAULT_AT"
ACTION_ENV = "PLAYGROUND_FAULT_ACTION"
_hits: Counter[str] = Counter()
_lock = threading.Lock()


def fault_point(name: str) -> None:
    """Stop here if the environment asks for a fault at ``name`` (see the module doc)."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    with _lock:
        _hits[name] += 1
        if _hits[name] != int(nth or 1):
            return
    action = os.environ.get(ACTION_ENV, "kill")
    # Said on stderr first (a job's log), so a test knows the process got this far.
    print(f"fault point {name} reached: {action}", file=sys.stderr, flush=True)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "hang-hard":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif action != "hang":
        raise ValueError(f"{ACTION_ENV}={action!r}: use kill, hang or hang-hard")
    while True:  # a Python-level wait: a signal handler can still raise here
        time.sleep(0.05)
