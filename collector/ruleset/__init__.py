"""Rule files: reading them safely, their schemas, loading and cross-checks, the endoflife.date import."""
