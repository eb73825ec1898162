"""services.toml (issue 26): a typo is answered with the name it was meant to be."""

from __future__ import annotations

import pytest

from probes.record.services import ServicesError, parse_services

GOOD = """\
[services.vectors]
url = "https://qdrant.internal:6333"
kind = "qdrant"
symptom = "auth"
"""


@pytest.mark.parametrize(
    ("line", "typo", "hint"),
    [
        ('symptom = "auth"', 'symtom = "auth"', "unknown key 'symtom'; did you mean 'symptom'"),
        ('kind = "qdrant"', 'kind = "qdrnt"', "unknown kind 'qdrnt'; did you mean 'qdrant'"),
        ('symptom = "auth"', 'symptom = "timout"', "symptom 'timout'; did you mean 'timeout'"),
    ],
)
def test_a_typo_gets_a_did_you_mean(line: str, typo: str, hint: str) -> None:
    with pytest.raises(ServicesError, match=hint + r"\?"):
        parse_services(GOOD.replace(line, typo), "services.toml")


def test_no_near_name_lists_the_known_ones() -> None:
    with pytest.raises(ServicesError, match=r"unknown key 'zzz' \(known: "):
        parse_services(GOOD + 'zzz = "1"\n', "services.toml")
