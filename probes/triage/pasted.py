"""Pasted error text as a session keeps it: capped, sanitised, redacted, read.

What a person pastes is untrusted (it may carry terminal escapes) and may hold
secrets (a token in a URL, an ``Authorization`` header in a traceback).  It enters
a session only through :func:`keep_error`, with the run's
:class:`~probes.core.redact.Redactor` (the secrets boundary), so the journal,
``check`` output, the screen and reports only ever see the kept form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from probes.core.redact import REDACTED, Redactor, is_secret_name
from probes.core.sanitize import clean_text
from probes.triage.naming import NamedTarget, name_target
from probes.triage.reading import Reading, line_around, read_error

MAX_CHARS = 16_000  # kept from the end: the error that counts is the last one
MAX_LINES = 200
MAX_LINE = 1_000
MAX_STDIN_BYTES = 1 << 20  # what ``--error -`` reads at most


@dataclass(frozen=True, slots=True)
class PastedError:
    """The error a person brought, as kept: ``text`` (redacted, capped, printable
    lines), ``line`` (the line that names the symptom) and the symptom it names."""

    text: str
    line: str = ""
    symptom: str = ""

    def reading(self) -> Reading:
        return read_error(self.text)

    def named(self) -> NamedTarget | None:
        return name_target(self.text)

    @property
    def said(self) -> str:
        """The words the diagnosis quotes: the matched line, or the text's last line."""
        if self.line:
            return self.line
        lines = [ln.strip() for ln in self.text.splitlines() if ln.strip()]
        return lines[-1][:200] if lines else ""

    def said_within(self, limit: int) -> str:
        """:attr:`said` cut to *limit* characters around its telling words."""
        said = self.said
        if len(said) <= limit:
            return said
        reading = read_error(said)
        if not reading.ranked:
            return said[: limit - 1] + "…"
        best = max(reading.ranked[0].hits, key=lambda h: (h.weight, h.start))
        return line_around(said, best.start, best.end, limit)

    def to_json(self) -> dict[str, str]:
        return {"text": self.text, "line": self.line, "symptom": self.symptom}

    @classmethod
    def from_json(cls, value: Any) -> PastedError | None:
        """From a journal header (None when absent or malformed)."""
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            return None
        return cls(
            clean_lines(value["text"]),
            clean_text(str(value.get("line", "")), MAX_LINE),
            clean_text(str(value.get("symptom", "")), 40),
        )


def clean_lines(raw: str) -> str:
    """Printable lines (escapes shown, never interpreted), capped from the end."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")[-MAX_CHARS:]
    lines = [clean_text(line, MAX_LINE).rstrip() for line in raw.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines[-MAX_LINES:])


# ``'api_key': 'v'`` / ``"password": "v"`` / ``{"token": v}``: code and logs quote
# secrets as dict or JSON pairs, which the shapes of free text do not cover.
_QUOTED_PAIR = re.compile(
    r"""(?P<q>["'])(?P<name>[A-Za-z0-9_.-]{1,64})(?P=q)\s*[:=]\s*"""
    r"""(?:"(?P<v1>[^"\n]{1,512})"|'(?P<v2>[^'\n]{1,512})'|(?P<v3>[^\s,;}\]\)"']{1,512}))"""
)


def redact_pasted(text: str, redactor: Redactor) -> str:
    """Pasted text through *redactor*, which first learns the values of secret-named
    quoted pairs and every secret the detectors see by its look (so it scrubs them
    here and from everything else the run emits).  A private key block keeps only its
    BEGIN and END lines."""
    from probes.core.detectors import mask_key_blocks

    for m in _QUOTED_PAIR.finditer(text):
        value = m.group("v1") or m.group("v2") or m.group("v3") or ""
        if is_secret_name(m.group("name")) and value != REDACTED:
            redactor.add(value)
    redactor.learn_paste(text)
    return redactor.text(mask_key_blocks(text, REDACTED))


def keep_error(raw: str, redactor: Redactor) -> PastedError:
    """*raw* as a session may keep it: cleaned, passed through *redactor*, read."""
    text = redact_pasted(clean_lines(raw), redactor)
    reading = read_error(text)
    return PastedError(text, reading.line, reading.symptom)


def said_line(error: PastedError, sees: str) -> str:
    """``your app said: <line>; netmedic sees: <verdict>`` for every face."""
    return f"your app said: {error.said}; netmedic sees: {sees}"
