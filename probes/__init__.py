"""netmedic's engine: targets, probes, the runner and the diagnosis.

Importable and usable alone: nothing here imports Textual, Rich or ``tui``.
"""

__version__ = "0.1.0"
