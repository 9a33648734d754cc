"""The legacy-estate collector: receives reports over gRPC or from files and keeps them in DuckDB."""
