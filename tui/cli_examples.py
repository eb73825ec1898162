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
  netmedic check @api --json                      a saved service, as one JSON object
  netmedic check db.internal:5432 --server db1    also read the server's side over ssh
  netmedic check api:443 --from bastion,app2      the same check from there too, compared
  netmedic check api:443 --from @web --inventory hosts.json""",
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
  netmedic watch api:8080 --connections 50 --json
  netmedic watch @api                             a saved service, with its headers
  netmedic watch db.internal:5432 --server db1    and the server's side every 60 rounds""",
    "help": """\
examples:
  netmedic help                                   the commands
  netmedic help check                             one command's options and examples""",
}


TUI_EXAMPLES = """\
examples:
  netmedic                                        pick the symptom, then type the target
  netmedic db.internal:5432 --symptom refused     straight to the diagnosis
  netmedic @api                                   a saved service ('netmedic services')
  netmedic db.internal:5432 --server db1          also the server's side, over your ssh
  netmedic api:443 --from bastion,app2            the same check from there too
  netmedic api:443 --from @web --inventory hosts.json

--server and --from fill the target screen's "other hosts" field (ctrl+o there),
shown before the run starts and remembered for the target."""


def add_examples(subparsers: Any) -> None:
    """Put each subcommand's examples under its ``--help``."""
    for name, parser in subparsers.choices.items():
        if name in EXAMPLES:
            parser.epilog = EXAMPLES[name]
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
