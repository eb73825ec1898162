"""Speaking the target's protocol: TLS and its certificate chain, HTTP (with
redirects and timings), proxies, WebSocket upgrades, CORS preflights, and the
service protocols (Redis, PostgreSQL, SMTP STARTTLS).

A probe family: may import ``probes.core`` and ``probes.wire``, never another family.
"""
