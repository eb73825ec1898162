"""Helpers to render engine values as plain Rich text (never markup)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from probes.core.model import Severity, Status
from probes.core.sanitize import clean_text

STATUS_STYLE = {
    Status.OK: "green",
    Status.FAILED: "bold red",
    Status.SKIPPED: "dim",
    Status.ERROR: "magenta",
}
STATUS_ICON = {Status.OK: "✔", Status.FAILED: "✘", Status.SKIPPED: "–", Status.ERROR: "!"}
SEVERITY_STYLE = {
    Severity.ERROR: "bold red",
    Severity.WARNING: "bold yellow",
    Severity.INFO: "cyan",
    Severity.OK: "green",
}
SEVERITY_ICON = {Severity.ERROR: "✘", Severity.WARNING: "▲", Severity.INFO: "ℹ", Severity.OK: "✔"}
MAX_VALUE = 300


def plain(value: object, style: str = "") -> Text:
    """Any value as a Text that is never parsed as markup, capped in length."""
    return Text(clean_text(str(value), MAX_VALUE), style=style)


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    value = seconds * 1000
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def grid(*headers: str) -> Table:
    """A compact borderless table with plain headers."""
    table = Table(box=None, pad_edge=False, expand=True, show_edge=False, padding=(0, 1))
    for header in headers:
        table.add_column(Text(header, style="bold"), overflow="fold")
    return table


def kv_text(value: Any, indent: int = 0, out: Text | None = None) -> Text:
    """A readable key/value view of a JSON-able value (from ``to_jsonable``)."""
    out = out if out is not None else Text()
    pad = "  " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                out.append(f"{pad}{key}:\n", style="bold")
                kv_text(item, indent + 1, out)
            else:
                out.append(f"{pad}{key}: ", style="bold")
                out.append_text(plain(_scalar(item)))
                out.append("\n")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                out.append(f"{pad}-\n")
                kv_text(item, indent + 1, out)
            else:
                out.append(f"{pad}- ")
                out.append_text(plain(_scalar(item)))
                out.append("\n")
    else:
        out.append(pad)
        out.append_text(plain(_scalar(value)))
        out.append("\n")
    return out


def _scalar(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "—"
    return str(value)
