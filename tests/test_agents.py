"""Agents on the tiny models: the four parts, one turn through all of them, sharing, isolation."""

from __future__ import annotations

import numpy as np
import pytest

from playground.agents import (
    AgentSettings,
    AgentStore,
    export_agent,
    import_agent,
    reply,
    talk,
)
from playground.chat import Role
from playground.errors import InputError
from tests.agent_support import (
    OTHER_DOCS,
    TEA_DOCS,
    make_adapter,
    make_collection,
    register_adapter,
    save_voice,
)

ALICE, BOB = "user-alice", "user-bob"
QUESTION = "Which tea is smoky?"
# Every retrieved chunk counts as relevant: the tiny embedding model is random.
SETTINGS = AgentSettings(generation={"seed": 11, "max_new_tokens": 24}, min_relevance=-1.0)
ROLE = Role(id="tea-expert", name="Tea expert", role="You are a tea expert. Answer briefly.")


@pytest.fixture(scope="module")
def world(tiny_config, tiny_models, tmp_path_factory):
    """A registry and a data folder where Alice has an adapter, a collection and a voice."""
    from types import SimpleNamespace

    from playground.registry import Registry

    registry = Registry(tiny_config)
    data_dir = tmp_path_factory.mktemp("agents-data")
    adapter = make_adapter(tiny_models, tmp_path_factory.mktemp("lora") / "adapter")
    register_adapter(registry, adapter, ALICE)
    make_collection(registry, data_dir, ALICE, "Teas", TEA_DOCS)
    make_collection(registry, data_dir, BOB, "Teas", OTHER_DOCS)  # same name, Bob's own
    save_voice(data_dir, ALICE)
    store = AgentStore.for_owner(data_dir, ALICE)
    agent = store.create(registry, "Tea expert", ROLE, adapter="my-lora", collection="Teas",
                         voice="Me", settings=SETTINGS)  # fmt: skip
    return SimpleNamespace(registry=registry, data_dir=data_dir, agent=agent, store=store)


def test_create_an_agent_with_all_four_parts(world):
    agent = world.store.get("Tea expert")
    assert agent.parts() == ["role", "collection", "adapter", "voice"]
    assert agent.model == "tiny-chat" and agent.adapter["base"] == "tiny-chat"
    assert (agent.adapter_dir / "adapter_config.json").is_file()
    assert (agent.voice_dir / "reference.wav").is_file()
    assert agent.voice["consent"]["confirmed"] is True
    assert agent.role.system_prompt() == ROLE.system_prompt()
    assert world.store.names() == ["Tea expert"]
    assert agent.folder.parent == world.data_dir / "users" / ALICE / "agents"


def test_a_turn_retrieves_answers_through_the_adapter_and_speaks(world):
    from playground.voice import VoiceSettings, clone

    turn = reply(world.registry, world.data_dir, ALICE, "Tea expert", QUESTION)
    # Retrieval: the sources are Alice's tea chunks (Bob's "Teas" holds cars), numbered in the prompt.
    assert turn.sources and all(h.chunk.source == "teas.md" for h in turn.sources)
    first = turn.sources[0].chunk.text.strip()
    assert '<source id="1" file="teas.md"' in turn.info.prompt and first in turn.info.prompt
    assert "You are a tea expert." in turn.info.prompt  # the role is the system prompt
    assert turn.sources_json()[0]["n"] == 1
    # The adapter: a LoRA entry on tiny-chat, and a different reply than the base model's.
    entry = world.registry.entry(turn.model)
    assert entry.base == "tiny-chat" and entry.source == str(world.agent.adapter_dir.resolve())
    base_agent = world.store.create(world.registry, "Plain", ROLE, model="tiny-chat",
                                    collection="Teas", settings=SETTINGS)  # fmt: skip
    try:
        base = reply(world.registry, world.data_dir, ALICE, "Plain", QUESTION, speak=False)
    finally:
        world.store.delete(base_agent.name)
    assert base.info.prompt == turn.info.prompt  # same prompt, same seed ...
    assert base.text != turn.text  # ... and the adapter makes the difference
    # Speech: every sentence of the reply, in the saved voice (same seed -> the same audio).
    assert [p.sentence for p in turn.speech] and all(
        p.metadata["voice"] == "Me" for p in turn.speech
    )
    piece = turn.speech[0]
    reference = _voice_reference(world)
    again = clone(world.registry, "tiny-voice", reference, piece.sentence,
                  VoiceSettings(seed=SETTINGS.generation["seed"] + 1), consent=True)  # fmt: skip
    assert np.array_equal(again.audio, piece.audio)
    audio, rate = turn.speech_audio()
    assert rate == piece.sample_rate and len(audio) > 0


def _voice_reference(world):
    from playground.storage import user_dir
    from playground.voice import VoiceLibrary

    return VoiceLibrary(user_dir(world.data_dir, ALICE, "voices")).load("Me")


def test_same_seed_same_reply_and_grounding_toggle(world):
    one = reply(world.registry, world.data_dir, ALICE, "Tea expert", QUESTION, speak=False)
    two = reply(world.registry, world.data_dir, ALICE, "Tea expert", QUESTION, speak=False)
    assert one.text == two.text and not one.speech
    off = reply(world.registry, world.data_dir, ALICE, "Tea expert", QUESTION, speak=False,
                grounding=False)  # fmt: skip
    assert off.sources == [] and "<source" not in off.info.prompt


def test_export_import_on_a_fresh_data_folder_gives_the_same_answer(world, tmp_path):
    zip_path = export_agent(world.data_dir, ALICE, "Tea expert", tmp_path / "tea.zip",
                            include_documents=True, include_voice=True)  # fmt: skip
    fresh = tmp_path / "fresh-data"
    from playground.registry import Registry

    registry = Registry(world.registry.config)  # a new server: no adapter registered
    imported = import_agent(registry, fresh, "user-carol", zip_path)
    assert imported.parts() == ["role", "collection", "adapter", "voice"]
    before = reply(world.registry, world.data_dir, ALICE, "Tea expert", QUESTION)
    after = reply(registry, fresh, "user-carol", imported.name, QUESTION)
    assert after.text == before.text
    assert [h.chunk.text for h in after.sources] == [h.chunk.text for h in before.sources]
    assert [p.sentence for p in after.speech] == [p.sentence for p in before.speech]
    assert np.array_equal(after.speech[0].audio, before.speech[0].audio)
    from playground.rag import CollectionStore

    assert CollectionStore.for_owner(fresh, "user-carol").names() == ["Teas"]


def test_export_leaves_out_voice_and_documents_unless_asked(world, tmp_path):
    import zipfile

    path = export_agent(world.data_dir, ALICE, "Tea expert", tmp_path / "lean.zip")
    names = zipfile.ZipFile(path).namelist()
    assert "role.json" in names and "adapter/adapter_config.json" in names
    assert not any(n.startswith(("voice/", "collection/")) for n in names)
    imported = import_agent(world.registry, tmp_path / "d2", BOB, path)
    assert imported.parts() == ["role", "adapter"]


def test_another_user_cannot_see_chat_with_or_export_it(world, tmp_path):
    bob = AgentStore.for_owner(world.data_dir, BOB)
    assert bob.names() == []
    with pytest.raises(InputError, match="no agent named 'Tea expert'"):
        reply(world.registry, world.data_dir, BOB, "Tea expert", QUESTION)
    with pytest.raises(InputError, match="not one of yours"):
        reply(world.registry, world.data_dir, BOB, world.agent, QUESTION)
    with pytest.raises(InputError, match="no agent named"):
        export_agent(world.data_dir, BOB, "Tea expert", tmp_path / "stolen.zip")
    assert not (tmp_path / "stolen.zip").exists()
    # Alice's adapter (and the agent's copy) are hers only in the model lists.
    turn_model = next(n for n in world.registry.names() if n.startswith("agent-"))
    assert world.registry.entry(turn_model).visible_to(ALICE)
    assert not world.registry.entry(turn_model).visible_to(BOB)
    assert "alice" not in turn_model
    with pytest.raises(InputError, match="another user's adapter"):
        bob.create(world.registry, "Copycat", ROLE, adapter="my-lora")
    with pytest.raises(InputError, match="no saved voice|No saved voice"):
        bob.create(world.registry, "Copycat", ROLE, voice="Me")
    assert bob.names() == []


def test_rename_delete_and_names(world):
    store = AgentStore.for_owner(world.data_dir, "user-dave")
    agent = store.create(world.registry, "  Helper  ", ROLE)
    assert agent.name == "Helper" and agent.model == "tiny-chat" and agent.revision == 1
    with pytest.raises(InputError, match="already have an agent named"):
        store.create(world.registry, "helper", ROLE)
    renamed = store.rename("Helper", "Butler")
    assert renamed.revision == 2 and store.names() == ["Butler"]
    assert renamed.folder == agent.folder  # renaming never moves files
    for bad, why in [("", "give the agent a name"), ("x" * 61, "at most 60"),
                     ("a\x00b", "control characters")]:  # fmt: skip
        with pytest.raises(InputError, match=why):
            store.create(world.registry, bad, ROLE)
    store.delete("Butler")
    assert store.names() == [] and not agent.folder.exists()
    assert [p.name for p in store.root.iterdir()] == []


def test_each_sentence_is_spoken_once_it_is_complete(world):
    from playground.agents.talk import SentenceSpeaker

    speaker = SentenceSpeaker(world.registry, world.store.get("Tea expert"), ALICE, seed=5)
    first = speaker.feed("Hello there. How are", final=False, stop=None)
    assert [p.sentence for p in first] == ["Hello there."]  # "How are" may still grow
    second = speaker.feed("Hello there. How are you? Fine", final=False, stop=None)
    assert [p.sentence for p in second] == ["How are you?"]
    last = speaker.feed("Hello there. How are you? Fine", final=True, stop=None)
    assert [(p.index, p.sentence) for p in last] == [(3, "Fine")]
    assert all(len(p.audio) > 0 for p in first + second + last)


# ---------------------------------------------------------------- bad imports


def _rewrite(src, dst, *, drop=(), add=None, manifest=None):
    """Copy the zip ``src`` to ``dst`` without ``drop``, with ``add`` files and manifest edits."""
    import json
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            if item.filename in drop:
                continue
            data = zin.read(item)
            if item.filename == "manifest.json" and manifest:
                data = json.dumps(manifest(json.loads(data))).encode()
            zout.writestr(item, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def _base_elsewhere(m):
    m["adapter"]["base"] = "qwen2.5-7b-instruct"
    return m


def _no_consent(m):
    m["voice"]["consent"] = {"confirmed": False}
    return m


BAD_IMPORTS = [
    ("not-a-zip", None, "not an agent file \\(not a zip archive\\)"),
    ("no-role", {"drop": ["role.json"]}, "missing its role.json"),
    ("no-manifest", {"drop": ["manifest.json"]}, "missing its manifest.json"),
    ("no-adapter-weights", {"drop": ["adapter/adapter_model.safetensors"]},
     "missing a part: adapter/adapter_model.safetensors"),
    ("base-elsewhere", {"manifest": _base_elsewhere},
     "trained on base model 'qwen2.5-7b-instruct', which this server does not have"),
    ("voice-no-consent", {"manifest": _no_consent}, "without a consent record"),
    ("unsafe-path", {"add": {"../evil.txt": b"x"}}, "unsafe path '../evil.txt'"),
    ("stowaway", {"add": {"adapter/extra.bin": b"x"}}, "does not list: adapter/extra.bin"),
]  # fmt: skip


@pytest.fixture(scope="module")
def full_zip(world, tmp_path_factory):
    folder = tmp_path_factory.mktemp("zips")
    return export_agent(world.data_dir, ALICE, "Tea expert", folder / "tea.zip",
                        include_documents=True, include_voice=True)  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "message"), BAD_IMPORTS, ids=[c[0] for c in BAD_IMPORTS]
)
def test_bad_imports_say_why_and_leave_nothing_behind(
    world, full_zip, tmp_path, case, change, message
):
    data_dir = tmp_path / "data"
    if change is None:
        bad = tmp_path / "bad.zip"
        bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    else:
        bad = _rewrite(full_zip, tmp_path / "bad.zip", **change)
    with pytest.raises(InputError, match=message):
        import_agent(world.registry, data_dir, "user-erin", bad)
    left = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file())
    assert left == []
    assert AgentStore.for_owner(data_dir, "user-erin").names() == []


def test_import_of_documents_needs_their_embedding_model(world, full_zip, tmp_path):
    """Documents embedded by a model this server lacks cannot be searched: refused."""
    import hashlib
    import json
    import zipfile

    with zipfile.ZipFile(full_zip) as zf:
        manifest = json.loads(zf.read("collection/manifest.json"))
    manifest["embedding"].update(name="bge-m3-elsewhere", source="/nonexistent/bge-m3")
    data = json.dumps(manifest).encode()

    def relist(m):
        m["files"]["collection/manifest.json"] = hashlib.sha256(data).hexdigest()
        return m

    bad = _rewrite(full_zip, tmp_path / "bad.zip", drop=["collection/manifest.json"],
                   add={"collection/manifest.json": data}, manifest=relist)  # fmt: skip
    with pytest.raises(InputError, match="documents cannot be used here.*'bge-m3-elsewhere'"):
        import_agent(world.registry, tmp_path / "data", "user-erin", bad)
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]


def test_a_damaged_part_is_caught_by_its_checksum(world, full_zip, tmp_path):
    import zipfile

    with zipfile.ZipFile(full_zip) as zf:
        config = zf.read("adapter/adapter_config.json")
    bad = _rewrite(full_zip, tmp_path / "bad.zip", drop=["adapter/adapter_config.json"],
                   add={"adapter/adapter_config.json": config.replace(b"4", b"8", 1)})  # fmt: skip
    with pytest.raises(InputError, match="adapter/adapter_config.json does not match its checksum"):
        import_agent(world.registry, tmp_path / "data", "user-erin", bad)


def test_an_unseeded_reply_is_spoken_while_it_still_streams(world, monkeypatch):
    """Speech for the first sentence arrives in an update before the reply is done."""
    import playground.chat as chat
    from playground.chat import StreamInfo

    class FakeStream:
        def __init__(self, *args, **kwargs):
            self.info = StreamInfo(model="tiny-chat", prompt="p")

        def __iter__(self):
            yield from [
                "Lapsang is smoky.",
                "Lapsang is smoky. It is",
                "Lapsang is smoky. It is dried.",
            ]

        def close(self):
            pass

    monkeypatch.setattr(chat, "stream_chat", FakeStream)
    unseeded = AgentSettings(generation={"max_new_tokens": 8}, min_relevance=-1.0)
    world.store.update("Tea expert", settings=unseeded)
    try:
        updates = [
            (t.done, len(t.speech))
            for t in talk(
                world.registry, world.data_dir, ALICE, "Tea expert", QUESTION, grounding=False
            )
        ]
    finally:
        world.store.update("Tea expert", settings=SETTINGS)
    assert updates == [(False, 0), (False, 1), (False, 1), (True, 2)]


def test_a_picture_is_kept_shared_and_checked(world, tmp_path):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    store = AgentStore.for_owner(world.data_dir, "user-fay")
    agent = store.create(world.registry, "Pictured", ROLE, picture=buffer.getvalue())
    assert agent.picture == "picture.png" and agent.picture_path.read_bytes() == buffer.getvalue()
    path = export_agent(world.data_dir, "user-fay", "Pictured", tmp_path / "p.zip")
    imported = import_agent(world.registry, tmp_path / "d", "user-gus", path)
    assert imported.picture_path.read_bytes() == buffer.getvalue()
    with pytest.raises(InputError, match="not a readable image"):
        store.create(world.registry, "Broken", ROLE, picture=b"GIF89a nonsense")
    assert store.names() == ["Pictured"]


def test_a_deleted_agents_adapter_leaves_every_model_list(world):
    from playground.agents.talk import chat_model_for, retire_adapter

    store = AgentStore.for_owner(world.data_dir, ALICE)
    doomed = store.create(world.registry, "Doomed", ROLE, adapter="my-lora")
    name = chat_model_for(world.registry, doomed, ALICE)
    assert world.registry.entry(name).visible_to(ALICE)
    retire_adapter(world.registry, doomed)
    store.delete("Doomed")
    assert not world.registry.entry(name).visible_to(ALICE)
    assert not world.registry.entry(name).visible_to(".retired")
