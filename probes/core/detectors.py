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
            found.update(value for value in plugin.analyze_string(line) if value)
        found.update(_random_words(line, base64, hex_))
    return sorted(found, key=len, reverse=True)


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
