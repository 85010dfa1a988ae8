"""Fault injection: kill -9 at random moments and at named steps; nothing is lost.

Collections: a worker process adds documents in a loop and is killed with
SIGKILL at 20 random moments and at each step of the folder swap; the next
start must list every collection in its old or new state and leave no staging
folder. Fine-tune jobs live in tests/test_faults_finetune.py.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "fault_workers.py"


def start_worker(root: Path, progress: Path, *extra: str, fault: str | None = None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PLAYGROUND_FAULT_AT", None)
    if fault:
        env["PLAYGROUND_FAULT_AT"] = fault
    return subprocess.Popen(
        [sys.executable, str(WORKER), "collections", str(root), str(progress), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def first_line(proc: subprocess.Popen, timeout: float = 120) -> dict:
    """The worker's report of what it found at start (after its recovery)."""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            proc.kill()
            raise AssertionError("the worker did not report within the time limit")
    line = proc.stdout.readline()
    assert line, f"worker ended without a report: {proc.stderr.read()}"
    return json.loads(line)


def committed(progress: Path) -> int:
    lines = progress.read_text().split() if progress.exists() else []
    return int(lines[-1]) if lines else 0


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)


def check_state(state: dict, done: int, allowed: set[int]) -> int:
    """Both collections listed and loadable, notes in an allowed state, nothing stranded."""
    found = state["collections"]
    assert set(found) == {"notes", "other"}, state
    assert all(c["consistent"] for c in found.values()), state
    assert found["notes"]["documents"] in allowed, (done, state)
    assert state["leftover"] == [], state
    return found["notes"]["documents"]


@pytest.fixture
def seeded(tmp_path):
    """A collections folder whose worker has committed a few documents, then was killed."""
    root, progress = tmp_path / "collections", tmp_path / "progress.txt"
    proc = start_worker(root, progress)
    first_line(proc)
    deadline = time.time() + 120
    while committed(progress) < 2 and time.time() < deadline:
        time.sleep(0.05)
    kill(proc)
    assert committed(progress) >= 2
    return root, progress


def test_kill_at_twenty_random_moments_of_indexing(seeded):
    root, progress = seeded
    rng = random.Random(20261201)
    repairs = 0
    for _ in range(20):
        done = committed(progress)
        proc = start_worker(root, progress)
        state = first_line(proc)
        # The kill may land after a swap finished but before its count was logged.
        check_state(state, done, {done, done + 1})
        time.sleep(rng.uniform(0.0, 1.0))
        kill(proc)
        repairs += proc.stderr.read().count("after an interrupted write")
    done = committed(progress)
    final = start_worker(root, progress, "check")
    check_state(first_line(final), done, {done, done + 1})
    final.wait(60)
    assert done >= 10, "the worker should have made progress between kills"
    print(f"{done} documents committed across 20 kills; {repairs} start-up repairs")


SWAP_STEPS = {
    # fault point: which state the next start must show
    "swap.staged": "old",
    "swap.old-cleared": "old",
    "swap.aside": "old",  # only .<name>.old is on disk
    "swap.promoted": "new",
}


@pytest.mark.parametrize("point", list(SWAP_STEPS))
def test_kill_at_each_step_of_the_swap(seeded, point):
    root, progress = seeded
    # The third swap of this run dies at the point (two adds complete first).
    proc = start_worker(root, progress, fault=f"{point}:3")
    before = first_line(proc)["collections"]["notes"]["documents"]
    assert proc.wait(120) == -signal.SIGKILL
    assert committed(progress) == before + 2
    on_disk = sorted(p.name for p in root.iterdir())
    notes = [n for n in on_disk if n.startswith("notes-") or n.startswith(".notes-")]
    if point == "swap.aside":
        assert not any(n.startswith("notes-") for n in notes), on_disk
        assert any(n.endswith(".old") for n in notes), on_disk
    assert any(".staging-" in n for n in on_disk) == (point != "swap.promoted"), on_disk
    expected = before + 2 + (1 if SWAP_STEPS[point] == "new" else 0)
    again = start_worker(root, progress, "check")
    check_state(first_line(again), before + 2, {expected})
    again.wait(60)
