"""Bill files in the inbox as Dagster partition keys (runs/partition_keys.py), and back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from parsers.ingest import sha256_of
from runs.partition_keys import bill_file_key, split_bill_file_key


@dataclass(frozen=True)
class InboxFile:
    carrier: str
    path: Path
    sha256: str

    @property
    def partition_key(self) -> str:
        return bill_file_key(self.carrier, self.path.name, self.sha256)


def scan_inbox(inbox: Path) -> list[InboxFile]:
    """Every file under `inbox/<CARRIER>/`, hashed, in a stable order."""
    if not inbox.is_dir():
        return []
    files = []
    for carrier_dir in sorted(p for p in inbox.iterdir() if p.is_dir()):
        for path in sorted(p for p in carrier_dir.iterdir() if p.is_file()):
            if path.name.startswith("."):
                continue
            files.append(InboxFile(carrier_dir.name, path, sha256_of(path)))
    return files


def resolve_partition(inbox: Path, key: str) -> InboxFile:
    """The inbox file a key names; a clear error when it is gone or has changed since."""
    carrier, name, sha_prefix = split_bill_file_key(key)
    path = inbox / carrier / name
    if not path.is_file():
        raise FileNotFoundError(f"bill file {path} (partition {key}) is no longer in the inbox")
    sha = sha256_of(path)
    if not sha.startswith(sha_prefix):
        raise ValueError(
            f"bill file {path} changed since it was registered as {key} (now sha256 {sha[:12]}); "
            "the sensor registers the new content as a new partition"
        )
    return InboxFile(carrier, path, sha)
