"""The Gradio UI: one module per tab, each with ``build(ctx)``. No model code here."""

# (tab id, module, pip packages the tab needs beyond the core install)
TABS = [
    ("chat", "tabs.chat", ["transformers"]),
    ("rag", "tabs.rag", ["sentence_transformers", "faiss", "bm25s"]),
    ("finetune", "tabs.finetune", ["peft", "transformers"]),
    ("image", "tabs.image", ["diffusers"]),
    ("voice", "tabs.voice", ["soundfile", "transformers"]),
]
