"""The image engine: text to image with prompt weights, seeds, PNG parameters and history.

Used by the Image tab and by ``playground image``; no UI code here.
"""

from playground.image.assistant import PromptSuggestion, parse_reply, suggest_prompt
from playground.image.engine import (
    GeneratedImage,
    ImageRequest,
    ImageResult,
    StepProgress,
    describe_estimate,
    generate,
    generate_stream,
    model_defaults,
)
from playground.image.history import HistoryItem, list_history, save_image
from playground.image.params import (
    ImageParams,
    format_parameters,
    parse_parameters,
    read_parameters,
)
from playground.image.prompt_weights import parse_weights

__all__ = [
    "GeneratedImage",
    "HistoryItem",
    "ImageParams",
    "ImageRequest",
    "ImageResult",
    "PromptSuggestion",
    "StepProgress",
    "describe_estimate",
    "format_parameters",
    "generate",
    "generate_stream",
    "list_history",
    "model_defaults",
    "parse_parameters",
    "parse_reply",
    "parse_weights",
    "read_parameters",
    "save_image",
    "suggest_prompt",
]
