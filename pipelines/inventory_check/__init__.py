"""T-1 inventory check (DOMAIN.md "compare computed balances with the daily T-1 snapshot")."""

from pipelines.inventory_check.check import SnapshotCheck, check_snapshot

__all__ = ["SnapshotCheck", "check_snapshot"]
