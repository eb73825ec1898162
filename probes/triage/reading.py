"""Rank symptoms by the clues an error text holds, and find the line that says it.

Pure functions of the text: the picker calls :func:`read_error` on every key, the
CLI once.  Spans let a face highlight the matched words without ever treating the
text as markup.
"""

from __future__ import annotations

from dataclasses import dataclass

from probes.triage.clues import CLUES, Clue

LINE_LIMIT = 200  # the error line shown with the verdict, cut around its match


@dataclass(frozen=True, slots=True)
class Hit:
    """One clue found in the text: ``text[start:end]`` points at *symptom*."""

    symptom: str
    start: int
    end: int
    weight: int


@dataclass(frozen=True, slots=True)
class SymptomScore:
    symptom: str
    score: int
    hits: tuple[Hit, ...]  # this symptom's clues, in text order


@dataclass(frozen=True, slots=True)
class Reading:
    text: str
    ranked: tuple[SymptomScore, ...]  # best first; only symptoms with a clue

    @property
    def symptom(self) -> str:
        """The symptom the text names best ("" when it names none)."""
        return self.ranked[0].symptom if self.ranked else ""

    def words(self, symptom: str) -> tuple[str, ...]:
        """The matched words for *symptom*, each once, in text order."""
        for score in self.ranked:
            if score.symptom == symptom:
                return tuple(dict.fromkeys(self.text[h.start : h.end] for h in score.hits))
        return ()

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """Every matched span of every ranked symptom (for highlighting)."""
        return tuple(sorted({(h.start, h.end) for s in self.ranked for h in s.hits}))

    @property
    def line(self) -> str:
        """The line that says it: the one holding the best symptom's heaviest clue
        (the last such line: a traceback ends with the error that counts)."""
        if not self.ranked:
            return ""
        best = max(self.ranked[0].hits, key=lambda h: (h.weight, h.start))
        return line_around(self.text, best.start, best.end)


def read_error(text: str, clues: tuple[Clue, ...] = CLUES) -> Reading:
    """Which symptoms *text* points at, best first (ties keep the table's order)."""
    hits: dict[str, list[Hit]] = {}
    scores: dict[str, int] = {}
    for clue in clues:
        found = [m for m in clue.regex.finditer(text) if m.end() > m.start()]
        if found:  # a clue counts once, however often it is found
            scores[clue.symptom] = scores.get(clue.symptom, 0) + clue.weight
            hits.setdefault(clue.symptom, []).extend(
                Hit(clue.symptom, m.start(), m.end(), clue.weight) for m in found
            )
    order = {c.symptom: i for i, c in reversed(list(enumerate(clues)))}
    ranked = sorted(scores, key=lambda s: (-scores[s], order[s]))
    return Reading(
        text,
        tuple(
            SymptomScore(s, scores[s], tuple(sorted(hits[s], key=lambda h: h.start)))
            for s in ranked
        ),
    )


def line_around(text: str, start: int, end: int, limit: int = LINE_LIMIT) -> str:
    """The line of *text* holding ``[start, end)``, stripped and cut to *limit*
    characters around the match."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    line = text[line_start:line_end]
    lead = len(line) - len(line.lstrip())
    line = line.strip()
    if len(line) <= limit:
        return line
    at = max(0, start - line_start - lead - limit // 3)
    if at:  # start at a word, not in the middle of one
        space = line.find(" ", at)
        at = space + 1 if 0 <= space < start - line_start - lead else at
    cut = line[at : at + limit - 2]
    if at + limit - 2 < len(line) and " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return ("…" if at else "") + cut + ("…" if at + len(cut) < len(line) else "")
