"""Finding ids are a contract: every id the engine can emit is in the vocabulary.

The diagnosis package names ids as string literals (in ``Finding(...)`` calls, the
ranking's causal order, the coverage table).  Every literal shaped like a finding id
must be in ``probes.diagnosis.vocabulary``; ``DESIGN`` there must match DESIGN.md's
tables when the design document is at hand; and the ``PROPOSED`` ids (meanings the
project added) must not be in DESIGN.md, so the list of new ids stays explicit.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from probes.diagnosis.vocabulary import DESIGN, PROPOSED, VOCABULARY

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("dns", "route", "path", "tcp", "tls", "http", "proxy", "ws", "cors", "local",
          "system", "privilege", "service", "probe", "server", "remote")  # fmt: skip
ID = re.compile(rf"^({'|'.join(LAYERS)})\.[a-z_]+$")
DESIGN_MD = ROOT.parent / "shared" / "DESIGN.md"


def ids_named_in(package: Path) -> dict[str, str]:
    """Every string literal shaped like a finding id, with where it is."""
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        if path.name == "vocabulary.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if ID.match(node.value):
                found.setdefault(node.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_id_the_diagnosis_names_is_in_the_vocabulary() -> None:
    named = ids_named_in(ROOT / "probes" / "diagnosis")
    assert len(named) > 60  # the scan sees the rules
    strays = {fid: where for fid, where in named.items() if fid not in VOCABULARY}
    assert not strays, f"ids outside the vocabulary (add them with their meaning): {strays}"


def test_every_id_the_findings_carry_at_runtime_is_in_the_vocabulary() -> None:
    """The coverage findings are built at run time: they are in the vocabulary too."""
    from probes.diagnosis import coverage

    assert {coverage.UNEXPLAINED, coverage.INCOMPLETE} <= VOCABULARY.keys()


def design_ids(text: str) -> set[str]:
    section = text[text.index("## Finding ids") : text.index("## Quality bars")]
    ids: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            ids.update(re.findall(r"`([a-z]+\.[a-z_]+)`", line.split("|")[1]))
    return ids


@pytest.mark.skipif(not DESIGN_MD.is_file(), reason="DESIGN.md is not next to this checkout")
def test_the_vocabulary_mirrors_design_md() -> None:
    ids = design_ids(DESIGN_MD.read_text())
    assert ids == set(DESIGN), (
        f"only in DESIGN.md: {sorted(ids - set(DESIGN))}; "
        f"only in vocabulary.DESIGN: {sorted(set(DESIGN) - ids)}"
    )
    assert not ids & set(PROPOSED), "a proposed id is in DESIGN.md now: move it to DESIGN"


def test_one_id_per_meaning() -> None:
    """No two proposed ids share a meaning, and none repeats a DESIGN meaning."""
    meanings = [m for m in PROPOSED.values()]
    assert len(set(meanings)) == len(meanings)
    assert not set(meanings) & set(DESIGN.values())
