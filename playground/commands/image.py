"""``playground image``: make an image from a prompt, the same engine as the Image tab."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground.commands import add_config_arg, open_registry


def register(sub) -> None:
    parser = sub.add_parser(
        "image",
        help="generate an image from a text prompt",
        description="Generate images with a text-to-image model from the models file. "
        "Prompt weights use the AUTOMATIC1111 syntax: (word), (word:1.3), [word].",
    )
    add_config_arg(parser)
    parser.add_argument("prompt", help="what the image should show")
    parser.add_argument("--model", help="text-to-image model name (default: the first one)")
    parser.add_argument("--negative", default="", metavar="TEXT", help="what to avoid")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    parser.add_argument("--guidance", type=float, metavar="G", help="CFG scale")
    parser.add_argument("--width", type=int, metavar="W")
    parser.add_argument("--height", type=int, metavar="H")
    parser.add_argument("--scheduler", default="default", help="sampler, e.g. 'Euler a'")
    parser.add_argument("--seed", type=int, metavar="S", help="default: random (always printed)")
    parser.add_argument("--count", type=int, default=1, metavar="N", help="images to make")
    parser.add_argument(
        "--out",
        default="image.png",
        metavar="FILE.png",
        help="where to save (with --count N: FILE-1.png ... FILE-N.png)",
    )
    parser.set_defaults(handler=_image)


def _image(args: argparse.Namespace) -> int:
    from playground.errors import InputError
    from playground.image import ImageRequest, generate
    from playground.image.history import save_image

    registry = open_registry(args.config)
    model = args.model
    if not model:
        names = registry.names("text-to-image")
        if not names:
            raise InputError(
                f"{args.config} has no text-to-image model; add one (task: text-to-image)."
            )
        model = names[0]
    request = ImageRequest(
        model=model,
        prompt=args.prompt,
        negative_prompt=args.negative,
        steps=args.steps,
        guidance=args.guidance,
        width=args.width,
        height=args.height,
        scheduler=args.scheduler,
        seed=args.seed,
        batch_count=args.count,
    )
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise InputError(f"--out {out}: the file must end in .png (it carries the parameters).")

    def progress(p) -> None:
        print(
            f"\rimage {p.image_index + 1}/{p.image_count} step {p.step}/{p.steps}"
            + (f", ~{p.seconds_left:.0f}s left" if p.seconds_left is not None else ""),
            end="",
            file=sys.stderr,
            flush=True,
        )

    result = generate(registry, request, on_progress=progress)
    print(file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for i, item in enumerate(result.images, 1):
        path = out if len(result.images) == 1 else out.with_name(f"{out.stem}-{i}{out.suffix}")
        saved = save_image(path.parent, item.image, item.params)
        saved.replace(path)
        p = item.params
        print(
            f"{path}  seed {p.seed}, {p.width}x{p.height}, {p.steps} steps, "
            f"{p.sampler}, CFG {p.guidance:g}, model {p.model}"
        )
    print(f"{len(result.images)} image(s) in {result.seconds:.1f}s", file=sys.stderr)
    return 1 if result.cancelled else 0
