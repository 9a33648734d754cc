"""Scoring: rules into DuckDB, the scoring SQL (sql/*.sql) for an as_of date, and explain."""
