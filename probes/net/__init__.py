"""Reaching the target: name resolution (getaddrinfo next to every configured
resolver) and the TCP connect probe.

A probe family: may import ``probes.core`` and ``probes.wire``, never another family.
"""
