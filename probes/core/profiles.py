"""What netmedic knows about the services runbooks are about, and how they want a key.

A *profile kind* names a well-known service (a Qdrant-style vector database, an
OpenAI-style API, Redis, PostgreSQL): its usual port, its health path and the
header convention its API key travels in.  Saved services (``services.toml``,
:mod:`probes.record.services`) name a kind, or the kind is guessed from the
target's port and host alone, so the right probe and the right retry command
apply without any configuration.

Pure data and small functions: no I/O, nothing remote.
"""

from __future__ import annotations

from dataclasses import dataclass

from probes.core.target import Target


@dataclass(frozen=True, slots=True)
class AuthConvention:
    """How a key is sent: the header, what the value looks like, the variable to hold it."""

    header: str  # "api-key", "x-api-key", "Authorization"
    scheme: str  # "" (the key alone), "Bearer", "Basic"
    variable: str  # the environment variable suggested to hold the header's value
    why: str  # how netmedic knows (shown as evidence)


@dataclass(frozen=True, slots=True)
class ProfileKind:
    name: str
    label: str
    ports: tuple[int, ...]
    health: str = ""  # a path that answers without side effects
    auth: AuthConvention | None = None
    probe: str = "http"  # the protocol probe that applies
    # A read-only path that needs the key (the health path often does not): a saved
    # service's check asks it too, so a wrong key cannot pass as healthy.
    authed: str = ""


KINDS: dict[str, ProfileKind] = {
    kind.name: kind
    for kind in (
        ProfileKind(
            "qdrant",
            "Qdrant-style vector database (HTTP API)",
            (6333,),
            "/healthz",
            AuthConvention(
                "api-key", "", "QDRANT_API_KEY", "Qdrant-style APIs take the key in 'api-key'"
            ),
            authed="/collections",
        ),
        ProfileKind(
            "openai",
            "OpenAI-style API (Bearer key)",
            (),
            "/v1/models",
            AuthConvention(
                "Authorization",
                "Bearer",
                "OPENAI_AUTHORIZATION",
                "OpenAI-style APIs take 'Authorization: Bearer <key>'",
            ),
        ),
        ProfileKind(
            "confluence",
            "Confluence / Atlassian (basic auth or a personal token)",
            (8090,),
            "/status",
            AuthConvention(
                "Authorization",
                "Basic",
                "CONFLUENCE_AUTHORIZATION",
                "Confluence takes 'Authorization: Basic' (user:token) or 'Bearer' (PAT)",
            ),
            authed="/rest/api/space?limit=1",
        ),
        ProfileKind("redis", "Redis", (6379,), probe="service"),
        ProfileKind("postgres", "PostgreSQL", (5432,), probe="service"),
    )
}
BEARER = AuthConvention(
    "Authorization", "Bearer", "API_AUTHORIZATION", "the challenge asks for a Bearer token"
)
BASIC = AuthConvention(
    "Authorization", "Basic", "API_AUTHORIZATION", "the challenge asks for Basic credentials"
)


def kind_for(target: Target, named: str = "") -> ProfileKind | None:
    """The kind a saved service names, else the one the port (or host) suggests."""
    if named:
        return KINDS.get(named)
    if target.host == "api.openai.com" or target.path.startswith("/v1/chat"):
        return KINDS["openai"]
    for kind in KINDS.values():
        if target.port in kind.ports:
            return kind
    return None


def _body_convention(body: str) -> AuthConvention | None:
    """What an error body says about the key it wants (the server's own words)."""
    lowered = body.lower()
    if "must provide an api key or an authorization bearer token" in lowered:
        return KINDS["qdrant"].auth  # Qdrant's own words
    openai = ("invalid_api_key", "invalid_request_error", "bearer auth", "incorrect api key")
    if any(w in lowered for w in openai):
        return BEARER  # OpenAI-style error bodies
    if "x-api-key" in lowered:
        return AuthConvention(
            "x-api-key", "", "API_KEY", "the server's error text names the 'x-api-key' header"
        )
    if "api-key" in lowered or "api key" in lowered:
        return AuthConvention(
            "api-key", "", "API_KEY", "the server's error text asks for an API key"
        )
    if "bearer" in lowered:
        return BEARER
    return None


def auth_convention(
    challenge: str, body: str, target: Target, named_kind: str = ""
) -> AuthConvention:
    """The header convention to suggest for a 401: a saved service's kind first, then
    the challenge (WWW-Authenticate), the error body, the port, and Bearer last."""
    kind = kind_for(target, named_kind)
    if named_kind and kind is not None and kind.auth is not None:
        return kind.auth
    scheme = challenge.split(" ", 1)[0].strip().lower()
    if scheme == "bearer":
        return BEARER
    if scheme == "basic":
        return BASIC
    if kind is not None and kind.auth is not None:
        return kind.auth
    found = _body_convention(body)
    if found is not None:
        return found
    return AuthConvention(
        "Authorization",
        "Bearer",
        "API_AUTHORIZATION",
        "no challenge and no hint in the body: Bearer is the common convention",
    )
