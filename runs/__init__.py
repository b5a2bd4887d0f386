"""Running an engine against the warehouse: read its inputs, carry its state, store its outputs.

The engines in `pipelines/costing`, `pipelines/rating` and `pipelines/reconciliation`
are pure functions over frames; these modules are the thin layer that feeds them
from DuckDB and writes their results back, idempotently, so the Dagster assets
stay a few lines each.
"""
