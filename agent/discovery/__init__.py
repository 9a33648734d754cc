"""Discoverers: one module per source of facts.

Each module keeps parsing in pure functions (text in, protobuf parts out) and does its I/O
through a HostAccess, so the same code serves the local agent, the SSH scan and the tests.
The registry of discoverers that a scan runs is `estate.agent.scan.DISCOVERERS`.
"""
