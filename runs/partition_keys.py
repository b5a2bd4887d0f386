"""The two keyed partitions' keys, made and read in one place (plain strings, no Dagster).

A billing period is `<CARRIER>|<period start>` (`DHL|2026-01-01`): the carrier's cycle
gives the end (runs/reconciliation.py). A bill file is `<CARRIER>/<file name>#<sha256
prefix>`: readable in the UI, and a corrected bill re-sent under the same name is a new
partition rather than a silent overwrite of the old one (the raw store keeps both, by
content). The sensors, the assets, the runs and the CLI's runner all use these.
"""

from __future__ import annotations

from datetime import date

PERIOD_SEPARATOR = "|"
SHA_PREFIX = 12
"""Hex digits of a bill file's sha256 in its key."""


def period_key(carrier: str, start: date) -> str:
    return f"{carrier}{PERIOD_SEPARATOR}{start.isoformat()}"


def split_period_key(key: str) -> tuple[str, date]:
    """(carrier, period start) of a billing period key."""
    carrier, _, start = key.partition(PERIOD_SEPARATOR)
    return carrier, date.fromisoformat(start)


def period_key_carrier(key: str) -> str:
    """The carrier of a billing period key (read without parsing its date)."""
    return key.partition(PERIOD_SEPARATOR)[0]


def bill_file_key(carrier: str, file_name: str, sha256: str) -> str:
    return f"{carrier}/{file_name}#{sha256[:SHA_PREFIX]}"


def split_bill_file_key(key: str) -> tuple[str, str, str]:
    """(carrier, file name, sha256 prefix) of a bill file key."""
    carrier, _, rest = key.partition("/")
    name, _, sha_prefix = rest.rpartition("#")
    if not carrier or not name or not sha_prefix:
        raise ValueError(f"not a bill file partition key: {key!r}")
    return carrier, name, sha_prefix


def bill_file_key_carrier(key: str) -> str:
    """The carrier of a bill file key (read without checking the rest)."""
    return key.partition("/")[0]
