"""Golden files: the three report formats from the fixed journal in tests/data.

Regenerate after an intended change with ``NETMEDIC_UPDATE_GOLDEN=1 pytest
tests/test_report_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from probes.record.session import read_journal
from tests.data.make_session import FIXTURE
from tui.report import render
from tui.report.document import SCHEMA, VERSION

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_golden(fmt: str) -> None:
    text = render(read_journal(FIXTURE), fmt)
    path = GOLDEN / f"report.{fmt}"
    if os.environ.get("NETMEDIC_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text()


def test_json_report_schema() -> None:
    doc = json.loads((GOLDEN / "report.json").read_text())
    assert doc["schema"] == SCHEMA and doc["version"] == VERSION
    assert doc["verdict"]["id"] == "ok"
    assert doc["before_after"]["before"]["verdict"] == "tcp.refused"
    assert doc["before_after"]["resolved"] == ["tcp.refused"]
    assert [m["state"] for m in doc["steps_marked"]] == ["done", "did_not_help", "done"]
    assert len(doc["runs"]) == 2
    tcp = next(p for p in doc["runs"][0]["probes"] if p["probe"] == "tcp")
    assert tcp["facts"] == [["10.0.0.5:5432", "refused after 0.8 ms (ECONNREFUSED)"]]
    kinds = {item["kind"] for item in doc["timeline"]}
    assert {"start", "probe", "verdict", "step", "note", "retest", "finished", "end"} <= kinds


def test_html_is_self_contained_and_escaped() -> None:
    html = (GOLDEN / "report.html").read_text()
    assert "<script" not in html and "&lt;script&gt;" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "Content-Security-Policy" in html and "@media print" in html
    assert "<b>db" not in html


def test_markdown_escapes_remote_text() -> None:
    md = (GOLDEN / "report.md").read_text()
    assert "<script>" not in md and "<b>" not in md
    assert r"\| \*see\* \[ticket\]" in md  # cannot break a table or make a link


def test_markdown_renders_as_gfm_tables() -> None:
    from markdown_it import MarkdownIt

    md = (GOLDEN / "report.md").read_text()
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(md)
    tables = re.findall(r"<table>.*?</table>", html, re.S)
    assert len(tables) == sum(line.startswith("|---") for line in md.splitlines())
    for table in tables:  # no cell split by remote text
        widths = {
            len(re.findall(r"<t[dh][ >]", row)) for row in re.findall(r"<tr>.*?</tr>", table, re.S)
        }
        assert len(widths) == 1, table
    assert "<script" not in html and "<a " not in html and "<b>" not in html


def test_html_tags_balance() -> None:
    from html.parser import HTMLParser

    void = {"meta", "br", "hr", "img", "link", "input"}
    stack: list[str] = []

    class Checker(HTMLParser):
        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag not in void:
                stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert stack and stack[-1] == tag, (tag, stack[-3:])
            stack.pop()

    Checker().feed((GOLDEN / "report.html").read_text())
    assert stack == []
