"""The Chat tab's roles: the builder's values, the role lists, and the role handlers.

The builder's sections are the source of truth for the role in use (its dict in
a ``gr.State``), so an edit changes the very next reply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from playground.chat import (
    Role,
    delete_user_role,
    export_card_json,
    import_card,
    list_roles,
    load_role,
    save_user_role,
)
from playground.chat.roles import EDITABLE_FIELDS, slugify
from playground.errors import InputError
from playground.storage import atomic_write_text, user_dir
from tabs.common import AppContext, owner_of, ui_errors

DEFAULT_ROLE = "assistant"
USER_PREFIX = "user:"  # a role-picker value naming one of the user's own roles


# ------------------------------------------------------------------ plain helpers


def greeting(role: Role) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": role.first_message}] if role.first_message else []


def role_from_builder(values: dict[str, Any]) -> Role:
    """The role the builder's sections describe (``InputError`` if unusable)."""
    data = dict(values)
    data["examples"] = [
        {"input": str(row[0] or ""), "output": str(row[1] or "")}
        for row in (data.get("examples") or [])
        if len(row) >= 2 and (str(row[0] or "").strip() or str(row[1] or "").strip())
    ]
    data["name"] = (data.get("name") or "").strip() or "Untitled role"
    data["id"] = slugify(data["name"])
    return Role.from_dict(data, where="role builder")


def builder_values(role: Role) -> list[Any]:
    """Component values for the builder, in ``EDITABLE_FIELDS`` order."""
    values = {
        **role.to_dict(),
        "steps": "\n".join(role.steps),
        "constraints": "\n".join(role.constraints),
        "examples": [[e.input, e.output] for e in role.examples] or [["", ""]],
    }
    return [values[name] for name in EDITABLE_FIELDS]


def role_shown(role: Role) -> list[Any]:
    """The builder's values, then the conversation's greeting, for ``role``."""
    return [*builder_values(role), greeting(role)]


def roles_dir(ctx: AppContext, request: gr.Request | None, client_id: str | None) -> Path:
    return user_dir(ctx.data_dir, owner_of(request, client_id), "roles")


def role_choices(folder: Path | None, language: str) -> list[tuple[str, str]]:
    """The role picker's choices: the presets, then the user's own roles (★)."""
    out = []
    for role in list_roles(language, user_roles=folder):
        if role.preset:
            out.append((role.name, role.id))
        else:
            out.append((f"★ {role.name}", USER_PREFIX + role.id))
    return out


def load_picked(value: str, language: str, folder: Path) -> Role:
    """The role a picker's ``value`` names (a preset, or one of the user's own)."""
    if value and value.startswith(USER_PREFIX):
        return load_role(value[len(USER_PREFIX) :], user_roles=folder)
    return load_role(value or DEFAULT_ROLE, language)


def role_lists(folder: Path, language: str, picked: str | None = None) -> tuple[dict, dict]:
    """Updates for the A and B role pickers (A set to ``picked`` when given)."""
    choices = role_choices(folder, language)
    first = (
        gr.update(choices=choices) if picked is None else gr.update(choices=choices, value=picked)
    )
    return first, gr.update(choices=choices)


# ------------------------------------------------------------------ handlers


def assemble(*values):
    """The system prompt the builder's sections make, and the role in use."""
    try:
        role = role_from_builder(dict(zip(EDITABLE_FIELDS, values, strict=True)))
    except InputError as exc:
        return f"({exc})", gr.skip()
    return role.system_prompt(), role.to_dict()


@ui_errors
def pick_role(
    ctx: AppContext, value: str, language: str, client_id: str | None, request: gr.Request
):
    role = load_picked(value, language, roles_dir(ctx, request, client_id))
    return *role_shown(role), ""


def refresh_roles(ctx: AppContext, language: str, client_id: str | None, request: gr.Request):
    return role_lists(roles_dir(ctx, request, client_id), language)


def pick_role_b(
    ctx: AppContext, role_b_id: str, language: str, client_id: str | None, request: gr.Request
):
    return greeting(load_picked(role_b_id, language, roles_dir(ctx, request, client_id)))


@ui_errors
def save_role(
    ctx: AppContext,
    state: dict,
    language: str = "en",
    client_id: str | None = None,
    request: gr.Request = None,
):
    """Save the role being edited as one of your roles; returns the updated role lists."""
    ctx.check_quota(owner_of(request, client_id))
    folder = roles_dir(ctx, request, client_id)
    role = save_user_role(folder, Role.from_dict(state))
    gr.Info(f"Saved role '{role.name}'.")
    return role_lists(folder, language, USER_PREFIX + role.id)


@ui_errors
def export_role(
    ctx: AppContext, state: dict, client_id: str | None = None, request: gr.Request = None
):
    """Export the role being edited as a JSON role card (SillyTavern can read it too)."""
    role = Role.from_dict(state)
    folder = user_dir(ctx.data_dir, owner_of(request, client_id), "exports")
    path = folder / f"{role.id}.role.json"
    atomic_write_text(path, export_card_json(role))
    return gr.File(value=str(path), visible=True)


@ui_errors
def import_role(
    ctx: AppContext, data: bytes | None, language: str, client_id: str | None, request: gr.Request
):
    ctx.check_quota(owner_of(request, client_id))
    if data is None:
        raise InputError(
            "choose a .json role card (or a character-card .png) to import",
            key="errors.tabs.choose_role_card",
        )
    folder = roles_dir(ctx, request, client_id)
    role = save_user_role(folder, import_card(data, name="uploaded card"))
    gr.Info(f"Imported role '{role.name}'.")
    return *role_lists(folder, language, USER_PREFIX + role.id), *role_shown(role)


@ui_errors
def delete_role(
    ctx: AppContext, value: str, language: str, client_id: str | None, request: gr.Request
):
    if not (value or "").startswith(USER_PREFIX):
        raise InputError(
            "pick one of your own roles (marked ★) to delete; presets stay",
            key="errors.tabs.pick_own_role",
        )
    folder = roles_dir(ctx, request, client_id)
    delete_user_role(folder, value[len(USER_PREFIX) :])
    role = load_role(DEFAULT_ROLE, language)
    return *role_lists(folder, language, DEFAULT_ROLE), *role_shown(role)
