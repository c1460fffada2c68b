"""The layout rules a new maintainer can rely on, kept by a test.

* No source module over 500 lines and no function over 60 lines, except where a comment
  ``# long module: <why>`` (in the module) or ``# long function: <why>`` (in the function)
  says why.
* No test module over 600 lines.
* ``tests/`` mirrors the packages: each subpackage of ``runtime_client`` and ``sigv4`` has
  a test folder of the same name (``runtime_client``'s own modules are tested in
  ``tests/client``); shared loopback servers and drivers live in ``tests/support``.
"""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import pytest

import runtime_client

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "sigv4").rglob("*.py")) + sorted((ROOT / "runtime_client").rglob("*.py"))
TESTS = sorted(p for p in (ROOT / "tests").rglob("*.py"))
MAX_MODULE = 500
MAX_FUNCTION = 60
MAX_TEST_MODULE = 600


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_source_module_is_short_or_says_why(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n")
    assert lines <= MAX_MODULE or "# long module:" in text, (
        f"{_rel(path)} has {lines} lines (limit {MAX_MODULE}): split it, or say why in a "
        "'# long module: ...' comment"
    )


def _long_functions(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    source = text.split("\n")
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            body = "\n".join(source[node.lineno - 1 : node.end_lineno])
            if length > MAX_FUNCTION and "# long function:" not in body:
                found.append(f"{node.name} (line {node.lineno}, {length} lines)")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_functions_are_short_or_say_why(path: Path) -> None:
    assert _long_functions(path) == [], (
        f"{_rel(path)}: functions over {MAX_FUNCTION} lines without a '# long function: ...' "
        "comment"
    )


@pytest.mark.parametrize("path", TESTS, ids=_rel)
def test_test_module_is_short(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_TEST_MODULE, f"{_rel(path)} has {lines} lines (limit {MAX_TEST_MODULE})"


def test_tests_mirror_the_packages() -> None:
    subpackages = [
        info.name for info in pkgutil.iter_modules(runtime_client.__path__) if info.ispkg
    ]
    assert subpackages, "runtime_client has no subpackages: the check below would be empty"
    missing = [name for name in subpackages if not list((ROOT / "tests" / name).glob("test_*.py"))]
    assert missing == [], f"subpackages without a tests/<name>/ folder of tests: {missing}"
    for folder in ("sigv4", "client", "support"):
        assert (ROOT / "tests" / folder).is_dir(), f"tests/{folder} is missing"
