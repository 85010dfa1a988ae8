"""Fine-tune engine: datasets, LoRA training jobs, and their adapters. No gradio here.

Heavy libraries (torch, transformers, peft) are imported inside functions only;
the training itself lives in ``playground.finetune.train`` and runs in the
job's own process.
"""

from playground.finetune.dataset import ColumnMap, Issue, ParsedDataset, Record, load_dataset
from playground.finetune.engine import (
    Plan,
    adapter_entry,
    adapter_zip,
    base_models,
    delete_job,
    export_merged,
    merged_zip,
    plan,
    push_adapter,
    register_finished,
    start_job,
)
from playground.finetune.settings import HELP, TrainSettings, auto_settings

__all__ = [
    "HELP",
    "ColumnMap",
    "Issue",
    "ParsedDataset",
    "Plan",
    "Record",
    "TrainSettings",
    "adapter_entry",
    "adapter_zip",
    "auto_settings",
    "base_models",
    "delete_job",
    "export_merged",
    "load_dataset",
    "merged_zip",
    "plan",
    "push_adapter",
    "register_finished",
    "start_job",
]
