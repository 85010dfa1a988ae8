"""UI strings in English and Chinese, read from ``tabs/i18n/*.yaml``.

Each file maps a key to ``{en: ..., zh: ...}``; every tab owns one file.
Gradio picks the language from the browser.
"""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr
import yaml

FOLDER = Path(__file__).parent / "i18n"
LANGUAGES = ("en", "zh")


def load_strings(folder: Path = FOLDER) -> dict[str, dict[str, str]]:
    """``{language: {key: text}}`` from every YAML file in ``folder``."""
    table: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, texts in data.items():
            if key in table["en"]:
                raise ValueError(f"{path.name}: string '{key}' is already defined in another file")
            missing = [lang for lang in LANGUAGES if lang not in (texts or {})]
            if missing:
                raise ValueError(f"{path.name}: string '{key}' has no {', '.join(missing)} text")
            for lang in LANGUAGES:
                table[lang][key] = str(texts[lang])
    return table


def build_i18n() -> gr.I18n:
    strings = load_strings()
    # Browsers report zh-CN / zh-TW; give them the Chinese table too.
    return gr.I18n(**strings, **{"zh-CN": strings["zh"], "zh-TW": strings["zh"]})


@functools.cache
def _table() -> dict[str, dict[str, str]]:
    return load_strings()


def text(key: str, lang: str = "en") -> str:
    """A string in one language, for server-side messages."""
    return _table()[lang][key]


def request_language(request) -> str:
    """``zh`` when the browser asks for Chinese (Accept-Language), else ``en``."""
    headers = getattr(request, "headers", None) or {}
    return "zh" if str(headers.get("accept-language", "")).lower().startswith("zh") else "en"


def tr(key: str, request, **values) -> str:
    """A server-side message (gr.Info, gr.Warning, status text) in the browser's language."""
    table = _table()
    message = table[request_language(request)].get(key) or table["en"].get(key, key)
    return message.format(**values) if values else message
