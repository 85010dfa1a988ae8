"""``playground image`` in-process on the tiny pipeline."""

from __future__ import annotations

import numpy as np
from PIL import Image

from playground.cli import main
from playground.image import read_parameters


def test_cli_writes_png_with_parameters_and_reproduces(tiny_models, tmp_path, capsys):
    out = tmp_path / "cat.png"
    args = ["image", "--config", str(tiny_models), "--model", "tiny-image", "--seed", "9"]
    args += ["--steps", "2", "--negative", "blurry, dark", "--out", str(out), "a (cat:1.2)"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "seed 9" in printed
    params = read_parameters(out)
    assert (params.prompt, params.negative_prompt, params.seed, params.steps) == (
        "a (cat:1.2)",
        "blurry, dark",
        9,
        2,
    )
    again = tmp_path / "again.png"
    assert main([*args[:-3], "--out", str(again), "a (cat:1.2)"]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(again)))


def test_cli_batch_and_random_seed_are_reported(tiny_models, tmp_path, capsys):
    out = tmp_path / "many.png"
    args = ["image", "--config", str(tiny_models), "--steps", "1", "--count", "2"]
    assert main([*args, "--out", str(out), "a dog"]) == 0
    printed = capsys.readouterr().out.splitlines()
    seeds = [int(line.split("seed ")[1].split(",")[0]) for line in printed]
    assert seeds[1] == seeds[0] + 1
    assert (tmp_path / "many-1.png").exists() and (tmp_path / "many-2.png").exists()


def test_cli_bad_values_exit_2_with_one_line(tiny_models, tmp_path, capsys):
    base = ["image", "--config", str(tiny_models), "--model", "tiny-image"]
    assert main([*base, "--width", "100", "--out", str(tmp_path / "x.png"), "a cat"]) == 2
    assert "not a multiple of 8" in capsys.readouterr().err
    assert main([*base, "--steps", "0", "a cat"]) == 2
    assert "steps must be" in capsys.readouterr().err
    assert main([*base, "--scheduler", "Nope", "a cat"]) == 2
    assert "unknown scheduler 'Nope'" in capsys.readouterr().err
    assert main([*base, "--model", "missing", "a cat"]) == 2
    assert "not configured" in capsys.readouterr().err
