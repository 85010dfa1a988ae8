"""``playground agent``: create, list, chat (with sources and speech), export, import, errors."""

from __future__ import annotations

import soundfile as sf

from playground.cli import main
from tests.agent_support import TEA_DOCS, make_collection, save_voice


def test_agent_cli_round_trip(tiny_models, tiny_config, tmp_path, capsys):
    from playground.registry import Registry

    data = tmp_path / "data"
    make_collection(Registry(tiny_config), data, "user-ann", "Teas", TEA_DOCS)
    save_voice(data, "user-ann")
    common = ["--config", str(tiny_models), "--data-dir", str(data), "--user", "ann"]
    assert main(["agent", "create", "Tea expert", *common, "--system", "You know teas.",
                 "--collection", "Teas", "--voice", "Me", "--seed", "3",
                 "--max-new-tokens", "12", "--min-relevance", "-1"]) == 0  # fmt: skip
    assert "created agent 'Tea expert' (role, collection, voice)" in capsys.readouterr().out
    assert main(["agent", "list", *common]) == 0
    assert "role, collection, voice" in capsys.readouterr().out
    wav = tmp_path / "reply.wav"
    assert main(["agent", "chat", "Tea expert", "Which tea is smoky?", *common,
                 "--speak-to", str(wav)]) == 0  # fmt: skip
    out = capsys.readouterr()
    assert "[1] teas.md:" in out.out and "speech:" in out.err
    assert sf.info(str(wav)).samplerate == 24000 and sf.info(str(wav)).frames > 0
    zip_path = tmp_path / "tea.zip"
    assert main(["agent", "export", "Tea expert", str(zip_path), *common,
                 "--include-documents"]) == 0  # fmt: skip
    other = ["--config", str(tiny_models), "--data-dir", str(tmp_path / "d2"), "--user", "bo"]
    assert main(["agent", "import", str(zip_path), *other]) == 0
    assert "imported agent 'Tea expert' (role, collection)" in capsys.readouterr().out
    # Someone else sees none of Ann's agents; a bad file is refused with exit status 2.
    assert main(["agent", "chat", "Tea expert", "hi", *common[:4], "--user", "cy"]) == 2
    assert "you have no agent named 'Tea expert'" in capsys.readouterr().err
    junk = tmp_path / "junk.zip"
    junk.write_text("not a zip")
    assert main(["agent", "import", str(junk), *other]) == 2
    assert "not an agent file" in capsys.readouterr().err
