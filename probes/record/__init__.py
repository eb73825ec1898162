"""What a session leaves behind: the journal on disk (and its background writer),
reading it back into a session, rebuilding typed results, the ``check --json``
document, and safe file writing.

The top of the engine: may import every other layer of ``probes``.
"""
