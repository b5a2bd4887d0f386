"""Payables reconciliation: rate cards, one partition per carrier billing period, exports.

Partitions are dynamic, keyed `<CARRIER>|<period start>`, because each carrier
has its own cycle (weekly, semi-monthly, monthly) in carriers.yaml, and a
static partition set would have to read that file at import time. The
`reconciliation_sensor` registers periods as days pass and requests a rerun
when bills are parsed or a rate card or carriers.yaml changes; `reckon run`
registers the periods of its range. A period's run reads every bill line of
its carrier up to the period (duplicates across bills and periods) and prices
the shipments it needs in one set-based pass.

A carrier period fails alone (runs/reconciliation.py): bad input or a broken
invariant keeps that period's previous rows and fails `every_period_reconciled`
and the broken check, naming the period; every other period is stored and
exported in the same run. The checks are therefore not Dagster-blocking (a
blocking check would hold back every carrier's exports for one period); the
gate is per period, in the run: a period that fails is never stored.
"""

import dagster as dg
import polars as pl

from assets.metadata import Metadata, log_partition_materializations, preview_table
from assets.resources import ReckonResource
from runs.partition_keys import split_period_key
from runs.reconciliation import (
    CHECKS,
    PERIOD_OUTPUTS,
    PeriodOutcome,
    Reconciled,
    failed_period_keys,
    reconcile_periods,
    refresh_order_logistics_cost,
    refresh_unpriceable_shipments,
)
from storage.config import load_carriers, load_rate_cards
from storage.dispute_workbook import write_dispute_list
from storage.exports import write_export
from storage.warehouse import read_table

GROUP = "reconciliation"
CARRIER_PERIOD_KEYS = "carrier_periods"
"""Name of the dynamic partitions of the billing periods: one per carrier and period."""
carrier_period_partitions = dg.DynamicPartitionsDefinition(name=CARRIER_PERIOD_KEYS)

CHECK_DESCRIPTIONS = {
    "one_finding_per_line": "Every bill line of the period has exactly one finding.",
    "billed_equals_approved_plus_disputed": "On every line, billed = approved + disputed.",
    "accruals_roll_forward": "Opening + accrued - released = closing, and each period opens "
    "where the previous one closed.",
    "every_period_reconciled": "Every period of the run was reconciled and stored; a failed "
    "period (bad input or a broken check) keeps its previous rows and is retried by the next "
    "run.",
}


@dg.asset(
    group_name=GROUP,
    kinds={"yaml"},
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Carrier contracts (rate_cards/*.yaml) and carrier settings (carriers.yaml), "
    "validated: an invalid file fails here with the file and field named.",
)
def rate_cards(reckon: ReckonResource) -> dg.MaterializeResult:
    layout = reckon.layout
    cards = load_rate_cards(layout.rate_cards_dir)
    carriers = load_carriers(layout.carriers_file)
    versions = pl.DataFrame(
        [
            {
                "carrier": c.carrier,
                "contract": c.contract,
                "version": c.version,
                "shape": str(c.shape),
                "valid_from": str(c.valid_from),
                "currency": c.currency,
            }
            for c in cards
        ]
    ).sort("carrier", "valid_from")
    cycles = pl.DataFrame(
        [{"carrier": c.carrier, "billing_cycle": str(c.billing_cycle)} for c in carriers.carriers]
    )
    return dg.MaterializeResult(
        metadata={
            "rate_card_versions": len(cards),
            "carriers": len(carriers.carriers),
            "versions": preview_table(versions),
            "billing_cycles": preview_table(cycles),
        }
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=carrier_period_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        # A period reads every bill line and shipment of its carrier up to its end.
        dg.AssetDep("bill_lines", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep("shipments", partition_mapping=dg.AllPartitionMapping()),
        "rate_cards",
        "fx_rates",
        "companies",
    ],
    kinds={"polars", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec(name, asset="reconciliation", description=text)
        for name, text in CHECK_DESCRIPTIONS.items()
    ],
    description="Every bill line of the period with exactly one finding and its evidence; "
    "totals, payable vouchers, disputes and the accrual journal (warehouse tables).",
)
def reconciliation(context: dg.AssetExecutionContext, reckon: ReckonResource):
    with reckon.warehouse() as con, reckon.executor() as executor:
        done = reconcile_periods(con, reckon.layout, list(context.partition_keys), executor)
    outcomes = done.outcomes
    for failure in done.failures:
        context.log.error(f"period {failure.key} failed, its previous rows kept: {failure.reason}")
    yield dg.MaterializeResult(metadata=_metadata(outcomes))
    # each period gets its own materialization after the run's, with its own figures (what a
    # run of that period alone shows); a failed one says so, not the run's figures
    own: dict[str, Metadata] = (
        {o.key: _metadata([o]) for o in outcomes} if len(outcomes) + len(done.failures) > 1 else {}
    )
    own.update({f.key: {"status": "FAILED", "reason": f.reason} for f in done.failures})
    log_partition_materializations(context, own)
    for name in CHECKS:
        bad = pl.concat(
            [pl.DataFrame(schema={"period": pl.String})]
            + [v[name].with_columns(pl.lit(v_key).alias("period"))
               for v_key, v in _violations(done)],
            how="diagonal_relaxed",
        )  # fmt: skip
        yield dg.AssetCheckResult(
            check_name=name,
            passed=bad.is_empty(),
            metadata={"violations": bad.height, "first": preview_table(bad, 10)},
        )
    failed = pl.DataFrame(
        [(f.key, f.reason) for f in done.failures],
        schema={"period": pl.String, "reason": pl.String},
        orient="row",
    )
    yield dg.AssetCheckResult(
        check_name="every_period_reconciled",
        passed=failed.is_empty(),
        metadata={
            "periods_reconciled": len(outcomes),
            "periods_failed": failed.height,
            "failed": preview_table(failed, 20),
            "why": "\n".join(
                f"period {f.key} not reconciled (its previous rows kept, retried by the next "
                f"run): {f.reason}"
                for f in done.failures
            ),
        },
    )
    for outcome in outcomes:  # the findings are in the warehouse: drop the work parts
        outcome.release()


def _violations(done: Reconciled) -> list[tuple[str, dict[str, pl.DataFrame]]]:
    """(period key, violations per check) of every period checked, stored or not."""
    return [(o.key, o.violations) for o in done.outcomes] + [
        (f.key, f.violations) for f in done.failures if f.violations
    ]


TOTALS = ("billed_total", "expected_total", "approved_total", "disputed_total")


def _by_currency(summary: pl.DataFrame, name: str) -> str:
    """A total per currency ("CNY 404510.34; USD 204349.41"): carriers bill in different
    currencies, and a sum across them would mean nothing."""
    if not summary.height:
        return "0"
    sums = summary.group_by("currency").agg(pl.col(name).sum()).sort("currency")
    return "; ".join(
        f"{currency or '(no currency)'} {amount}" for currency, amount in sums.iter_rows()
    )


def _plotted_by_currency(summary: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    """A period's billed, approved and disputed totals per currency as numbers the UI plots
    over the carrier's periods (`disputed_total USD`); the exact text is in `*_total`."""
    if not summary.height:
        return {}
    sums = summary.group_by("currency").agg(pl.col(TOTALS).sum()).sort("currency")
    return {
        f"{name} {row['currency']}": dg.MetadataValue.float(float(row[name]))
        for row in sums.iter_rows(named=True)
        for name in ("billed_total", "approved_total", "disputed_total")
    }


def _disputes_by_reason(disputes: pl.DataFrame) -> pl.DataFrame:
    """What we dispute with each carrier and why: lines and amount per reason and currency."""
    if not disputes.height:
        return disputes
    return (
        disputes.group_by("carrier", "reason", "currency")
        .agg(pl.len().alias("lines"), pl.col("disputed_amount").sum())
        .sort("carrier", "disputed_amount", descending=[False, True])
    )


def _metadata(outcomes: list[PeriodOutcome]) -> Metadata:
    """Totals and finding counts from the period summaries (the findings themselves
    stay in their parts and the warehouse: reading them back would hold every line)."""
    if not outcomes:
        return {"figures_cover": "no period reconciled", "periods": 0}
    summary = pl.concat([o.result.period_summary for o in outcomes], how="diagonal_relaxed")
    disputes = pl.concat([o.result.disputes for o in outcomes], how="diagonal_relaxed")
    counts = (
        summary.select(pl.col("^count_.*$").sum())
        .unpivot(variable_name="finding", value_name="lines")
        .with_columns(pl.col("finding").str.strip_prefix("count_").str.to_uppercase())
        .filter(pl.col("lines") > 0)
        .sort("finding")
        if summary.height
        else pl.DataFrame(schema={"finding": pl.String, "lines": pl.Int64})
    )
    accrued = sum(o.result.unbilled.height for o in outcomes)
    top = (
        disputes.sort("disputed_amount", descending=True).head(15) if disputes.height else disputes
    )
    totals = {name: _by_currency(summary, name) for name in TOTALS}
    plotted = _plotted_by_currency(summary) if len(outcomes) == 1 else {}
    covers = [o.key for o in outcomes]
    cover = covers[0] if len(covers) == 1 else f"{len(covers)} periods (the whole run)"
    return {
        "figures_cover": cover,
        "periods": len(outcomes),
        "bill_lines": int(summary["line_count"].sum()) if summary.height else 0,
        "unbilled_shipments_accrued": accrued,
        **totals,
        **plotted,
        "disputes_by_reason": preview_table(_disputes_by_reason(disputes), 40),
        "findings": preview_table(counts),
        "period_totals": preview_table(
            summary.select(
                "carrier", "period_start", "currency", "bill_count", "line_count", "billed_total",
                "approved_total", "disputed_total",
            )
            if summary.height
            else summary,
            limit=40,
        ),
        "top_disputed_lines": preview_table(top, 15),
    }  # fmt: skip


@dg.asset(
    group_name="exports",
    partitions_def=carrier_period_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["reconciliation"],
    kinds={"csv", "parquet", "excel"},
    description="Per carrier period: payable vouchers and the accrual journal for the ERP; the "
    "dispute list for the carrier as CSV and Excel (exports/carrier_disputes/).",
)
def reconciliation_exports(context: dg.AssetExecutionContext, reckon: ReckonResource):
    exports = reckon.layout.exports_dir
    written = 0
    # a failed period sends nothing (its previous files stay): an empty voucher or accrual
    # file would read as "nothing to pay" for a period that was not reconciled
    failed = failed_period_keys(reckon.layout)
    per_period: dict[str, Metadata] = {}
    reasons = []
    with reckon.warehouse() as con:
        for key in [k for k in context.partition_keys if k not in failed]:
            carrier, start = split_period_key(key)
            where, params = "carrier = ? AND period_start = ?", [carrier, start]
            for table in PERIOD_OUTPUTS:
                frame = read_table(con, table, where, params)
                if frame.width:
                    write_export(frame, exports, table, key)
                    written += 2
            disputes = read_table(con, "carrier_disputes", where, params)
            by_reason = _disputes_by_reason(disputes)
            period: Metadata = {"disputes_by_reason": preview_table(by_reason, 40)}
            if disputes.height:  # no workbook for a period with nothing to dispute
                workbook = exports / "carrier_disputes" / f"{carrier}_{start}_disputes.xlsx"
                write_dispute_list(disputes, workbook)
                written += 1
                period["dispute_workbook"] = dg.MetadataValue.path(str(workbook))
                reasons.append(
                    by_reason.with_columns(
                        pl.lit(start).alias("period_start"), pl.lit(str(workbook)).alias("workbook")
                    )
                )
            per_period[key] = period
    metadata: Metadata = {
        "periods": len(context.partition_keys),
        "files_written": written,
        "exports_folder": dg.MetadataValue.path(str(exports)),
        "periods_not_sent_failed": ", ".join(sorted(set(context.partition_keys) & set(failed))),
    }
    if len(per_period) == 1:
        metadata.update(next(iter(per_period.values())))
    else:
        every = pl.concat(reasons, how="diagonal_relaxed") if reasons else pl.DataFrame()
        columns = ["carrier", "period_start", "reason", "currency", "lines", "disputed_amount"]
        metadata["disputes_by_period_and_reason"] = preview_table(
            every.select(*columns, "workbook") if every.height else every, 300
        )
    yield dg.MaterializeResult(metadata=metadata)
    if len(per_period) > 1:  # each period its own disputes and workbook, after the run's
        log_partition_materializations(
            context, {key: {"figures_cover": key, **period} for key, period in per_period.items()}
        )


@dg.asset(
    group_name=GROUP,
    deps=["reconciliation"],
    kinds={"polars", "duckdb"},
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Freight per order in functional currency: approved bill amounts where billed, "
    "the expected price where not yet billed; joins COGS per order for landed margin. With it, "
    "every shipment that cannot be priced and why (unpriceable_shipments).",
    check_specs=[
        dg.AssetCheckSpec(
            "every_shipment_priced",
            asset="order_logistics_cost",
            description="Every shipment loaded can be priced: its carrier is in carriers.yaml "
            "and a rate-card version prices it (exported: unpriceable_shipments).",
        )
    ],
)
def order_logistics_cost(reckon: ReckonResource):
    with reckon.warehouse() as con:
        costs = refresh_order_logistics_cost(con)
        unpriceable = refresh_unpriceable_shipments(con, reckon.layout)
    exports = reckon.layout.exports_dir
    if costs.width:
        write_export(costs, exports, "order_logistics_cost", "all")
    write_export(unpriceable, exports, "unpriceable_shipments", "all")
    by_status = (
        costs.group_by("status").agg(pl.len().alias("orders")).sort("status")
        if costs.height
        else costs
    )
    by_reason = (
        unpriceable.group_by("carrier", "reason_code")
        .agg(pl.len().alias("shipments"))
        .sort("carrier", "reason_code")
    )
    yield dg.MaterializeResult(
        metadata={
            "orders": costs.height,
            "by_status": preview_table(by_status),
            "unpriceable_shipments": unpriceable.height,
        }
    )
    yield dg.AssetCheckResult(
        check_name="every_shipment_priced",
        passed=unpriceable.is_empty(),
        metadata={
            "unpriceable": unpriceable.height,
            "by_reason": preview_table(by_reason),
            "first": preview_table(unpriceable, 10),
            "why": "\n".join(
                f"{n} {carrier} shipment(s) cannot be priced ({code}): see "
                f"exports/unpriceable_shipments/all.csv"
                for carrier, code, n in by_reason.iter_rows()
            ),
        },
    )
