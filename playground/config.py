"""The ``models.yaml`` schema: every model the hub can use, validated up front.

A bad file fails at start-up with one message that names the file, the line,
the model entry, the field, the bad value and the allowed values -- never a
traceback. ``load_config`` is the one entry point.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from playground.errors import ConfigError

Dtype = Literal["auto", "float32", "float16", "bfloat16"]
DTYPES: tuple[str, ...] = get_args(Dtype)
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]*$")
SIZE_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$", re.I)
_UNITS = {
    "b": 1,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_size(value: str | float | int) -> int:
    """Turn ``"8GB"``, ``"512 MiB"`` or a number of GB into bytes."""
    if isinstance(value, (int, float)):
        return int(float(value) * 1e9)
    match = SIZE_PATTERN.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a size; write it like 8GB, 512MiB or 6.5")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "gb").lower()])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _check_device(value: str) -> str:
    if not DEVICE_PATTERN.match(value):
        raise ValueError(f"'{value}' is not a device; allowed values: auto, cpu, cuda, cuda:N, mps")
    return value


class Defaults(_Strict):
    """Settings every model inherits unless its entry overrides them."""

    device: str = "auto"
    dtype: Dtype = "auto"
    memory_budget: str | float = "auto"

    _device = field_validator("device")(_check_device)

    @field_validator("memory_budget")
    @classmethod
    def _budget(cls, value: str | float) -> str | float:
        if value != "auto":
            parse_size(value)
        return value


class ModelEntry(_Strict):
    """One model: what it does (task), where its weights come from, how to run it."""

    name: str
    task: str  # one of the registered loaders' tasks (playground.loaders.tasks())
    source: str | None = None
    revision: str | None = None
    device: str | None = None
    dtype: Dtype | None = None
    label: str | None = None
    description: str | None = None
    license: str | None = None
    size: str | None = None
    languages: list[str] = Field(default_factory=list)
    memory_gb: float | None = None
    # Fine-tuned adapters: ``source`` is the adapter folder, ``base`` the base model's name.
    base: str | None = None
    # Set by the app on an adapter a user trained: only that user is offered it.
    owner: str | None = None
    # OpenAI-compatible endpoints (task: endpoint).
    base_url: str | None = None
    api_model: str | None = None
    api_key_env: str | None = None
    provider: Literal["openai", "hf-inference"] = "openai"
    serves: Literal["chat", "embedding"] = "chat"
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                f"'{value}' is not a usable name; use letters, digits and . _ - : + "
                "(for example qwen2.5-0.5b-instruct)"
            )
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str | None) -> str | None:
        return None if value is None else _check_device(value)

    @field_validator("task")
    @classmethod
    def _task(cls, value: str) -> str:
        from playground.loaders import tasks  # the registered loaders (they import this module)

        known = tasks()
        if value not in known:
            allowed = ", ".join(f"'{task}'" for task in known)
            raise ValueError(f"'{value}' is not allowed. Allowed values: {allowed}")
        return value

    @model_validator(mode="after")
    def _source_needed(self) -> ModelEntry:
        if self.task == "endpoint":
            if self.provider == "openai" and not self.base_url:
                raise ValueError(
                    "an endpoint entry needs 'base_url' (for example http://localhost:8000/v1)"
                )
            if not (self.api_model or self.source):
                raise ValueError(
                    "an endpoint entry needs 'api_model': the model name the server serves"
                )
        elif not self.source:
            raise ValueError(
                "field 'source' is missing: set it to a Hugging Face repo id (org/name) "
                "or to a local folder with the weights"
            )
        return self

    @property
    def display(self) -> str:
        return self.label or self.name

    def visible_to(self, owner: str | None) -> bool:
        """Shared models are visible to everyone; a user's adapter only to that user."""
        if self.owner is None:
            return True
        from playground.storage import safe_name

        return owner is not None and safe_name(owner) == self.owner

    def is_local_source(self, base_dir: Path | None = None) -> bool:
        return self.local_path(base_dir) is not None

    def local_path(self, base_dir: Path | None = None) -> Path | None:
        """The source as a folder on disk, or None when it is a Hub repo id."""
        if not self.source:
            return None
        path = Path(self.source).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return path if path.exists() else None


class Config(_Strict):
    """The whole models file."""

    version: int = 1
    defaults: Defaults = Field(default_factory=Defaults)
    models: list[ModelEntry] = Field(default_factory=list)
    # The file it came from; relative ``source:`` folders resolve from its folder.
    _path: Path | None = PrivateAttr(default=None)
    _base_dir: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def base_dir(self) -> Path | None:
        return self._base_dir

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[str] = set()
        for entry in self.models:
            if entry.name in seen:
                raise ValueError(f"model name '{entry.name}' is used twice; names must be unique")
            seen.add(entry.name)
        return self

    def get(self, name: str) -> ModelEntry | None:
        return next((m for m in self.models if m.name == name), None)

    def by_task(self, *tasks: str) -> list[ModelEntry]:
        return [m for m in self.models if m.task in tasks]

    def resolve_device(self, entry: ModelEntry) -> str:
        return entry.device or self.defaults.device

    def resolve_dtype(self, entry: ModelEntry) -> str:
        return entry.dtype or self.defaults.dtype


# ---------------------------------------------------------------- loading


def load_config(path: str | Path) -> Config:
    """Read and validate a models file; raise ``ConfigError`` with one clear message."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"{path}: models file not found. Pass --config PATH, or copy models.yaml "
            "from the project root."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8.") from None
    return parse_config(text, path)


def parse_config(text: str, path: str | Path = "models.yaml") -> Config:
    """Validate models-file text; ``path`` is only used in messages and for relative sources."""
    path = Path(path)
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{where}: YAML syntax error: {problem}. Check the indentation and quoting on "
            "that line (values with ':' or '#' need quotes)."
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping with 'defaults:' and 'models:', "
            f"not a {type(data).__name__}."
        )
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, data, node, path)) from None
    config._path = path
    config._base_dir = path.parent.resolve()
    return config


def _explain(exc: ValidationError, data: dict, node: Any, path: Path) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = _line_of(node, loc)
        where = f"{path}:{line}" if line else str(path)
        lines.append(f"{where}: {_describe_loc(loc, data)}: {_describe_error(err, loc)}")
    header = "" if len(lines) == 1 else f"{len(lines)} problems in {path}:\n"
    return header + "\n".join(lines)


def _describe_loc(loc: tuple, data: dict) -> str:
    if not loc:
        return "file"
    if loc[0] == "models" and len(loc) >= 2 and isinstance(loc[1], int):
        models = data.get("models") or []
        name = None
        if loc[1] < len(models) and isinstance(models[loc[1]], dict):
            name = models[loc[1]].get("name")
        entry = f"model entry #{loc[1] + 1}" + (f" '{name}'" if name else "")
        rest = [str(p) for p in loc[2:] if not str(p).startswith("function-")]
        return entry + (f", field '{'.'.join(rest)}'" if rest else "")
    if len(loc) == 1:
        return "top level"
    return "field '" + ".".join(str(p) for p in loc) + "'"


def _describe_error(err: dict, loc: tuple) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc)
        return f"unknown key '{loc[-1]}'. Allowed keys: {', '.join(allowed)}"
    if kind == "missing":
        return f"required field '{loc[-1]}' is missing"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"'{value}' is not allowed. Allowed values: {expected.replace(' or ', ', ')}"
    msg = err["msg"].removeprefix("Value error, ")
    if kind in ("value_error", "assertion_error"):
        return msg
    return f"{msg} (got {value!r})"


def _allowed_keys(loc: tuple) -> list[str]:
    if len(loc) == 1:
        model: type[BaseModel] = Config
    elif loc[0] == "defaults":
        model = Defaults
    else:
        model = ModelEntry
    return list(model.model_fields)


def _line_of(node: Any, loc: tuple) -> int | None:
    """1-based line of the YAML node at ``loc`` (or its closest parent)."""
    best = node
    for part in loc:
        child = None
        if isinstance(best, yaml.MappingNode):
            for key, value in best.value:
                if key.value == part:
                    child = value if part != loc[-1] else key
                    break
        elif (
            isinstance(best, yaml.SequenceNode) and isinstance(part, int) and part < len(best.value)
        ):
            child = best.value[part]
        if child is None:
            break
        best = child
    return best.start_mark.line + 1 if best is not None else None
