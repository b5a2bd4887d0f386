"""Ingest bill files: raw store first, parse once, validate, or quarantine with the reason.

Issue 4, item 4 and DOMAIN.md ("never lose a row, explain every exclusion"):
1. every incoming file is copied, content-addressed by sha256, into an immutable
   raw store (`raw/<sha[:2]>/<sha><suffix>`) before anything else happens;
2. a file already parsed with the same parser and template versions is not parsed
   again (the same file twice gives its lines once);
3. the file is parsed by the registry's choice and validated against the
   contracts (types, required values, enums, totals foot);
4. anything that fails goes to `quarantine/<sha>.json` with the reason, the
   parser's error and its locator, and is retried when the registry fingerprint
   (all parser and template versions) changes.
Parsed frames are kept beside the raw store (`parsed/<sha>/`), so a later run can
load them without parsing again. `ingest_many` parses each file in a worker process
with a time and memory budget (parsers/isolation.py): a file that hangs, allocates
without end or kills its worker is quarantined alone (`parse_timeout`,
`parse_memory`, `parser_crash`) and the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import polars as pl

from parsers.base import ParseContext
from parsers.isolation import ParseBudget, WorkerFailure, run_isolated
from parsers.model import BillParseError, ParseResult
from parsers.registry import Registry
from parsers.validate import validate
from storage.files import RAW_FILE_MODE, atomic_write, open_regular, write_bytes, write_parquet

Status = Literal["parsed", "already_parsed", "quarantined"]


@dataclass
class IngestOutcome:
    status: Status
    source_name: str
    sha256: str
    raw_path: Path
    parser: str | None = None
    parser_version: str | None = None
    template_id: str | None = None
    explanation: str = ""
    headers: pl.DataFrame | None = None
    lines: pl.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    error_code: str | None = None
    reason: str | None = None
    locator: str | None = None


@dataclass(frozen=True)
class QuarantineRecord:
    file_name: str
    sha256: str
    raw_path: str
    error_code: str
    reason: str
    parser_error: str
    locator: str | None
    parser: str | None
    template_id: str | None
    registry_fingerprint: str
    quarantined_at: str


def sha256_of(path: Path) -> str:
    """The file's sha256; it must be a regular file (storage.files.open_regular)."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def store_raw(path: Path, raw_store: Path, sha: str | None = None) -> tuple[str, Path]:
    """Copy `path` into the content-addressed store (once); the copy is read-only.

    Only a regular file is copied: a symbolic link or a special file raises
    NotARegularFile, so nothing outside the inbox can be copied in through a link."""
    sha = sha or sha256_of(path)
    target = raw_store / sha[:2] / f"{sha}{path.suffix.lower()}"
    if not target.exists():

        def copy(temporary: Path) -> None:
            with open_regular(path) as source, temporary.open("wb") as copy_to:
                shutil.copyfileobj(source, copy_to, 1 << 20)

        atomic_write(target, copy, mode=RAW_FILE_MODE)
    return sha, target


def default_parsed_store(raw_store: Path) -> Path:
    return raw_store.parent / "parsed"


def load_parsed(parsed_store: Path, sha: str) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """(headers, lines) of a file parsed earlier, or None."""
    folder = parsed_store / sha
    if not (folder / "meta.json").exists():
        return None
    return pl.read_parquet(folder / "headers.parquet"), pl.read_parquet(folder / "lines.parquet")


def _meta(parsed_store: Path, sha: str) -> dict | None:
    path = parsed_store / sha / "meta.json"
    return json.loads(path.read_text()) if path.exists() else None


def _save_parsed(
    parsed_store: Path, outcome: IngestOutcome, result: ParseResult, fingerprint: str
) -> None:
    folder = parsed_store / outcome.sha256
    for name, frame in (("headers", result.headers), ("lines", result.lines)):
        write_parquet(frame, folder / f"{name}.parquet")
    meta = {
        "source_name": outcome.source_name,
        "parser": outcome.parser,
        "parser_version": outcome.parser_version,
        "template_id": outcome.template_id,
        "registry_fingerprint": fingerprint,
        "parsed_at": datetime.now(UTC).isoformat(),
    }
    write_bytes(folder / "meta.json", json.dumps(meta, indent=2).encode())


def _quarantine(
    quarantine: Path, outcome: IngestOutcome, exc: BillParseError, fingerprint: str
) -> IngestOutcome:
    record = QuarantineRecord(
        file_name=outcome.source_name,
        sha256=outcome.sha256,
        raw_path=str(outcome.raw_path),
        error_code=exc.code,
        reason=exc.reason,
        parser_error=str(exc),
        locator=exc.locator,
        parser=outcome.parser,
        template_id=outcome.template_id,
        registry_fingerprint=fingerprint,
        quarantined_at=datetime.now(UTC).isoformat(),
    )
    write_bytes(
        quarantine / f"{outcome.sha256}.json", json.dumps(asdict(record), indent=2).encode()
    )
    outcome.status = "quarantined"
    outcome.error_code, outcome.reason, outcome.locator = exc.code, exc.reason, exc.locator
    return outcome


def ingest_file(
    path: Path,
    raw_store: Path,
    quarantine: Path,
    carrier_hint: str | None = None,
    *,
    registry: Registry | None = None,
    parsed_store: Path | None = None,
    template_id: str | None = None,
    source_name: str | None = None,
    sha: str | None = None,
) -> IngestOutcome:
    """Raw-store, parse (once per parser/template version), validate, or quarantine.

    Never raises for a bad file: the outcome says `quarantined` and why.
    """
    registry = registry or Registry.default()
    parsed_store = parsed_store or default_parsed_store(raw_store)
    fingerprint = registry.fingerprint()
    sha, raw_path = store_raw(path, raw_store, sha)
    outcome = IngestOutcome("parsed", source_name or path.name, sha, raw_path)
    q_path = quarantine / f"{sha}.json"
    if _quarantined_before(outcome, q_path, fingerprint, forced=template_id is not None):
        return outcome
    meta = _meta(parsed_store, sha)
    if meta and meta["registry_fingerprint"] == fingerprint and template_id is None:
        outcome.status = "already_parsed"
        outcome.parser, outcome.parser_version = meta["parser"], meta["parser_version"]
        outcome.template_id = meta["template_id"]
        return outcome
    try:
        choice = registry.choose(raw_path, carrier_hint, template_id, outcome.source_name)
        outcome.parser, outcome.parser_version = choice.parser.name, choice.parser.version
        outcome.template_id = (
            f"{choice.template.id}@{choice.template.version}" if choice.template else None
        )
        outcome.explanation = choice.explain()
        if meta and (meta["parser"], meta["parser_version"], meta["template_id"]) == (
            outcome.parser,
            outcome.parser_version,
            outcome.template_id,
        ):
            meta["registry_fingerprint"] = fingerprint
            write_bytes(parsed_store / sha / "meta.json", json.dumps(meta, indent=2).encode())
            outcome.status = "already_parsed"
            return outcome
        ctx = ParseContext(sha256=sha, source_name=outcome.source_name, carrier_hint=carrier_hint)
        result = choice.parser.parse(raw_path, ctx, choice.template)
        validate(result)
    except Exception as exc:
        return _quarantine(quarantine, outcome, _parse_error(exc, outcome), fingerprint)
    outcome.headers, outcome.lines, outcome.warnings = result.headers, result.lines, result.warnings
    _save_parsed(parsed_store, outcome, result, fingerprint)
    q_path.unlink(missing_ok=True)
    return outcome


def _quarantined_before(
    outcome: IngestOutcome, q_path: Path, fingerprint: str, *, forced: bool
) -> bool:
    """True (and `outcome` says why) when the file was quarantined under the same parsers
    and templates: parsing it again would fail the same way. A forced template retries."""
    if not q_path.exists():
        return False
    previous = json.loads(q_path.read_text())
    if previous["registry_fingerprint"] != fingerprint or forced:
        return False
    outcome.status = "quarantined"
    outcome.error_code, outcome.reason = previous["error_code"], previous["reason"]
    outcome.locator = previous["locator"]
    return True


def _parse_error(exc: Exception, outcome: IngestOutcome) -> BillParseError:
    """Any failure of choosing, parsing or validating as the quarantine's error: a parser's
    own error as it is, running out of memory as `parse_memory`, anything else (a bug in
    a parser) as `parser_crash` with the exception, so no bad file stops the batch."""
    if isinstance(exc, BillParseError):
        return exc
    if isinstance(exc, MemoryError):
        return BillParseError(
            "parse_memory", f"{outcome.source_name}: the parser ran out of memory (MemoryError)"
        )
    return BillParseError("parser_crash", f"{type(exc).__name__}: {exc}")


def list_quarantined(quarantine: Path) -> list[QuarantineRecord]:
    if not quarantine.is_dir():
        return []
    return [
        QuarantineRecord(**json.loads(p.read_text())) for p in sorted(quarantine.glob("*.json"))
    ]


def retry_quarantined(
    raw_store: Path,
    quarantine: Path,
    registry: Registry | None = None,
    parsed_store: Path | None = None,
) -> list[IngestOutcome]:
    """Re-ingest quarantined files whose record predates the current registry fingerprint."""
    registry = registry or Registry.default()
    fingerprint = registry.fingerprint()
    outcomes = []
    for record in list_quarantined(quarantine):
        if record.registry_fingerprint == fingerprint:
            continue
        outcomes.append(
            ingest_file(
                Path(record.raw_path),
                raw_store,
                quarantine,
                registry=registry,
                parsed_store=parsed_store,
                source_name=record.file_name,
                sha=record.sha256,
            )
        )
    return outcomes


_WORKER_REGISTRY: Registry | None = None

IngestJob = tuple[Path, Path, Path, str | None, Path | None, str]
"""(path, raw store, quarantine, carrier hint, parsed store, sha256): one file to ingest."""


def _init_worker(registry: Registry) -> None:
    global _WORKER_REGISTRY
    _WORKER_REGISTRY = registry


def _job(args: IngestJob) -> IngestOutcome:
    path, raw_store, quarantine, hint, parsed_store, sha = args
    return ingest_file(
        path,
        raw_store,
        quarantine,
        hint,
        registry=_WORKER_REGISTRY,
        parsed_store=parsed_store,
        sha=sha,
    )


def _failed_worker(job: IngestJob, failure: WorkerFailure, fingerprint: str) -> IngestOutcome:
    """The quarantine record of a file whose worker died or ran over its budget."""
    path, raw_store, quarantine, _, _, sha = job
    outcome = IngestOutcome("quarantined", path.name, sha, store_raw(path, raw_store, sha)[1])
    error = BillParseError(failure.code, f"{path.name}: {failure.detail}")
    return _quarantine(quarantine, outcome, error, fingerprint)


def ingest_many(
    paths: Iterable[Path | tuple[Path, str | None]],
    raw_store: Path,
    quarantine: Path,
    *,
    registry: Registry | None = None,
    parsed_store: Path | None = None,
    workers: int = 2,
    budget: ParseBudget | None = None,
) -> list[IngestOutcome]:
    """Ingest many files on `workers` processes (parsing is CPU-bound), each file under
    `budget` (default: ParseBudget.from_env()).

    Items are paths or (path, carrier hint). Files are hashed and raw-stored first, so
    identical content in one batch is parsed once (the repeats come back
    `already_parsed`) and a file whose worker dies still has its raw copy. `workers=0`
    parses in this process, without budgets (for debugging a parser). Outcomes are in
    input order.
    """
    registry = registry or Registry.default()
    items = [(p, None) if isinstance(p, Path) else p for p in paths]
    hashes = [sha256_of(p) for p, _ in items]
    first: dict[str, int] = {}
    jobs: list[IngestJob] = []
    for i, ((path, hint), sha) in enumerate(zip(items, hashes, strict=True)):
        if sha not in first:
            first[sha] = i
            store_raw(path, raw_store, sha)
            jobs.append((path, raw_store, quarantine, hint, parsed_store, sha))
    if workers <= 0:
        _init_worker(registry)
        results = [_job(j) for j in jobs]
    else:
        fingerprint = registry.fingerprint()
        results = run_isolated(
            jobs,
            _job,
            lambda job, failure: _failed_worker(job, failure, fingerprint),
            workers=workers,
            budget=budget or ParseBudget.from_env(),
            initializer=_init_worker,
            initargs=(registry,),
        )
    by_sha = {r.sha256: r for r in results}
    return [
        by_sha[sha] if first[sha] == i else _repeat(path, sha, by_sha[sha])
        for i, ((path, _), sha) in enumerate(zip(items, hashes, strict=True))
    ]


def _repeat(path: Path, sha: str, done: IngestOutcome) -> IngestOutcome:
    """The outcome of a file whose content came earlier in the batch: parsed once, so this
    copy is `already_parsed` (or quarantined for the same reason), under its own name."""
    return IngestOutcome(
        "already_parsed" if done.status != "quarantined" else "quarantined",
        path.name,
        sha,
        done.raw_path,
        done.parser,
        done.parser_version,
        done.template_id,
        error_code=done.error_code,
        reason=done.reason,
        locator=done.locator,
    )


def outcomes_frame(outcomes: list[IngestOutcome]) -> pl.DataFrame:
    """One row per file for the UI: status, parser and template, lines, totals, reason.

    `template_lines` counts lines read by a declarative template, so the share of
    lines parsed by templates (issue 4: templates should cover most carriers) is
    `template_lines.sum() / lines.sum()`.
    """
    rows = []
    for o in outcomes:
        lines = o.lines.height if o.lines is not None else 0
        headers = o.headers if o.headers is not None else None
        rows.append(
            {
                "source_name": o.source_name,
                "sha256": o.sha256,
                "status": o.status,
                "parser": o.parser,
                "template_id": o.template_id,
                "bills": headers.height if headers is not None else 0,
                "lines": lines,
                "template_lines": lines if o.template_id else 0,
                "parsed_total": headers["parsed_total"].sum() if headers is not None else None,
                "stated_total": headers["stated_total"].sum() if headers is not None else None,
                "warnings": "; ".join(o.warnings),
                "error_code": o.error_code,
                "reason": o.reason,
                "locator": o.locator,
            }
        )
    schema = {
        "source_name": pl.String(),
        "sha256": pl.String(),
        "status": pl.String(),
        "parser": pl.String(),
        "template_id": pl.String(),
        "bills": pl.Int64(),
        "lines": pl.Int64(),
        "template_lines": pl.Int64(),
        "parsed_total": pl.Decimal(38, 2),
        "stated_total": pl.Decimal(38, 2),
        "warnings": pl.String(),
        "error_code": pl.String(),
        "reason": pl.String(),
        "locator": pl.String(),
    }
    return pl.DataFrame(rows, schema=schema)
