"""Writing results: figures (matplotlib) and tables (CSV/JSON/HTML)."""
