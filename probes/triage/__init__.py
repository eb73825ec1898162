"""Read the error text people paste: which symptom it names, which target, which line.

Engine knowledge, no UI: :mod:`probes.triage.clues` is the data (phrases, errno
names, exception classes, status lines, curl exit codes, per ecosystem),
:mod:`probes.triage.reading` ranks symptoms by them, :mod:`probes.triage.naming`
finds the target the text names (never inventing a host), and
:mod:`probes.triage.pasted` turns pasted text into what a session keeps (capped,
sanitised, redacted).
"""
