"""The store: the DuckDB database, its numbered migrations and tables."""
