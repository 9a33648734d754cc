"""Ingest: validate a report, flatten it column-wise, and the one writer that group-commits and releases receipts."""
