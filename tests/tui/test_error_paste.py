"""Paste the error the app printed: the picker ranks the symptom, the target entry is
filled from the text, and the diagnosis ties the two ("your app said ...")."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import events
from textual.widgets import Input, OptionList, Static

from tests.tui.helpers import RecordingSink, make_app, settle
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.symptom_picker import MATCH_STYLE, SymptomPickerScreen
from tui.screens.target_entry import TargetEntryScreen
from tui.widgets.error_input import ErrorInput

TRACEBACK = """\
Traceback (most recent call last):
  File "/srv/app/search.py", line 41, in query
    resp = session.get(url, headers={"Authorization": "Bearer PasteCanary77abc"})
  File "/usr/lib/python3/dist-packages/requests/adapters.py", line 519, in send
    raise ConnectionError(e, request=request)
requests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=6333): \
Max retries exceeded with url: /collections (Caused by NewConnectionError('<urllib3.\
connection.HTTPConnection object at 0x7f2b>: Failed to establish a new connection: \
[Errno 111] Connection refused'))
"""


def _styles(prompt: object) -> set[str]:
    assert isinstance(prompt, Text)
    return {str(span.style) for span in prompt.spans}


async def test_pasted_traceback_fills_symptom_and_target(tmp_path: Path) -> None:
    sink = RecordingSink()
    app = make_app(tmp_path, sink=sink)
    async with app.run_test(size=(120, 40)) as pilot:
        picker = app.screen
        assert isinstance(picker, SymptomPickerScreen)
        field = picker.query_one("#symptom-filter", ErrorInput)
        field.post_message(events.Paste(TRACEBACK))
        await settle(pilot)  # the paste is redacted on a worker thread
        # Every line was kept (Input alone keeps the first), the secret never shown.
        assert "Connection refused" in field.value and field.value.startswith("Traceback")
        assert field.value.count("Traceback") == 1
        assert "PasteCanary77abc" not in field.value
        options = picker.query_one("#symptoms", OptionList)
        first = options.get_option_at_index(0)
        assert first.id == "refused"
        assert MATCH_STYLE in _styles(first.prompt)  # the matched words are highlighted
        read = str(picker.query_one("#error-read", Static).render())
        assert "your app said:" in read and "[Errno 111] Connection refused" in read
        assert "→ target: http://127.0.0.1:6333/collections" in read

        await pilot.press("enter")
        entry = app.screen
        assert isinstance(entry, TargetEntryScreen)
        assert entry.query_one("#target", Input).value == "http://127.0.0.1:6333/collections"
        assert entry.target is not None and entry.target.port == 6333

        await pilot.press("enter")  # confirm and go
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        assert screen.session.symptom == "refused"
        assert screen.session.target.host_port == "127.0.0.1:6333"
        assert screen.session.error is not None
        said = str(screen.query_one("#app-said", Static).render())
        assert said.startswith("your app said: ") and "Connection refused" in said
        assert ";\nnetmedic sees: " in said and "still probing" not in said
        assert screen.diagnosis.verdict == "tcp.refused"
        assert "PasteCanary77abc" not in app.export_screenshot()
        journal = screen.session.journal
        assert journal is not None
        journal.flush()
        assert journal.journal is not None
        header = journal.journal.contents().split(b"\n", 1)[0]
        assert b"Connection refused" in header and b"PasteCanary77abc" not in header


async def test_error_without_host_asks_for_the_target(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        field = app.screen.query_one("#symptom-filter", ErrorInput)
        field.post_message(events.Paste("Error: read ECONNRESET\n    at TLSWrap.onStreamRead"))
        await settle(pilot)
        assert app.screen.query_one("#symptoms", OptionList).get_option_at_index(0).id == (
            "intermittent"
        )
        await pilot.press("enter")
        entry = app.screen
        assert isinstance(entry, TargetEntryScreen)
        assert entry.query_one("#target", Input).value == ""  # never a guessed host
        hint = str(entry.query_one("#target-from-error", Static).render())
        assert "names no host" in hint


async def test_command_line_target_wins_over_the_error(tmp_path: Path) -> None:
    app = make_app(tmp_path, "127.0.0.1:5432")
    async with app.run_test(size=(120, 40)) as pilot:
        field = app.screen.query_one("#symptom-filter", ErrorInput)
        field.post_message(
            events.Paste("Could not connect to Redis at 10.9.9.9:6379: Connection refused")
        )
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiagnosisScreen)
        assert screen.session.target.host_port == "127.0.0.1:5432"
        assert screen.session.symptom == "refused"
        assert screen.session.error is not None


async def test_typed_words_still_filter(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"401 unauthorized")
        options = app.screen.query_one("#symptoms", OptionList)
        assert options.get_option_at_index(0).id == "auth"
        assert options.get_option_at_index(options.option_count - 1).id == "auto"
