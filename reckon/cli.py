"""`reckon`: generate demo data, run the graph over a range, open the UI, inspect parsers."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from parsers.cli import parse_file, parsers_app, template_app
from reckon.exit_codes import ExitCode

if TYPE_CHECKING:
    from demo.bad_input import BadInput
    from storage.layout import DataLayout

app = typer.Typer(
    help="reckon: FIFO costing and carrier-bill reconciliation, run through Dagster.",
    no_args_is_help=True,
    add_completion=False,
)

app.add_typer(parsers_app, name="parsers")
app.add_typer(template_app, name="template")
PARSE_HELP = "Parse one bill file: which parser and why, its lines, the totals check."
app.command("parse", help=PARSE_HELP)(parse_file)

DEMO_DAYS = 200
"""The demo's history: long enough for stock older than 90 and 180 days."""

DataOption = Annotated[
    Path, typer.Option("--data", help="Data directory (inputs, warehouse, exports).")
]


def _day(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the demo data into.")],
    scale: Annotated[int, typer.Option(help="Volume multiplier (see docs/demo-data.md).")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 7,
    start: Annotated[str, typer.Option("--from", help="First business day.")] = "2026-01-01",
    end: Annotated[str, typer.Option("--to", help="Last business day.")] = "2026-03-31",
    snapshot_every: Annotated[
        int, typer.Option(help="Write the WMS snapshot every N days (large scales).")
    ] = 1,
    bills: Annotated[bool, typer.Option(help="Also write rate cards and carrier bills.")] = True,
) -> None:
    """Generate deterministic, realistic demo inputs, bills and ground truth."""
    from demo.generate import generate

    summary = generate(
        out,
        scale=scale,
        seed=seed,
        start=_day(start),
        end=_day(end),
        snapshot_every=snapshot_every,
        bills=bills,
    )
    typer.echo(str(summary))


def _range(start: str, end: str) -> tuple[date, date]:
    first, last = _day(start), _day(end)
    if last < first:
        raise typer.BadParameter(f"--to {last} is before --from {first}")
    return first, last


def _dagster_home(data: Path) -> Path:
    """The data directory's Dagster home (reckon.instance); a bad instance setting is a usage
    error (exit 2) naming the variable."""
    from reckon.instance import InstanceSettingError, ensure_dagster_home

    try:
        return ensure_dagster_home(data)
    except InstanceSettingError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _run_all(
    data: Path, first: date, last: date, purpose: str, log_level: str, nightly_days: int = 0
) -> ExitCode:
    """Hold the warehouse, clear what a killed predecessor left, run everything, print
    what each run did and why the command exits as it does."""
    import dagster as dg

    from reckon.instance import partitions_from_data
    from reckon.summary import describe_run, footer, verdict
    from storage.layout import DataLayout
    from storage.warehouse_lock import WarehouseInUse, hold_warehouse

    root = data.resolve()
    _dagster_home(root)
    try:
        with (
            partitions_from_data(root),
            hold_warehouse(DataLayout(root).warehouse_db, purpose),
            dg.DagsterInstance.get() as instance,
        ):
            from reckon.runner import recover, run_everything  # after RECKON_START_DATE

            recovered = recover(root, instance)
            for dead in recovered.failed_runs:
                typer.echo(f"[recovered] run {dead.run_id} ({dead.job_name}): {dead.reason}")
            if recovered.removed_temporaries:
                typer.echo(
                    f"[recovered] removed {len(recovered.removed_temporaries)} temporary "
                    "file(s) left by writers that are gone"
                )
            results = run_everything(
                root, first, last, instance, log_level=log_level, nightly_days=nightly_days
            )
    except WarehouseInUse as exc:
        typer.echo(f"reckon: {exc}", err=True)
        return ExitCode.WAREHOUSE_IN_USE
    for name, result in results:
        typer.echo(f"[{name}] " + describe_run(result))
    typer.echo(footer(root))
    outcome = verdict(results, root)
    typer.echo(outcome.describe())
    return outcome.code


@app.command("run")
def run(
    data: DataOption,
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")],
    verbose: Annotated[bool, typer.Option(help="Show Dagster's step-by-step log.")] = False,
) -> None:
    """Materialise every asset over [--from, --to]: the nightly graph as one in-process run,
    then the bill inbox and the billing periods of the range (the jobs the sensors launch).
    Exit code: 0 ok, 1 a run failed, 2 usage, 3 a check failed, 4 quarantine, 5 warehouse
    in use (README, "The command line")."""
    first, last = _range(start, end)
    purpose = f"reckon run --from {first} --to {last}"
    code = _run_all(data, first, last, purpose, "DEBUG" if verbose else "WARNING")
    raise typer.Exit(code.value)


@app.command("pull-bills")
def pull_bills(
    data: DataOption = Path("demo_data"),
    carrier: Annotated[
        list[str] | None,
        typer.Option(
            "--carrier",
            help="Only this carrier (repeatable); default: every one "
            "with an `api` block in carriers.yaml.",
        ),
    ] = None,
) -> None:
    """Pull new bills from the carriers' billing APIs into the bill inbox, from each
    carrier's since-cursor on (what the `api_bill_pulls` asset runs). Exit code: 0 every pull
    succeeded, 1 a pull failed (the reason is printed; its cursor did not move), 2 usage
    (an unknown carrier, one without an `api` block, an invalid carriers.yaml)."""
    from runs.api_bills import pull_configured
    from storage.config import ConfigError
    from storage.layout import DataLayout

    try:
        pulls = pull_configured(DataLayout(data.resolve()), carrier or None)
    except (ConfigError, KeyError, ValueError) as exc:
        typer.echo(f"reckon: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE.value) from None
    for pull in pulls:
        if pull.ok:
            typer.echo(
                f"{pull.carrier}: {pull.pulled} bill(s) listed, {pull.new} new, {pull.updated} "
                f"updated, {pull.already_had} already had; cursor {pull.cursor_before} -> "
                f"{pull.cursor_after}"
            )
        else:
            typer.echo(f"{pull.carrier}: FAILED, cursor stays {pull.cursor_before}: {pull.reason}")
    if not pulls:
        typer.echo("no carrier has an `api` block in carriers.yaml: nothing to pull")
    failed = any(not p.ok for p in pulls)
    raise typer.Exit((ExitCode.RUN_FAILED if failed else ExitCode.OK).value)


@app.command("demo")
def demo(
    data: DataOption = Path("demo_data"),
    scale: Annotated[int, typer.Option(help="Volume multiplier (see docs/demo-data.md).")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    start: Annotated[
        str | None, typer.Option("--from", help=f"First business day [--to - {DEMO_DAYS - 1}].")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last business day [yesterday].")] = None,
    fresh: Annotated[bool, typer.Option(help="Regenerate the demo data even if present.")] = False,
    bad_input: Annotated[
        bool, typer.Option(help="Drop in a few bad rows and a damaged bill (quarantine).")
    ] = True,
    nightly: Annotated[
        int, typer.Option(help="Run the last N days as nightly runs after the backfill.")
    ] = 3,
) -> None:
    """The whole system end to end on generated data, as production looks after a go-live:
    the data ends yesterday, the backfill is one run, the last nights are nightly runs, and a
    few bad rows and a damaged bill are quarantined. What `make demo` runs (exit codes as
    `reckon run`; 0 when exactly the injected bad input was quarantined)."""
    import time

    from demo.bad_input import quarantined_as_injected
    from reckon.summary import demo_summary
    from storage.layout import DataLayout

    layout = DataLayout(data.resolve())
    present = not fresh and layout.input_dir("companies").is_dir()
    first, last = _demo_days(layout, present, start, end)
    began = time.perf_counter()
    _demo_data(layout, present, (first, last), scale, seed)
    _fetch_demo_bills(layout)
    injected = _inject_bad_input(layout, last) if bad_input else None
    nights = min(nightly, (last - first).days)
    typer.echo(
        f"3/4 running the nightly graph over {first} .. {last - timedelta(days=nights)} as "
        f"one run, then {nights} nightly run(s), the bill inbox, and the billing periods of "
        "the range ..."
    )
    purpose = f"reckon demo --from {first} --to {last}"
    code = _run_all(layout.root, first, last, purpose, "WARNING", nightly_days=nights)
    if code is not ExitCode.WAREHOUSE_IN_USE:
        typer.echo("4/4 " + demo_summary(layout))
    if code is ExitCode.QUARANTINED and injected and quarantined_as_injected(layout, injected):
        typer.echo("the quarantine above is exactly the bad input the demo dropped in")
        code = ExitCode.OK
    ok = code is ExitCode.OK
    typer.echo(f"demo {'finished' if ok else 'FAILED'} in {time.perf_counter() - began:.0f} s")
    raise typer.Exit(code.value)


def _demo_days(
    layout: DataLayout, present: bool, start: str | None, end: str | None
) -> tuple[date, date]:
    """The days the demo covers: those of the data already there when no day is given,
    else --from .. --to, by default the `DEMO_DAYS` up to yesterday (as after a go-live)."""
    generated = layout.extract_days("movements") if present else None
    if generated and not start and not end:
        return generated
    last = _day(end) if end else date.today() - timedelta(days=1)
    return _range(start or str(last - timedelta(days=DEMO_DAYS - 1)), str(last))


def _demo_data(
    layout: DataLayout, present: bool, days: tuple[date, date], scale: int, seed: int
) -> None:
    """Step 1: generate the demo data over `days`, unless it is there already (`present`)."""
    from demo.generate import generate

    if present:
        typer.echo(f"1/4 using the demo data already in {layout.root} (--fresh regenerates)")
        return
    first, last = days
    typer.echo(f"1/4 generating demo data into {layout.root} ...")
    typer.echo(str(generate(layout.root, scale=scale, seed=seed, start=first, end=last)))


def _fetch_demo_bills(layout: DataLayout) -> None:
    """Step 2: pull the API carriers' bills from the demo carrier API (with its transient
    errors, retried), as `api_bill_pulls` does from a real one."""
    from demo.carrier_api import fetch_demo_bills

    typer.echo("2/4 fetching API bills from the demo carrier API on 127.0.0.1 ...")
    fetched = fetch_demo_bills(layout)
    retried = sum(n for code, n in fetched.statuses.items() if code != 200)
    typer.echo(
        f"    {sum(len(p) for p in fetched.paths.values())} bills fetched "
        f"({retried} transient errors retried)"
    )


def _inject_bad_input(layout: DataLayout, day: date) -> BadInput:
    """A few bad rows and a damaged bill on `day`, so the demo shows the quarantine."""
    from demo.bad_input import inject_bad_input

    injected = inject_bad_input(layout, day)
    typer.echo(
        f"    dropped in bad input to show quarantine: {injected.movements_file.name} "
        f"(3 bad rows), {injected.bill_file.name} (a damaged bill)"
    )
    return injected


@app.command("ui")
def ui(
    data: DataOption = Path("demo_data"),
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 3000,
) -> None:
    """Start the Dagster UI on 127.0.0.1 with the data directory's own DAGSTER_HOME."""
    from reckon.instance import PROJECT_ROOT, partition_start

    home = _dagster_home(data)
    env = {
        **os.environ,
        "RECKON_DATA_DIR": str(data.resolve()),
        "DAGSTER_HOME": str(home),
        **partition_start(data),
    }
    typer.echo(f"Dagster UI on http://127.0.0.1:{port} (data: {data.resolve()}, home: {home})")
    command = [
        sys.executable, "-m", "dagster", "dev",
        "-w", str(PROJECT_ROOT / "workspace.yaml"),
        "-h", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip
    # Started in its Dagster home: from the project folder, `dagster dev` would note that the
    # project's dagster.yaml "will not be used" (it is the one copied into the home).
    raise typer.Exit(subprocess.call(command, env=env, cwd=home))


@app.command("dagster-home")
def dagster_home(data: DataOption = Path("demo_data")) -> None:
    """Write the data directory's Dagster home (`$DAGSTER_HOME`, else DIR/.dagster_home) with
    reckon's dagster.yaml, on PostgreSQL when RECKON_DAGSTER_POSTGRES_URL is set, and print its
    path: what a `dagster-webserver` or `dagster-daemon run` service runs first
    (docs/deployment.md)."""
    typer.echo(str(_dagster_home(data)))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
