"""``playground voice clone|check`` run in-process."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from playground.cli import main
from playground.voice import read_wav_info
from tests.voice_clips import GOOD_TEXT, make_clips


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_clips(tmp_path_factory.mktemp("clips"))


def test_check_good_clip_exit_0(tiny_models, clips, capsys):
    assert main(["voice", "check", "--config", str(tiny_models), str(clips["good"])]) == 0
    out = capsys.readouterr().out
    assert "usable" in out and "24000 Hz" in out


@pytest.mark.parametrize(
    ("clip", "reason"),
    [
        ("short", "Too short"),
        ("silence", "no speech"),
        ("noise", "music or noise"),
        ("not_audio", "not an audio file"),
    ],
)
def test_check_bad_clips_exit_2_with_reason(tiny_models, clips, capsys, clip, reason):
    assert main(["voice", "check", "--config", str(tiny_models), str(clips[clip])]) == 2
    assert reason in capsys.readouterr().err


def test_clone_writes_wav_with_metadata(tiny_models, clips, tmp_path, capsys):
    out = tmp_path / "said.wav"
    args = ["voice", "clone", "--config", str(tiny_models), "--model", "tiny-voice",
            "--reference", str(clips["good"]), "--reference-text", GOOD_TEXT, "--seed", "3",
            "--out", str(out), "--consent", "Hello there. 你好。"]  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "seed 3" in captured.out
    assert "[2/2] 你好。" in captured.err
    data, rate = sf.read(out)
    assert rate == 24000 and len(data) > 0
    assert "AI-generated" in read_wav_info(out)["title"]
    assert json.loads(out.with_suffix(".json").read_text())["seed"] == 3


def test_clone_without_consent_exit_2(tiny_models, clips, tmp_path, capsys):
    args = ["voice", "clone", "--config", str(tiny_models), "--reference", str(clips["good"]),
            "--out", str(tmp_path / "x.wav"), "Hello."]  # fmt: skip
    assert main(args) == 2
    assert "--consent" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def test_clone_with_unusable_reference_exit_2(tiny_models, clips, tmp_path, capsys):
    args = ["voice", "clone", "--config", str(tiny_models), "--reference", str(clips["short"]),
            "--out", str(tmp_path / "x.wav"), "--consent", "Hello."]  # fmt: skip
    assert main(args) == 2
    assert "Too short" in capsys.readouterr().err
