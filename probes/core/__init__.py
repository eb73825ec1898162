"""The engine's vocabulary: result model, targets, options, the probe context,
privileges, and the text hygiene (sanitising, redaction) every layer applies.

Imports nothing else from ``probes``; everything else may import it.
"""
