"""Builders for the agent tests: a LoRA adapter with real weights, a collection, a voice."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TEA_DOCS = {
    "teas.md": "# Teas\n\nLapsang souchong is a smoky black tea from the Wuyi mountains. "
    "It is dried over pinewood fires.\n\n# Green\n\nLongjing is a pan-fired green tea "
    "from Hangzhou with a chestnut taste.",
}
OTHER_DOCS = {"cars.md": "# Cars\n\nThe small red car has four wheels and a loud horn."}


def make_adapter(tiny_models: Path, out: Path, *, seed: int = 3) -> Path:
    """A LoRA adapter on tiny-chat whose B matrices are not zero (so it changes replies)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(tiny_models.parent / "tiny-chat")
    config = LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj", "o_proj"],
                        init_lora_weights=False)  # fmt: skip
    model = get_peft_model(base, config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    model.save_pretrained(out)
    return out


def register_adapter(registry, folder: Path, owner: str, name: str = "my-lora") -> str:
    from playground.config import ModelEntry
    from playground.storage import safe_name

    registry.register(ModelEntry(name=name, task="chat", source=str(folder), base="tiny-chat",
                                 owner=safe_name(owner)))  # fmt: skip
    return name


def make_collection(registry, data_dir: Path, owner: str, name: str, docs: dict[str, str]):
    from playground.rag import CollectionStore, embedder_for, ingest

    folder = data_dir / "sources" / owner
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for file_name, text in docs.items():
        path = folder / file_name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    embedder = embedder_for(registry, "tiny-embedding")
    collection = CollectionStore.for_owner(data_dir, owner).open_or_create(name, embedder)
    ingest(collection, paths, embedder)
    return collection


def save_voice(data_dir: Path, owner: str, name: str = "Me", *, pitch: float = 180.0):
    """A saved voice (3 s of a voiced tone) with its consent record."""
    from playground.storage import user_dir
    from playground.voice import Audio, Reference, VoiceLibrary

    rate = 24000
    t = np.arange(int(3.0 * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * pitch * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    reference = Reference(Audio(tone.astype("float32"), rate), "a test voice saying hello")
    return VoiceLibrary(user_dir(data_dir, owner, "voices")).save(name, reference, consent=True)
