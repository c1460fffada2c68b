"""How the command line prints an answer's members: ``--output json|text|table`` and
``--query`` (JMESPath), as the AWS CLI (version 1) prints them.

* ``json``: indented by 4, non-ASCII kept; an empty object prints nothing.
* ``text``: scalars of an object on one line, tab-separated, in key order; a nested
  object or list follows on its own lines, a list of scalars under a key as
  ``KEY<TAB>value`` lines; lists of objects share their columns (the union of their
  scalar keys).
* ``table``: titled sections of bordered columns, nested values in indented
  sections below; a table wider than the terminal (80 columns when stdout is not one)
  turns each one-row section on its side (header, value per line).

``--query`` needs the ``jmespath`` package (the ``cli`` extra; it ships with the AWS CLI
and botocore).
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from typing import Any

__all__ = ["FORMATS", "compile_query", "render"]

FORMATS = ("json", "text", "table")


def compile_query(expression: str) -> Any:
    """The compiled JMESPath ``expression``; ``ValueError`` naming the problem."""
    try:
        import jmespath
        import jmespath.exceptions
    except ImportError:
        raise ValueError(
            "--query needs the jmespath package: pip install 'sagemaker-runtime-lite[cli]'"
        ) from None
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"Bad value for --query {expression}: {exc}") from None


def render(data: Any, output: str, title: str, query: Any = None, width: int | None = None) -> str:
    """``data`` (the answer's members) as ``output`` prints it; ``query`` (compiled) first."""
    if query is not None:
        data = query.search(data)
    if output == "text":
        lines: list[str] = []
        _text(data, lines)
        return "".join(lines)
    if output == "table":
        return _Table(title, data, width or _terminal_width()).render()
    if data == {}:
        return ""
    return json.dumps(data, indent=4, ensure_ascii=False, default=str) + "\n"


def _terminal_width() -> int:
    """stdout's terminal width; 80 when stdout is not a terminal (COLUMNS is not read)."""
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 80


# ------------------------------------------------------------------------------- text


def _is_scalar(value: object) -> bool:
    return not isinstance(value, (dict, list))


def _text(
    item: Any, out: list[str], key: str | None = None, columns: list[str] | None = None
) -> None:
    if isinstance(item, dict):
        _text_object(item, out, key, columns)
    elif isinstance(item, list):
        _text_list(item, out, key)
    else:
        out.append(f"{item}\n")


def _text_object(
    item: dict[str, Any], out: list[str], key: str | None, columns: list[str] | None
) -> None:
    if columns is None:
        scalars = [str(v) for _, v in sorted(item.items()) if _is_scalar(v)]
        nested = [(k, v) for k, v in sorted(item.items()) if not _is_scalar(v)]
    else:  # a list of objects: every one prints the same columns
        scalars = [str(item.get(name, "")) for name in columns]
        nested = [(k, item[k]) for k in sorted(set(item) - set(columns))]
    if scalars:
        out.append("\t".join(([key.upper()] if key is not None else []) + scalars) + "\n")
    for name, value in nested:
        _text(value, out, name)


def _text_list(item: list[Any], out: list[str], key: str | None) -> None:
    if not item:
        return
    if any(isinstance(e, dict) for e in item):
        shared = sorted({k for e in item for k, v in e.items() if _is_scalar(v)})
        for element in item:
            _text(element, out, key, shared)
        return
    scalars = [e for e in item if _is_scalar(e)]
    if scalars:
        if key is not None:
            out.extend(f"{key.upper()}\t{e}\n" for e in scalars)
        else:
            out.append("\t".join(str(e) for e in scalars) + "\n")
    for element in item:
        if not _is_scalar(element):
            _text(element, out, key)


# ------------------------------------------------------------------------------- table


def _cells(text: object) -> int:
    """Terminal cells: wide and ambiguous East Asian characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WFA" else 1 for c in str(text))


def _centered(text: str, width: int, left: str = "|", right: str = "|") -> str:
    start = width // 2 - _cells(text) // 2 - 1
    used = len(left) + start + _cells(text)
    return left + " " * start + text + " " * (width - len(right) - used) + right


def _left(text: str, width: int, left: str = "|", right: str = "|") -> str:
    pad = 2 if width - (_cells(text) + 2 + len(left) + len(right)) >= 0 else 0
    return (
        left
        + " " * pad
        + text
        + " " * (width - len(left) - pad - _cells(text) - len(right))
        + right
    )


class _Section:
    def __init__(self, title: str, indent: int) -> None:
        self.title = title
        self.indent = indent
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self.widths: list[int] = []

    def _grow(self, cells: list[str]) -> None:
        sizes = [_cells(c) for c in cells]
        self.widths = (
            sizes
            if not self.widths
            else [max(a, b) for a, b in zip(self.widths, sizes, strict=False)]
        )

    def header(self, names: list[str]) -> None:
        self._grow(names)
        self.headers = names

    def row(self, values: list[Any]) -> None:
        cells = [str(v) for v in values]
        self.rows.append(cells)
        self._grow(cells)

    def total(self) -> int:
        columns = sum(w + 4 for w in self.widths) + 2 + 2 * self.indent
        return max(_cells(self.title) + 2 + 2 * self.indent, columns)

    def column_widths(self, width: int) -> list[int]:
        """The columns scaled to fill ``width`` exactly."""
        natural = [w + 4 for w in self.widths]
        if not natural:
            return natural
        scale = width / float(sum(natural))
        scaled = [round(scale * w) for w in natural]
        extra = sum(scaled) - width
        while extra:
            order = range(len(scaled)) if extra > 0 else reversed(range(len(scaled)))
            for i in order:
                scaled[i] += -1 if extra > 0 else 1
                extra += -1 if extra > 0 else 1
                if not extra:
                    break
        return scaled


class _Table:
    def __init__(self, title: str, data: Any, terminal_width: int) -> None:
        self.sections: list[_Section] = []
        self.terminal_width = terminal_width
        self.has_data = self._build(title, data, 0)

    def _section(self, title: str, indent: int) -> None:
        self.sections.append(_Section(title, indent))

    def _build(self, title: str | None, value: Any, indent: int) -> bool:
        if not value:
            return False
        if title is not None:
            self._section(title, indent)
        if isinstance(value, list):
            if isinstance(value[0], dict):
                self._from_list(value, indent, title or "")
            else:
                for item in value:
                    if _is_scalar(item):
                        self.sections[-1].row([item])
                    elif all(_is_scalar(e) for e in item):
                        self.sections[-1].row(list(item))
                    else:
                        self._build(None, item, 0)
        elif isinstance(value, dict):
            self._from_dict(value, indent)
        return True  # a bare scalar: only its title, as the AWS CLI prints it

    def _from_dict(self, value: dict[str, Any], indent: int) -> None:
        flat = sorted(k for k, v in value.items() if _is_scalar(v))
        nested = sorted(k for k, v in value.items() if not _is_scalar(v))
        if len(flat) == 1:
            self.sections[-1].row([flat[0], value[flat[0]]])
        elif flat:
            self.sections[-1].header(flat)
            self.sections[-1].row([value[k] for k in flat])
        for name in nested:
            self._build(name, value[name], indent + 1)

    def _from_list(self, items: list[Any], indent: int, title: str) -> None:
        dicts = [e if isinstance(e, dict) else {} for e in items]
        flat = sorted({k for e in dicts for k, v in e.items() if _is_scalar(v)})
        nested = sorted({k for e in dicts for k, v in e.items() if not _is_scalar(v)})
        self.sections[-1].header(flat)
        for index, element in enumerate(dicts):
            if index and nested:
                self._section(title, indent)
                self.sections[-1].header(flat)
            self.sections[-1].row([element.get(k, "") for k in flat])
            for name in nested:
                if name in element:
                    self._build(name, element[name], indent + 1)

    def _turn_one_row_sections(self) -> None:
        for index, section in enumerate(self.sections):
            if len(section.rows) == 1 and section.headers:
                turned = _Section(section.title, section.indent)
                for name, cell in zip(section.headers, section.rows[0], strict=True):
                    turned.row([name, cell])
                self.sections[index] = turned

    def render(self) -> str:
        if not self.has_data:
            return ""
        width = max(s.total() for s in self.sections)
        if width > self.terminal_width:
            self._turn_one_row_sections()
            width = max(s.total() for s in self.sections)
        lines = ["-" * width]
        for section in self.sections:
            bar = "|" * section.indent
            inner = width - 2 * section.indent
            lines.extend(bar + line + bar for line in self._section_lines(section, inner))
        return "\n".join(lines) + "\n"

    @staticmethod
    def _section_lines(section: _Section, width: int) -> list[str]:
        lines = []
        if section.title:
            lines.append(_centered(section.title, width))
            if not section.headers and not section.rows:
                lines.append("+" + "-" * (width - 2) + "+")
        columns = section.column_widths(width)
        rule = "".join(
            ("+" + "-" * (w - 2) + "+") if i == 0 else ("-" * (w - 1) + "+")
            for i, w in enumerate(columns)
        )
        if section.headers:
            lines.append(rule)
            lines.append(
                "".join(
                    _centered(h, w, "|" if i == 0 else "")
                    for i, (w, h) in enumerate(zip(columns, section.headers, strict=True))
                )
            )
        if section.rows and columns:
            lines.append(rule)
            for cells in section.rows:
                lines.append(
                    "".join(
                        _left(c, w, "|" if i == 0 else "")
                        for i, (w, c) in enumerate(zip(columns, cells, strict=True))
                    )
                )
            lines.append(rule)
        return lines
