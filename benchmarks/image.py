"""Seconds per image: the image engine vs the plain diffusers pipeline call, same settings.

    python benchmarks/image.py                       # a random SD-shaped pipeline, offline, CPU
    python benchmarks/image.py --config models.yaml --model sd-turbo --steps 2 --guidance 0

Both paths run on the same loaded pipeline with the same prompt, negative
prompt, size, steps, guidance and seed, alternately, after a warm-up. The
engine adds prompt handling, progress callbacks, seeds, PNG metadata and
saving; the target is a ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_bench_pipeline(folder: Path) -> Path:
    """A random pipeline with SD's layout at a reduced width (about 4M parameters)."""
    import yaml

    from playground.testing.text_to_image import build_sd_pipeline

    out = build_sd_pipeline(
        folder / "bench-image",
        text=dict(hidden_size=64, intermediate_size=256, num_hidden_layers=4),
        unet=dict(
            sample_size=16, block_out_channels=(32, 64, 128),
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=64, attention_head_dim=8, norm_num_groups=32,
        ),
        vae=dict(block_out_channels=(16, 32, 32, 32), norm_num_groups=16, sample_size=32),
        scheduler=dict(timestep_spacing="leading"),
    )  # fmt: skip
    config = {
        "defaults": {"device": "cpu", "dtype": "float32"},
        "models": [
            {
                "name": "bench-image",
                "task": "text-to-image",
                "source": str(out),
                "options": {"safety_checker": False, "width": 128, "height": 128},
            }
        ],
    }
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", help="models file (default: build a random bench pipeline)")
    p.add_argument("--model", default="bench-image")
    p.add_argument("--prompt", default="a cat sitting on the windowsill, sunset, masterpiece")
    p.add_argument("--negative", default="blurry, lowres")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--guidance", type=float, default=5.0)
    p.add_argument("--size", type=int, default=128, help="width and height")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for torch (1 is steadier on a busy machine)",
    )
    args = p.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from playground.config import load_config
    from playground.image import ImageRequest, generate
    from playground.registry import Registry

    tmp = tempfile.TemporaryDirectory()
    config_path = args.config or build_bench_pipeline(Path(tmp.name))
    registry = Registry(load_config(config_path))
    model = registry.get(args.model)
    pipe = model.pipe
    out_dir = Path(tmp.name) / "out"
    request = ImageRequest(
        model=args.model,
        prompt=args.prompt,
        negative_prompt=args.negative,
        steps=args.steps,
        guidance=args.guidance,
        width=args.size,
        height=args.size,
        seed=1234,
    )

    def engine() -> None:
        generate(registry, request, out_dir=out_dir)

    def plain() -> None:
        pipe(
            args.prompt,
            negative_prompt=args.negative,
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            width=args.size,
            height=args.size,
            generator=torch.Generator("cpu").manual_seed(1234),
        ).images[0]

    def timed(fn) -> float:
        if str(model.device).startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if str(model.device).startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - start

    engine(), plain()  # warm-up
    engine_s, plain_s = [], []
    for _ in range(args.repeats):
        plain_s.append(timed(plain))
        engine_s.append(timed(engine))
    e, b = statistics.median(engine_s), statistics.median(plain_s)
    best = min(engine_s) / min(plain_s)
    print(
        f"model {args.model} on {model.device}, {args.size}x{args.size}, {args.steps} steps, "
        f"CFG {args.guidance:g}, {args.repeats} repeats (median)"
    )
    print(f"plain diffusers pipeline call: {b:.3f} s/image")
    print(f"playground image engine:       {e:.3f} s/image (generate + PNG with parameters)")
    print(f"ratio engine/plain: {e / b:.3f} (medians), {best:.3f} (best runs); target <= 1.05")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
