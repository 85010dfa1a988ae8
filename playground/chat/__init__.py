"""The chat engine: roles (structured system prompts), streaming replies, role cards.

    from playground.chat import GenerationSettings, load_role, stream_chat

    role = load_role("sd-prompt")
    messages = role.messages([{"role": "user", "content": "a cat on a windowsill"}])
    for text in stream_chat(registry, "qwen2.5-0.5b-instruct", messages):
        print(text)  # the reply so far

No gradio here, and torch/transformers are imported only when a reply is generated.
"""

from playground.chat.cards import character_to_role, export_card, export_card_json, import_card
from playground.chat.engine import ChatStream, StreamInfo, complete, render_prompt, stream_chat
from playground.chat.prompt import PreparedPrompt, prepare
from playground.chat.roles import (
    Example,
    Role,
    delete_user_role,
    list_roles,
    load_role,
    preset_ids,
    save_user_role,
)
from playground.chat.settings import GenerationSettings

__all__ = [
    "ChatStream",
    "Example",
    "GenerationSettings",
    "PreparedPrompt",
    "Role",
    "StreamInfo",
    "character_to_role",
    "complete",
    "delete_user_role",
    "export_card",
    "export_card_json",
    "import_card",
    "list_roles",
    "load_role",
    "prepare",
    "preset_ids",
    "render_prompt",
    "save_user_role",
    "stream_chat",
]
