"""``netmedic demo``: real, local fault servers on loopback to diagnose.

A newcomer on a machine where nothing is broken still sees real diagnoses:
:class:`~tui.demo.servers.DemoLab` starts one small server per fault on an
asyncio loop in a background thread (ports chosen by the kernel, certificates
made at start in a private temporary directory), and
:mod:`tui.demo.selftest` checks each against its expected verdict.  These
servers are product code a person runs, not test fixtures.
"""
