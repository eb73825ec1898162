"""Examples under each subcommand's ``--help``, as curl and httpie show them."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = {
    "check": """\
examples:
  netmedic check db.internal:5432                 why can't I connect? (concise)
  netmedic check https://api.example.com/health --symptom tls
  netmedic check 127.0.0.1:8080 --verbose         every finding, every probe's result
  netmedic check ssh://git.example.com            banner, host key type, auth methods
  netmedic check --error "$(tail -1 app.log)"     start from what your app printed
  netmedic check @api --json                      a saved service, as one JSON object""",
    "symptoms": """\
example:
  netmedic symptoms                               the ids --symptom takes""",
    "report": """\
examples:
  netmedic report                                 the latest session as Markdown
  netmedic report 20261207-0558 --format html -o ticket.html
  netmedic report --bundle support.zip            report, journal and facts in one zip""",
    "sessions": """\
example:
  netmedic sessions                               saved sessions, newest first""",
    "services": """\
example:
  netmedic services                               saved services and built-in profiles""",
    "demo": """\
examples:
  netmedic demo                                   pick a broken loopback service, diagnose it
  netmedic demo --check                           check each one gets its expected verdict""",
    "watch": """\
examples:
  netmedic watch db.internal:5432                 one line per second: loss, rtt, resets
  netmedic watch 10.0.0.5:443 --count 60 --max-loss 5
  netmedic watch api:8080 --connections 50 --json""",
    "help": """\
examples:
  netmedic help                                   the commands
  netmedic help check                             one command's options and examples""",
}


def add_examples(subparsers: Any) -> None:
    """Put each subcommand's examples under its ``--help``."""
    for name, parser in subparsers.choices.items():
        if name in EXAMPLES:
            parser.epilog = EXAMPLES[name]
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
