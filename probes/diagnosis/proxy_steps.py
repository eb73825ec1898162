"""How to pass proxy credentials: the steps every 407 finding gives, whichever probe
(the proxy probe, the HTTP request, the TLS tunnel) met the 407 first."""

from __future__ import annotations

from urllib.parse import urlsplit

from probes.core.model import NextStep
from probes.diagnosis.evidence import q


def bare_proxy(shown: str) -> str:
    """The proxy URL without user info (``http://***@p:3128`` → ``http://p:3128``)."""
    url = shown if "://" in shown else f"http://{shown}"
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def credential_steps(variable: str, shown: str, url: str) -> tuple[NextStep, ...]:
    """Put the credentials in the variable (percent-encoded), test them with curl."""
    proxy = bare_proxy(shown)
    try:
        hostport = urlsplit(proxy).netloc
    except ValueError:
        hostport = proxy.partition("://")[2]
    return (
        NextStep(
            f"Pass the proxy credentials in {variable or 'the proxy variable'}: put "
            f"USER:PASSWORD@ before {hostport} in its URL (percent-encode @ : / in them), "
            "or use the client's own proxy-auth setting"
        ),
        NextStep(
            "Test them by hand (curl asks for the password)",
            f"curl -sv -o /dev/null -x {q(proxy)} --proxy-user USER {q(url)}",
        ),
    )
