"""Role files: the presets shipped in ``roles/*.yaml`` and a user's own roles (JSON)."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from playground.chat.roles import ID_PATTERN, PRESETS, Role
from playground.errors import ConfigError, InputError

# ---------------------------------------------------------------- presets


@lru_cache(maxsize=1)
def _preset_files() -> dict[str, dict[str, Any]]:
    presets = {}
    for path in sorted(PRESETS.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"{path}: YAML syntax error: {exc}",
                key="errors.role.preset_yaml",
                path=str(path),
                detail=str(exc),
            ) from None
        presets[path.stem] = data
    return presets


def preset_ids() -> list[str]:
    return list(_preset_files())


def _preset(role_id: str, language: str) -> Role:
    data = _preset_files()[role_id]
    where = str(PRESETS / f"{role_id}.yaml")
    if language not in data:
        language = "en" if "en" in data else next(iter(data))
    try:
        role = Role.from_dict({**data[language], "id": role_id, "language": language}, where=where)
    except InputError as exc:
        raise ConfigError(str(exc), key=exc.key, **exc.params) from None
    role.preset = True
    return role


def load_role(role_id: str, language: str = "en", *, user_roles: str | Path | None = None) -> Role:
    """A preset role (in ``language`` when it has it) or, with ``user_roles``, a saved one."""
    if user_roles is not None:
        path = Path(user_roles) / f"{role_id}.json"
        if ID_PATTERN.match(role_id) and path.exists():
            return read_user_role(path)
    if role_id in _preset_files():
        return _preset(role_id, language)
    known = ", ".join(preset_ids())
    raise InputError(
        f"no role called '{role_id}'. Preset roles: {known}",
        key="errors.role.unknown",
        role_id=role_id,
        known=known,
    )


def list_roles(language: str = "en", *, user_roles: str | Path | None = None) -> list[Role]:
    """Preset roles, then the user's saved roles (newest first)."""
    roles = [_preset(role_id, language) for role_id in preset_ids()]
    if user_roles is not None:
        paths = sorted(
            Path(user_roles).glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for path in paths:
            try:
                roles.append(read_user_role(path))
            except InputError:  # a damaged file must not hide the other roles
                continue
    return roles


# ---------------------------------------------------------------- user roles


def read_user_role(path: Path) -> Role:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{path}: cannot read saved role ({exc})",
            key="errors.role.unreadable",
            path=str(path),
            detail=str(exc),
        ) from None
    return Role.from_dict(data, where=str(path))


def save_user_role(folder: str | Path, role: Role) -> Role:
    """Save ``role`` as the user's own (atomically); returns it with its final id.

    A role saved under a preset's id gets ``-custom`` appended, so presets stay intact.
    """
    from playground.storage import atomic_write_json

    role = Role.from_dict(role.to_dict(), where="role")
    if role.id in _preset_files():
        role = replace(role, id=f"{role.id}-custom")
    atomic_write_json(Path(folder) / f"{role.id}.json", role.to_dict())
    return role


def delete_user_role(folder: str | Path, role_id: str) -> bool:
    if not ID_PATTERN.match(role_id):
        raise InputError(
            f"'{role_id}' is not a role id", key="errors.role.not_an_id", role_id=role_id
        )
    path = Path(folder) / f"{role_id}.json"
    if not path.exists():
        return False
    path.unlink()
    return True
