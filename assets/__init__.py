"""Dagster wiring for reckon: assets, partitions, checks, schedules, sensors, resources.

Thin by design (STYLE.md): every asset calls a plain function in `pipelines/`
or `parsers/` and turns its result into warehouse rows, exports and the
metadata an analyst reads in the UI.
"""
