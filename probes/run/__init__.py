"""Running a session: symptoms and probe plans, the concurrent runner with its
deadlines, and the run's redaction boundary.

Above diagnosis and the probe families (loads probes by name, lazily); below record.
"""
