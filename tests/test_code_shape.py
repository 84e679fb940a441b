"""The package's shape stays readable: short functions, and the top level shows the science.

Code lines are the lines of a function's body that are neither blank nor comments, with its
docstring left out. Limits from the project's developer guide (docs/DEVELOPING.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "papseg_utils"
MAX_FUNCTION_LINES = 60


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> int:
    """Non-blank, non-comment lines of ``node``'s body, its docstring excluded."""
    first = node.body[0]
    skip: set[int] = set()
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
        if isinstance(first.value.value, str):
            skip = set(range(first.lineno, first.end_lineno + 1))
    return sum(
        1
        for i in range(first.lineno, node.end_lineno + 1)
        if i not in skip and lines[i - 1].strip() and not lines[i - 1].lstrip().startswith("#")
    )


def functions(root: Path = PACKAGE):
    """``(file, name, code lines)`` of every function and method below ``root``."""
    for path in sorted(root.rglob("*.py")):
        src = path.read_text(encoding="utf-8")
        lines = src.splitlines()
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(root.parent), node.name, code_lines(node, lines)


def test_code_lines_counts_body_without_docstring_comments_and_blanks(tmp_path):
    src = 'def f(x):\n    """Doc\n    string."""\n    # a comment\n\n    y = x\n    return y\n'
    node = ast.parse(src).body[0]
    assert code_lines(node, src.splitlines()) == 2


def test_no_function_is_longer_than_the_limit():
    long = [f"{p}:{name} ({n})" for p, name, n in functions() if n > MAX_FUNCTION_LINES]
    assert not long, f"functions over {MAX_FUNCTION_LINES} code lines: {', '.join(long)}"


def test_top_level_holds_the_science_and_the_commands():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    tooling = {"run", "profiles", "param_types", "study", "provenance", "colab", "book", "scoring"}
    assert not modules & tooling, (
        f"book tooling or scoring back at the top level: {modules & tooling}"
    )
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert {"book", "evaluate", "metrics", "data", "models", "train", "viz"} <= packages
