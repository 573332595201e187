"""The DuckDB warehouse: schema, writes from the pipeline and read-only queries for analysts."""
