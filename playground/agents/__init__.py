"""Agents: one role, its documents, its fine-tuned adapter and its voice, as one thing.

    from playground.agents import AgentStore, reply

    store = AgentStore.for_owner(data_dir, owner)
    store.create(registry, "Tea expert", role, adapter="my-lora", collection="Teas", voice="Me")
    turn = reply(registry, data_dir, owner, "Tea expert", "Which tea is smoky?")
    turn.text, turn.sources, turn.speech

Shared as one zip with ``export_agent`` / ``import_agent``. No gradio here;
torch, peft and the voice model are loaded only when an agent talks.
"""

from playground.agents.record import Agent, AgentSettings, check_name
from playground.agents.share import export_agent, import_agent
from playground.agents.store import AgentStore
from playground.agents.talk import SpeechPiece, Turn, chat_model_for, reply, talk, turn_messages

__all__ = [
    "Agent",
    "AgentSettings",
    "AgentStore",
    "SpeechPiece",
    "Turn",
    "chat_model_for",
    "check_name",
    "export_agent",
    "import_agent",
    "reply",
    "talk",
    "turn_messages",
]
