"""Warehouse and file I/O: the DuckDB warehouse, the data directory's layout, reading
extracts and configuration files, atomic file writes and ERP exports. Engines in
`pipelines/` never import this; `runs/`, `parsers/` and `assets/` do."""
