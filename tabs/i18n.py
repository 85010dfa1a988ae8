"""UI strings in English and Chinese, read from ``tabs/i18n/*.yaml``.

Each file maps a key to ``{en: ..., zh: ...}``; every tab owns one file.
Gradio picks the language from the browser.
"""

from __future__ import annotations

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


def text(key: str, lang: str = "en") -> str:
    """A string in one language, for server-side messages."""
    return load_strings()[lang][key]
