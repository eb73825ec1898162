"""Rules that read the probe results and emit findings; ranking that names the verdict.

Above the probe families (reads their result types); below run and record.
"""

from probes.diagnosis.engine import diagnose

__all__ = ["diagnose"]
