"""The size rules of docs/architecture.md: short tab functions, modules of one purpose.

A function in ``tabs/`` may exceed 60 lines, and a module in ``tabs/`` or
``playground/`` 400 lines, only with a comment containing ``long because:``
(just above the function, or in the module's first 30 lines) that says why.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_FUNCTION = 60
MAX_MODULE = 400
MARKER = "long because:"


def _modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _excused_module(lines: list[str]) -> bool:
    return any(MARKER in line for line in lines[:30])


def _excused_function(lines: list[str], node: ast.AST) -> bool:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return any(MARKER in line for line in lines[max(0, first - 4) : first - 1])


def long_modules() -> list[str]:
    found = []
    for path in _modules("tabs", "playground"):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_MODULE and not _excused_module(lines):
            found.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
    return found


def long_functions() -> list[str]:
    found = []
    for path in _modules("tabs"):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION and not _excused_function(lines, node):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    return found


def test_no_module_over_400_lines():
    assert long_modules() == []


def test_no_tab_function_over_60_lines():
    assert long_functions() == []


def test_the_rules_see_a_long_function(tmp_path, monkeypatch):
    """The checks themselves can fail: a 61-line function in a tab is reported."""
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    (tmp_path / "tabs").mkdir()
    (tmp_path / "playground").mkdir()
    (tmp_path / "tabs" / "long.py").write_text(f"def too_long():\n{body}\n" + "\n" * 400)
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert long_functions() == ["tabs/long.py:1 too_long: 61 lines"]
    assert long_modules() == [f"tabs/long.py: {61 + 400} lines"]
