"""Bill files in the inbox as Dagster partition keys (runs/partition_keys.py), and back;
and what the inbox holds that is not a bill file.

A key is `<CARRIER>/<file name>#<sha256 prefix>`: readable in the UI, and a
corrected bill re-sent under the same name is a new partition rather than a
silent overwrite of the old one (the raw store keeps both, by content).

Only regular files directly in `bills/inbox/<CARRIER>/` are bills. Everything else is
refused with a reason and reported (DOMAIN.md: nothing silently dropped), never
followed or read: a symbolic link (a link to /etc/passwd must not land in the raw
store), a fifo, socket or device (reading a fifo blocks forever), a folder inside a
carrier folder, a file directly in `bills/inbox/`, a hidden file. Entries are
classified by `lstat`, so nothing is followed to find out what it is.

Bills are taken in by content: a file whose bytes (sha256) were already taken in under
another key, in this batch or an earlier one, whatever its name or carrier folder, is a
duplicate of the first (`first_taken_in`), recorded and never parsed or loaded again.

The inbox holds the bills in force. A file taken in whose bytes are no longer anywhere in
the inbox is withdrawn (`withdrawals`): removed, or replaced by a corrected file under the
same name (superseded); its lines leave the warehouse and its carrier's periods are
reconciled again. Its bytes under another name keep it in force.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from parsers.ingest import list_quarantined, sha256_of
from runs.partition_keys import bill_file_key, split_bill_file_key
from storage.files import is_regular_file, is_temporary_name


@dataclass(frozen=True)
class InboxFile:
    carrier: str
    path: Path
    sha256: str

    @property
    def partition_key(self) -> str:
        return bill_file_key(self.carrier, self.path.name, self.sha256)


@dataclass(frozen=True)
class RefusedEntry:
    """Something in the inbox that is not a bill file: `name` is its path under the inbox."""

    name: str
    code: str
    reason: str


@dataclass(frozen=True)
class InboxSurvey:
    files: list[InboxFile]
    refused: list[RefusedEntry]


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISREG(mode):
        return "file"
    return "special"


def _special(name: str, mode: int) -> RefusedEntry:
    what = {stat.S_IFIFO: "a fifo", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device"}.get(
        stat.S_IFMT(mode), "a device"
    )
    return RefusedEntry(name, "inbox_special_file", f"{name} is {what}, not a file: not read")


def _symlink(name: str, path: Path) -> RefusedEntry:
    return RefusedEntry(
        name,
        "inbox_symlink",
        f"{name} is a symbolic link (to {os.readlink(path)}): refused, never followed; "
        "copy the file itself into the inbox",
    )


def _hidden(name: str) -> RefusedEntry:
    return RefusedEntry(
        name,
        "inbox_hidden_file",
        f"{name} is hidden (its name starts with a dot): not read as a bill; rename it if it "
        "is one",
    )


def survey_inbox(inbox: Path) -> InboxSurvey:
    """Every bill file under `inbox/<CARRIER>/`, hashed, in a stable order, and every other
    entry of the inbox with why it is refused. Temporary files of an atomic write in
    progress (storage/files.py) are neither."""
    files: list[InboxFile] = []
    refused: list[RefusedEntry] = []
    if not inbox.is_dir():
        return InboxSurvey(files, refused)
    for top in sorted(inbox.iterdir()):
        kind = _kind(top.lstat().st_mode)
        if is_temporary_name(top.name):
            continue
        if kind == "symlink":
            refused.append(_symlink(top.name, top))
        elif kind == "special":
            refused.append(_special(top.name, top.lstat().st_mode))
        elif top.name.startswith("."):
            refused.append(_hidden(top.name))
        elif kind == "file":
            refused.append(
                RefusedEntry(
                    top.name,
                    "inbox_no_carrier_folder",
                    f"{top.name} sits directly in the inbox: put it in a carrier folder "
                    f"(bills/inbox/<CARRIER>/{top.name})",
                )
            )
        else:
            _survey_carrier(top, files, refused)
    return InboxSurvey(files, refused)


def _survey_carrier(folder: Path, files: list[InboxFile], refused: list[RefusedEntry]) -> None:
    for path in sorted(folder.iterdir()):
        name = f"{folder.name}/{path.name}"
        mode = path.lstat().st_mode
        kind = _kind(mode)
        if is_temporary_name(path.name):
            continue
        if kind == "symlink":
            refused.append(_symlink(name, path))
        elif kind == "special":
            refused.append(_special(name, mode))
        elif path.name.startswith("."):
            refused.append(_hidden(name))
        elif kind == "folder":
            refused.append(
                RefusedEntry(
                    name,
                    "inbox_nested_folder",
                    f"{name}/ is a folder inside a carrier folder: bills in it are not read; "
                    f"move them up to bills/inbox/{folder.name}/",
                )
            )
        else:
            files.append(InboxFile(folder.name, path, sha256_of(path)))


@dataclass(frozen=True)
class InboxWork:
    """The inbox read against the bill file partitions already registered: what the inbox
    sensor and `reckon run` (reckon/runner.py) both act on, read in one place."""

    survey: InboxSurvey
    registered: frozenset[str]

    @property
    def new_keys(self) -> list[str]:
        """Inbox files not registered as partitions yet, in inbox order."""
        return [
            f.partition_key for f in self.survey.files if f.partition_key not in self.registered
        ]

    def retry_keys(self, quarantine: Path, fingerprint: str) -> list[str]:
        """Registered inbox files quarantined under another registry fingerprint (a parser or
        template version since changed), to parse again."""
        files = self.survey.files
        # a quarantined file is retried under its own key, not a duplicate's
        key_by_sha = {f.sha256: f.partition_key for f in reversed(files)}
        key_by_name = {(f.sha256, f.path.name): f.partition_key for f in files}
        return [
            key
            for r in list_quarantined(quarantine)
            if r.registry_fingerprint != fingerprint
            and (key := key_by_name.get((r.sha256, r.file_name), key_by_sha.get(r.sha256)))
            in self.registered
        ]


def inbox_work(inbox: Path, registered: Iterable[str]) -> InboxWork:
    """Survey `inbox` against the `registered` partition keys."""
    return InboxWork(survey_inbox(inbox), frozenset(registered))


def first_taken_in(batch: list[tuple[str, str]], taken: dict[str, str]) -> dict[str, str]:
    """{duplicate key: key of the file first taken in with its bytes} for a batch of
    (partition key, sha256) in partition order.

    `taken` maps the sha256 of every file taken in earlier (parsed or quarantined, not a
    duplicate) to its key; it wins over the batch, so rerunning a batch names the same
    first file. Within the batch the first key in partition (arrival) order is the first."""
    first = dict(taken)
    duplicates = {}
    for key, sha in batch:
        owner = first.setdefault(sha, key)
        if owner != key:
            duplicates[key] = owner
    return duplicates


def absent_keys(files: list[InboxFile], keys: Iterable[str]) -> list[str]:
    """The bill file keys (in their order) whose bytes no file of the inbox holds now."""
    present = {split_bill_file_key(f.partition_key)[2] for f in files}
    return [k for k in keys if split_bill_file_key(k)[2] not in present]


@dataclass(frozen=True)
class Withdrawal:
    """A file taken in whose bytes left the inbox; `replaced_by`: the key of the file now
    under its name in its carrier folder (a correction), or None (removed)."""

    key: str
    replaced_by: str | None

    def reason(self, lines: int) -> str:
        carrier, name, _ = split_bill_file_key(self.key)
        if self.replaced_by is None:
            return (
                f"{carrier}/{name} is no longer in the inbox: withdrawn, its {lines} line(s) "
                "removed from the warehouse and its carrier's periods reconciled again"
            )
        return (
            f"{carrier}/{name} was replaced by a corrected file under the same name "
            f"({self.replaced_by}): the old content is withdrawn, its {lines} line(s) removed "
            "from the warehouse"
        )


def withdrawals(files: list[InboxFile], taken: Iterable[str]) -> list[Withdrawal]:
    """The files taken in (`taken`: their keys) whose bytes no inbox file holds any more."""
    by_name = {(f.carrier, f.path.name): f.partition_key for f in files}
    return [
        Withdrawal(key, by_name.get(split_bill_file_key(key)[:2]))
        for key in absent_keys(files, taken)
    ]


def withdrawn_copies(files: list[InboxFile], copies: Iterable[str]) -> list[Withdrawal]:
    """The duplicates (`copies`: their keys) no longer in the inbox under their own name
    with their bytes. Unlike `withdrawals`, by name: a copy's bytes stay in the inbox in the
    file it duplicates, and only the copy itself has gone."""
    present = {f.partition_key for f in files}
    by_name = {(f.carrier, f.path.name): f.partition_key for f in files}
    return [
        Withdrawal(key, by_name.get(split_bill_file_key(key)[:2]))
        for key in copies
        if key not in present
    ]


def duplicate_reason(key: str, first: str, sha: str) -> str:
    """Why a duplicate is not parsed, naming both files and the hash."""
    carrier, name, _ = split_bill_file_key(key)
    first_carrier, first_name, _ = split_bill_file_key(first)
    return (
        f"{carrier}/{name} has the same bytes (sha256 {sha}) as {first_carrier}/{first_name}, "
        "taken in first: not parsed again, its lines are loaded once"
    )


def resolve_partition(inbox: Path, key: str) -> InboxFile:
    """The inbox file a key names; a clear error when it is gone or has changed since."""
    carrier, name, sha_prefix = split_bill_file_key(key)
    path = inbox / carrier / name
    if (inbox / carrier).is_symlink() or not is_regular_file(path):
        raise FileNotFoundError(
            f"bill file {path} (partition {key}) is no longer a regular file in the inbox"
        )
    sha = sha256_of(path)
    if not sha.startswith(sha_prefix):
        raise ValueError(
            f"bill file {path} changed since it was registered as {key} (now sha256 {sha[:12]}); "
            "the sensor registers the new content as a new partition"
        )
    return InboxFile(carrier, path, sha)
