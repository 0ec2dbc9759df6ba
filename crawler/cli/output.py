"""Printing rows as a table, JSON or CSV: one way for every command."""

from __future__ import annotations

import csv
import json
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo

import click

from crawler.clock import VIETNAM

DISPLAY_TZ = VIETNAM
FORMATS = ("table", "json", "csv")


def format_option(*choices: str, default: str = "table"):
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices or FORMATS),
        default=default,
        show_default=True,
        help="Output format.",
    )


def local_time(value: datetime | None, zone: tzinfo = DISPLAY_TZ, *, seconds: bool = False) -> str:
    """An instant as the reader's wall-clock time (Asia/Ho_Chi_Minh by default)."""
    if value is None:
        return ""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=json_default)


def emit_json(data) -> None:
    click.echo(dumps(data))


def emit_rows(
    rows: Sequence[dict], columns: Sequence[str], output_format: str, *, headers: Sequence[str] | None = None
) -> None:
    if output_format == "json":
        emit_json(list(rows))
    elif output_format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
    else:
        click.echo(table(rows, columns, headers=headers))


def table(
    rows: Iterable[dict], columns: Sequence[str], *, headers: Sequence[str] | None = None, max_width: int = 70
) -> str:
    header = list(headers or columns)
    cells = [[_clip(_cell(row.get(column)), max_width) for column in columns] for row in rows]
    widths = [max([_width(header[i])] + [_width(line[i]) for line in cells]) for i in range(len(columns))]
    lines = ["  ".join(_pad(text, width) for text, width in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(_pad(text, width) for text, width in zip(line, widths, strict=True)).rstrip() for line in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value).replace("\n", " ")


def _width(text: str) -> int:
    # Wide (CJK) characters take two columns; combining marks none.
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _clip(text: str, width: int) -> str:
    return text if _width(text) <= width else text[: width - 1] + "…"
