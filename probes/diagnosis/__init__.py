"""Diagnosis: rules read the evidence and emit findings; the ranking names a verdict."""

from probes.diagnosis.engine import diagnose

__all__ = ["diagnose"]
