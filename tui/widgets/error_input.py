"""The picker's field: typed words filter, a pasted error is kept whole.

Textual's Input keeps only the first line of a paste; a traceback's telling line
is usually its last.  This field keeps every line, joined by :data:`LINE_MARK`
(one line on screen), cleaned and redacted before it is ever shown.
"""

from __future__ import annotations

from textual import events, work
from textual.widgets import Input

from probes.core.redact import Redactor

LINE_MARK = " ⏎ "


def field_to_text(value: str) -> str:
    """The field's value as the error text it stands for (lines restored)."""
    return value.replace(LINE_MARK, "\n")


class ErrorInput(Input):
    """An Input that takes a multi-line paste whole (redacted, capped)."""

    pasted = False  # the person pasted into it (not only typed)

    def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()  # Input's own handler would insert the first line again
        if event.text:
            self._redact_paste(event.text)

    @work(thread=True, group="paste", exit_on_error=False)
    def _redact_paste(self, raw: str) -> None:
        """Redact off the event loop: the secret detectors load on the first paste
        (detect-secrets takes a few hundred milliseconds to import)."""
        from probes.triage.pasted import clean_lines, redact_pasted  # not for the first frame

        text = redact_pasted(clean_lines(raw), Redactor.for_target(None))
        self.app.call_from_thread(self._insert_paste, text)

    def _insert_paste(self, text: str) -> None:
        self.pasted = True
        line = text.replace("\n", LINE_MARK)
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(line)
        else:
            self.replace(line, *selection)
