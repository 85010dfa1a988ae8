"""Start-up time of ``python app.py`` vs a bare 5-tab Gradio Blocks app.

Both are launched as fresh processes, alternately, and timed from spawn until
their HTTP server answers. Prints each run, the medians and their ratio
(target: <= 1.3).

    python benchmarks/startup.py [--runs 3] [--config models.yaml]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BARE_APP = """
import gradio as gr
with gr.Blocks(title="bare") as demo:
    with gr.Tabs():
        for name in ["Chat", "Documents", "Fine-tune", "Image", "Voice"]:
            with gr.Tab(name):
                box = gr.Textbox(label=name)
                gr.Button("Go").click(lambda x: x, box, box)
demo.queue().launch(server_name="127.0.0.1", server_port=int(__import__("sys").argv[1]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_to_ready(cmd: list[str], port: int, timeout: float = 120.0) -> float:
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd} exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"{cmd} not ready after {timeout}s")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--config", default=str(ROOT / "models.yaml"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_app.py"
        bare.write_text(BARE_APP)
        data = Path(tmp) / "data"
        ours, base = [], []
        for i in range(args.runs):
            port = free_port()
            base.append(time_to_ready([sys.executable, str(bare), str(port)], port))
            port = free_port()
            ours.append(
                time_to_ready(
                    [
                        sys.executable,
                        "app.py",
                        "--config",
                        args.config,
                        "--port",
                        str(port),
                        "--data-dir",
                        str(data),
                    ],
                    port,
                )
            )
            print(f"run {i + 1}: bare gradio {base[-1]:.2f}s   app.py {ours[-1]:.2f}s")
    b, o = statistics.median(base), statistics.median(ours)
    print(f"median: bare gradio {b:.2f}s, app.py {o:.2f}s")
    print(f"ratio app/bare = {o / b:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
