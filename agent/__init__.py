"""The legacy-estate agent: discovers one host's OS and software and sends it to the collector."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("legacy-estate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
