"""The house stays small enough to read: no source file over 400 lines and no
function over 50, in every Python file under bench/, functions/, lib/ and scheduler/."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("bench", "functions", "lib", "scheduler")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 50


def _sources() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, int]]:
    """(qualified name, length in lines) of every function, nested ones too."""
    found = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            found.append((prefix + node.name, node.end_lineno - node.lineno + 1))
            found += _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            found += _functions(node, f"{prefix}{node.name}.")
    return found


def _over_the_limits() -> dict[str, str]:
    over = {}
    for path in _sources():
        name = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        if (lines := len(text.splitlines())) > MAX_FILE_LINES:
            over[name] = f"{lines} lines"
        for function, length in _functions(ast.parse(text, filename=name)):
            if length > MAX_FUNCTION_LINES:
                over[f"{name}:{function}"] = f"{length} lines"
    return over


def test_the_scan_sees_the_source_tree() -> None:
    # A scan that found nothing would pass for the wrong reason.
    assert len(_sources()) > 50
    assert any(f == "receive" for f, _ in _functions(ast.parse("async def receive(): pass")))


def test_no_file_over_400_lines_and_no_function_over_50() -> None:
    over = _over_the_limits()
    assert over == {}, "split these: " + ", ".join(f"{n} ({s})" for n, s in sorted(over.items()))
