"""Evidence from other hosts over the person's own OpenSSH: the server's side of the
connection (``--server``) and the same check from other vantage points (``--from``).

Above the probe families: it reads what comes back with their readers (host sockets,
firewall rulesets, unit files, OOM records) and compares it with their data.
"""
