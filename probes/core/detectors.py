"""Secrets by their look, found by detect-secrets' maintained plugins.

An error message is where people paste what they should not: a private key block, a
``ghp_…`` token, an ``xoxb-…`` Slack token, an ``sk-…`` key, an ``AKIA…`` key id and
its secret.  Rather than grow hand-written patterns, :func:`secrets_in` asks Yelp's
``detect-secrets`` plugins (keys by vendor, JWTs, private keys) and its high-entropy
string detectors, and returns the values to scrub; the run's
:class:`~probes.core.redact.Redactor` learns them, so they leave every output.

``detect-secrets`` costs start-up time (it imports ``requests``): this module is
imported only when a paste is redacted (or a command line is shown), never at start.
Nothing here ever calls a plugin's ``verify`` (that would send the secret away).
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

# The vendor plugins: (module, class) under detect_secrets.plugins.
_VENDOR_PLUGINS = (
    ("aws", "AWSKeyDetector"),
    ("github_token", "GitHubTokenDetector"),
    ("gitlab_token", "GitLabTokenDetector"),
    ("slack", "SlackDetector"),
    ("stripe", "StripeDetector"),
    ("openai", "OpenAIDetector"),
    ("jwt", "JwtTokenDetector"),
    ("npm", "NpmDetector"),
    ("pypi_token", "PypiTokenDetector"),
    ("sendgrid", "SendGridDetector"),
    ("twilio", "TwilioKeyDetector"),
    ("discord", "DiscordBotTokenDetector"),
    ("mailchimp", "MailchimpDetector"),
    ("artifactory", "ArtifactoryDetector"),
    ("azure_storage_key", "AzureStorageKeyDetector"),
    ("square_oauth", "SquareOAuthDetector"),
    ("telegram_token", "TelegramBotTokenDetector"),
)
# A random-looking word this long or longer is a candidate for the entropy detectors;
# shorter ones are ids, versions and host labels far more often than secrets.
MIN_RANDOM_LEN = 20
MIN_HEX_LEN = 32
# A private key block (PEM, OpenSSH, PGP), to its END line or the end of the text.
_KEY_BLOCK = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----"
    r"(?P<body>.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
    re.DOTALL,
)
# The pieces of a key body: split at whitespace and at escaped newlines ("\\n" in JSON).
_BODY_SPLIT = re.compile(r"(?:\s|\\n|\\r)+")
_HAS = (re.compile(r"[0-9]"), re.compile(r"[a-z]"), re.compile(r"[A-Z]"))


def secrets_in(text: str) -> list[str]:
    """Every secret value the detectors find in *text*, longest first."""
    found: set[str] = set(key_block_secrets(text))
    vendors, base64, hex_ = _plugins()
    for line in text.splitlines():
        for plugin in vendors:
            found.update(_matches(plugin, line))
        found.update(_random_words(line, base64, hex_))
    return sorted(found, key=len, reverse=True)


# Shapes that start a vendor token: a cheap gate before detect-secrets is imported
# (start-up) to judge a word that is not a paste, such as another process's argument.
VENDOR_PREFIX = re.compile(
    r"(?:gh[pousr]_|github_pat_|glpat-|xox[abposr]-|[sr]k_live_|sk-|A3T[A-Z0-9]|AKIA|ASIA|ABIA|"
    r"ACCA|eyJ|npm_|pypi-|SG\.|AC[a-z0-9]{32}|SK[a-z0-9]{32})"
)


def vendor_secrets_in(text: str) -> list[str]:
    """The vendor tokens (keys, JWTs) in *text*, without the entropy heuristics: for
    words that are not a paste, where a random-looking id is usually just an id."""
    if not VENDOR_PREFIX.search(text):
        return []
    vendors, _base64, _hex = _plugins()
    found = {value for plugin in vendors for value in _matches(plugin, text)}
    return sorted(found, key=len, reverse=True)


def _matches(plugin: Any, text: str) -> Iterator[str]:
    """What *plugin* sees in *text*: the whole match of a pattern (a plugin's
    ``analyze_string`` yields only its group, ``ghp`` of a ``ghp_…`` token), or what
    its own analysis yields (the JWT plugin checks what it matched)."""
    if type(plugin).analyze_string is not _regex_analyze():
        yield from (value for value in plugin.analyze_string(text) if value)
        return
    for pattern in plugin.denylist:
        yield from (m.group(0) for m in pattern.finditer(text) if m.group(0))


def _regex_analyze() -> Any:
    from detect_secrets.plugins.base import RegexBasedDetector

    return RegexBasedDetector.analyze_string


def key_block_secrets(text: str) -> Iterator[str]:
    """The body of every private key block in *text*, whole and piece by piece."""
    for m in _KEY_BLOCK.finditer(text):
        body = m.group("body").strip()
        if not body:
            continue
        yield body
        yield from (piece for piece in _BODY_SPLIT.split(body) if piece)


def mask_key_blocks(text: str, mask: str) -> str:
    """Each private key block's body replaced by *mask* (its BEGIN/END lines kept)."""

    def masked(m: re.Match[str]) -> str:
        body = m.group("body")
        return m.group(0).replace(body, f"\n{mask}\n", 1) if body.strip() else m.group(0)

    return _KEY_BLOCK.sub(masked, text)


def _random_words(line: str, base64: Any, hex_: Any) -> Iterable[str]:
    """detect-secrets' entropy detectors over the unquoted words of *line* (as its
    ad-hoc string scan does), kept to long words that mix digits and both cases
    (base64) or long hex: an English path or a host name is neither."""
    with base64.non_quoted_string_regex(is_exact_match=False):
        for word in base64.analyze_string(line):
            if (
                len(word) >= MIN_RANDOM_LEN
                and all(p.search(word) for p in _HAS)
                and base64.calculate_shannon_entropy(word) > base64.entropy_limit
            ):
                yield word
    with hex_.non_quoted_string_regex(is_exact_match=False):
        for word in hex_.analyze_string(line):
            if (
                len(word) >= MIN_HEX_LEN
                and re.search(r"[a-fA-F]", word)
                and hex_.calculate_shannon_entropy(word) > hex_.entropy_limit
            ):
                yield word


@functools.cache
def _plugins() -> tuple[tuple[Any, ...], Any, Any]:
    """The plugin instances, built once (importing detect-secrets is the slow part)."""
    vendors = []
    for module, name in _VENDOR_PLUGINS:
        try:
            cls = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name)
        except (ImportError, AttributeError):  # a plugin a newer release renamed
            continue
        vendors.append(cls())
    from detect_secrets.plugins.high_entropy_strings import (
        Base64HighEntropyString,
        HexHighEntropyString,
    )

    return tuple(vendors), Base64HighEntropyString(), HexHighEntropyString()
