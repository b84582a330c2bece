"""HTML tables for notebooks: Network, Program and EnergyReport render through these."""

from __future__ import annotations

from html import escape
from typing import Any


def table(title: str, header: list[str], rows: list[list[Any]], footer: str = "") -> str:
    """A small self-contained HTML table (values escaped)."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    foot = f"<p>{escape(footer)}</p>" if footer else ""
    return (
        f"<div><b>{escape(title)}</b><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>{foot}</div>"
    )
