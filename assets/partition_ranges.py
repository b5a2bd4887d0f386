"""Run tags for a range of partitions: how one run covers many days, files or periods."""

from __future__ import annotations

from collections.abc import Sequence

from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)


def range_tags(first: str, last: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def covering_range_tags(keys: Sequence[str], ordered: Sequence[str]) -> dict[str, str]:
    """Range tags over the smallest contiguous run of `ordered` partitions holding `keys`.

    Dynamic partitions keep the order they were added in, so the keys of one batch
    are usually contiguous; when not, the range holds a few more partitions, which
    is harmless because every asset here replaces its partition's rows.
    """
    positions = sorted(ordered.index(k) for k in keys)
    return range_tags(ordered[positions[0]], ordered[positions[-1]])
