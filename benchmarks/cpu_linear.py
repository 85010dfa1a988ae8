"""Weight-first small-batch products (``playground.cpu_linear``) vs ``torch.nn.functional.linear``.

    python benchmarks/cpu_linear.py

For Qwen2.5-0.5B's matrices (attention q/k/v, MLP up and down, the output
layer) and 1-128 rows, prints the library call's time, the weight-first
order's time, and the speed-up. Why it is fair: both compute the same product
of the same random float32 tensors in the same process, alternating, each
timed as the median of several calls after a warm-up; the rows a decoding
step has are 1 per running reply, so 1-20 is the range that matters for chat.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHAPES = {"q/k/v 896->1152": (896, 1152), "MLP up 896->4864": (896, 4864),
          "MLP down 4864->896": (4864, 896), "output 896->151936": (896, 151_936)}  # fmt: skip
ROWS = [1, 2, 4, 8, 16, 20, 32, 64, 128]


def median_ms(call, repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1e3


def main() -> int:
    import torch

    from playground.cpu_linear import SMALL_ROWS, weight_first_forward

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"the app uses weight-first up to {SMALL_ROWS} rows")  # fmt: skip
    for label, (inputs, outputs) in SHAPES.items():
        layer = torch.nn.Linear(inputs, outputs, bias=False)
        repeats = 5 if outputs > 100_000 else 30
        cells = []
        for rows in ROWS:
            x = torch.randn(rows, inputs)
            with torch.inference_mode():
                library = median_ms(
                    lambda x=x, w=layer.weight: torch.nn.functional.linear(x, w), repeats
                )
                first = median_ms(lambda x=x, layer=layer: weight_first_forward(layer, x), repeats)
            cells.append(f"{rows}: {library:.1f}/{first:.1f} ms x{library / first:.1f}")
        print(f"{label:<20} " + " | ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
