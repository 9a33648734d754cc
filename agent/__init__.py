"""The legacy-estate agent: discovers one host's OS and software and sends it to the collector."""

# A constant rather than importlib.metadata: that import costs about 35 ms, a third of a whole scan.
# tests/test_local_scan.py checks it matches pyproject.toml.
__version__ = "0.1.0"
