"""``netmedic exporter``: Prometheus' blackbox-style prober, with netmedic's reason why."""
