"""Generation parameters, and the AUTOMATIC1111 ``parameters`` text that PNGs carry.

Every saved PNG has a ``parameters`` text chunk in the format the Stable
Diffusion community tools read and write::

    a cat on a windowsill, (sunset:1.2)
    Negative prompt: blurry, lowres
    Steps: 4, Sampler: Euler, CFG scale: 5.0, Seed: 1234, Size: 512x512, Model: sd-turbo

``format_parameters`` and ``parse_parameters`` round-trip; values that hold a
comma or a quote are written as JSON strings, as AUTOMATIC1111 does.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from playground.errors import InputError

NEGATIVE = "Negative prompt:"
# `Key: value` pairs of the last line; a value is a JSON string or runs to the next comma.
_PAIR = re.compile(r'\s*([\w][\w \-/().]*?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')
_SIZE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")


@dataclass
class ImageParams:
    """What it takes to make one image again."""

    prompt: str
    negative_prompt: str = ""
    steps: int = 20
    sampler: str = "default"
    guidance: float = 7.0
    seed: int = 0
    width: int = 512
    height: int = 512
    model: str = ""
    # Anything else on the parameters line (kept so a round trip loses nothing).
    extra: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quote(value: Any) -> str:
    text = str(value)
    if "," in text or '"' in text or "\n" in text or ":" in text:
        return json.dumps(text, ensure_ascii=False)
    return text


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        try:
            return str(json.loads(value))
        except json.JSONDecodeError:
            return value[1:-1]
    return value


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else f"{value:.1f}"


def format_parameters(params: ImageParams) -> str:
    """The AUTOMATIC1111 ``parameters`` text for ``params``."""
    pairs = {
        "Steps": str(params.steps),
        "Sampler": params.sampler,
        "CFG scale": _number(float(params.guidance)),
        "Seed": str(params.seed),
        "Size": f"{params.width}x{params.height}",
        "Model": params.model,
        **params.extra,
    }
    line = ", ".join(f"{key}: {_quote(value)}" for key, value in pairs.items() if value != "")
    text = params.prompt
    if params.negative_prompt:
        text += f"\n{NEGATIVE} {params.negative_prompt}"
    return f"{text}\n{line}"


def parse_parameters(text: str) -> ImageParams:
    """Read AUTOMATIC1111 ``parameters`` text (from us or from other tools)."""
    lines = text.strip("\n").split("\n")
    last = lines[-1] if lines else ""
    pairs = dict((k.strip(), _unquote(v)) for k, v in _PAIR.findall(last)) if ":" in last else {}
    if "Steps" not in pairs and "Seed" not in pairs:
        raise InputError(
            "these PNG parameters have no 'Steps:'/'Seed:' line, so they were not written by "
            "the Playground or AUTOMATIC1111; type the settings in by hand.",
            key="errors.image.foreign_parameters",
        )
    body = lines[:-1]
    prompt_lines, negative_lines, in_negative = [], [], False
    for line in body:
        if line.startswith(NEGATIVE):
            in_negative = True
            line = line[len(NEGATIVE) :].lstrip()
        (negative_lines if in_negative else prompt_lines).append(line)
    params = ImageParams(prompt="\n".join(prompt_lines), negative_prompt="\n".join(negative_lines))
    known = {"Steps", "Sampler", "CFG scale", "Seed", "Size", "Model"}
    try:
        params.steps = int(pairs.get("Steps", params.steps))
        params.sampler = pairs.get("Sampler", params.sampler)
        params.guidance = float(pairs.get("CFG scale", params.guidance))
        params.seed = int(pairs.get("Seed", params.seed))
    except ValueError as exc:
        raise InputError(
            f"the PNG parameters have a value that is not a number: {exc}",
            key="errors.image.parameter_not_number",
            detail=str(exc),
        ) from None
    size = _SIZE.match(pairs.get("Size", ""))
    if size:
        params.width, params.height = int(size.group(1)), int(size.group(2))
    params.model = pairs.get("Model", "")
    params.extra = {k: v for k, v in pairs.items() if k not in known}
    return params


# ---------------------------------------------------------------- PNG files


def png_info(params: ImageParams):
    """A ``PngInfo`` holding the ``parameters`` chunk (UTF-8 iTXt when not Latin-1)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", format_parameters(params))
    return info


def png_bytes(image, params: ImageParams) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=png_info(params))
    return buffer.getvalue()


def read_parameters(source: str | Path | Any) -> ImageParams:
    """The generation parameters of a PNG file (or an opened PIL image)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            with Image.open(path) as image:
                image.load()
                text = image.info.get("parameters")
        except (UnidentifiedImageError, OSError) as exc:
            raise InputError(
                f"{path.name}: not an image file ({exc}).",
                key="errors.image.not_an_image",
                name=path.name,
                detail=str(exc),
            ) from None
        name = path.name
    else:
        text = getattr(source, "info", {}).get("parameters")
        name = "this image"
    if not text:
        raise InputError(
            f"{name} carries no generation parameters (no 'parameters' text chunk). Only PNGs "
            "saved by the Playground or AUTOMATIC1111-style tools have them; a screenshot or a "
            "re-saved JPEG does not.",
            key=(
                "errors.image.file_has_no_parameters"
                if isinstance(source, (str, Path))
                else "errors.image.image_has_no_parameters"
            ),
            name=name,
        )
    return parse_parameters(str(text))
