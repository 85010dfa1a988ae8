"""The fine-tune form as one value: what Validate and Start read, defined once.

Both endpoints take the same 22 named parameters (the API page documents each
one); ``read_form`` is the one place they are listed, and ``takes_form`` gives a
handler of ``(ctx, form, ...)`` that public signature.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field, fields
from typing import Any

from playground.finetune.dataset import ColumnMap

ADVANCED = [
    # (setting, component kind, extra kwargs)
    ("rank", "int", {}),
    ("alpha", "int", {}),
    ("dropout", "float", {}),
    ("learning_rate", "float", {}),
    ("epochs", "float", {}),
    ("max_steps", "int", {}),
    ("batch_size", "int", {}),
    ("grad_accum", "int", {}),
    ("max_length", "int", {}),
    ("seed", "int", {}),
]
SETTINGS_ARGS = """\
base: the chat model to fine-tune (a name from the models file).
dataset: the dataset file: Alpaca / ShareGPT / messages JSON or JSONL, or CSV.
format: auto, alpaca, sharegpt, messages or csv (default auto: detected).
col_instruction: CSV column holding the instruction (CSV only; default: guessed).
col_input: CSV column holding the input (optional).
col_output: CSV column holding the reply to learn.
col_system: CSV column holding a system prompt (optional).
val_split: hold out a validation set (default true).
mix_general: share of bundled general instructions to mix in, 0-0.5 (default 0).
rank: LoRA rank; empty picks one from the dataset size.
alpha: LoRA alpha; empty means 2 x rank.
dropout: LoRA dropout; empty for the default.
learning_rate: empty for the default (2e-4).
epochs: empty picks 1-5 from the dataset size.
max_steps: stop after this many steps; empty for no limit.
batch_size: per-device batch size; empty picks one for the device.
grad_accum: gradient accumulation steps; empty picks one.
max_length: tokens per record; empty uses the 95th percentile of the records.
seed: random seed; empty for the default.
precision: auto, fp32, bf16 or fp16 (default auto).
checkpointing: gradient checkpointing, to save memory (default false).
qlora: 4-bit base model, needs a CUDA GPU and bitsandbytes (default false).
"""  # the Args: of finetune_validate and finetune_start (one copy)


def with_settings_args(doc: str) -> str:
    """``doc`` with its ``{settings}`` line replaced by the shared fine-tune Args lines."""
    lines = SETTINGS_ARGS.rstrip("\n").splitlines()

    def indented(match: re.Match) -> str:
        return "\n".join(match.group(1) + line for line in lines)

    return re.sub(r"^( *)\{settings\}$", indented, doc, flags=re.MULTILINE)


@dataclass
class SettingChoices:
    """The fine-tune settings chosen in the form; None leaves one to the one-click defaults."""

    numbers: dict[str, Any] = field(default_factory=dict)  # the ADVANCED settings by name
    val_split: bool | None = None  # None (left out through the API): the default split
    mix_general: float | None = None
    precision: str | None = None
    checkpointing: bool | None = None
    qlora: bool | None = None

    def overrides(self) -> dict[str, Any]:
        """The ``TrainSettings`` values to use instead of the automatic ones."""
        out: dict[str, Any] = {}
        for name, kind, _ in ADVANCED:
            value = self.numbers.get(name)
            if value is not None and value != "":
                out[name] = int(value) if kind == "int" else float(value)
        if self.val_split is not None and not self.val_split:
            out["val_ratio"] = 0.0
        out["mix_general"] = float(self.mix_general or 0)
        out["precision"] = self.precision or "auto"
        out["gradient_checkpointing"] = bool(self.checkpointing)
        out["qlora"] = bool(self.qlora)
        return out


@dataclass
class FinetuneForm:
    """A base model, a dataset file, how to read it (format, CSV columns) and the settings."""

    base: str | None
    dataset: str | None
    format: str = "auto"
    columns: ColumnMap = field(default_factory=ColumnMap)
    settings: SettingChoices = field(default_factory=SettingChoices)


def read_form(
    base, dataset, format=None, col_instruction=None, col_input=None, col_output=None,
    col_system=None, val_split=None, mix_general=None, rank=None, alpha=None, dropout=None,
    learning_rate=None, epochs=None, max_steps=None, batch_size=None, grad_accum=None,
    max_length=None, seed=None, precision=None, checkpointing=None, qlora=None,
) -> FinetuneForm:  # fmt: skip
    """The form's values as one ``FinetuneForm`` (the parameters of Validate and Start)."""
    values = dict(locals())
    columns = {f.name: values[f"col_{f.name}"] or None for f in fields(ColumnMap)}
    numbers = {name: values[name] for name, _, _ in ADVANCED}
    settings = {f.name: values[f.name] for f in fields(SettingChoices) if f.name != "numbers"}
    return FinetuneForm(
        base, dataset, format or "auto", ColumnMap(**columns), SettingChoices(numbers, **settings)
    )


FORM_PARAMETERS = list(inspect.signature(read_form).parameters.values())


def takes_form(handler):
    """``handler(ctx, form, *own)`` seen as ``(ctx, base, dataset, ..., qlora, *own)``.

    Gradio and the API page get ``read_form``'s named parameters with their
    defaults, then the handler's own; ``{settings}`` in the docstring becomes
    their Args lines. The handler gets one ``FinetuneForm``.
    """
    from tabs.common import takes_settings

    wrapper = takes_settings(read_form, "form")(handler)
    wrapper.__doc__ = with_settings_args(handler.__doc__ or "")
    return wrapper
