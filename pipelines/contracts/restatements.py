"""Restatements: what costing last saw of each document, and the record of every change to
days already costed (DOMAIN.md, "Late (backdated), corrected or removed documents").

A run compares the documents it reloads with `costing_documents` (one content hash per
document, as last costed); any difference on a costed day recosts from that day and is
recorded in `costing_restatements` (per company: days, documents, COGS and inventory value
before and after) and `costing_restated_documents` (which documents), both exported. A
closed period's correction remembers where it starts (`costing_closed_corrections`).
"""

from __future__ import annotations

from pipelines.contracts import types as t
from pipelines.contracts.spec import Column, TableContract

DOCUMENT_CHANGES = ("ADDED", "CHANGED", "REMOVED")
DOCUMENT_SOURCES = ("movements", "landed_costs", "fx_rates", "companies", "skus")

COSTING_DOCUMENTS = TableContract(
    name="costing_documents",
    description=(
        "Every document costing has costed, as it was then: a hash of the row the engine read "
        "(its contract columns and load day); and the reference rows that change costed "
        "figures (FX rates, companies, SKUs weighed by a WEIGHT or VOLUME landed cost), hashed "
        "on their contract columns. Replaced per costed day with what the run saw."
    ),
    columns=(
        Column("source", t.CODE, enum=DOCUMENT_SOURCES),
        Column(
            "document_id",
            t.ID,
            description="movement_id, landed_cost_id, `<currency>><to_currency>@<rate_date>` "
            "for an FX rate, the company or the sku.",
        ),
        Column("company", t.ID),
        Column(
            "day",
            t.DATE,
            description="The document's day (occurred_at, posted_at); an FX rate's rate_date "
            "(the first costed day when earlier); a company's: the first costed day; a SKU's: "
            "the earliest posting of a landed cost weighing it.",
        ),
        Column(
            "link",
            t.ID,
            required=False,
            description="A receipt's reference, a landed cost's receipt_reference: a change "
            "to either changes the landed cost allocation from its posting day on.",
        ),
        Column("content_hash", t.CODE, description="md5 of the row as the engine reads it."),
    ),
    key=("source", "document_id", "day"),
    partition_column="day",
)

COSTING_RESTATEMENTS = TableContract(
    name="costing_restatements",
    description=(
        "One row per run and company whose run changed days already costed: the days "
        "restated, the documents (and reference rows) added, changed and removed, and COGS "
        "over those days and "
        "inventory value at their end, before and after, in the company's functional currency."
    ),
    columns=(
        Column("run_id", t.ID, description="The run that detected and recosted the change."),
        Column(
            "detected_on",
            t.DATE,
            description="The last day that run costed: the export's partition.",
        ),
        Column("company", t.ID),
        Column("currency", t.CODE, description="The company's functional currency."),
        Column("restated_from", t.DATE, description="First day whose figures were rewritten."),
        Column("restated_to", t.DATE, description="Last day already costed before the run."),
        Column(
            "posted_on",
            t.DATE,
            description="restated_from; or, for changes dated in a closed period (closed_before), "
            "the first open day, where their difference is posted (costing_cogs kind "
            "CLOSED_PERIOD_ADJUSTMENT, costing_valuation adjustment_qty/adjustment_value, "
            "journal category CLOSED_PERIOD_ADJUSTMENT); cogs_after includes that difference.",
        ),
        Column("documents_added", t.QUANTITY),
        Column("documents_changed", t.QUANTITY),
        Column("documents_removed", t.QUANTITY),
        Column("cogs_before", t.MONEY, description="COGS posted in [restated_from, restated_to]."),
        Column("cogs_after", t.MONEY),
        Column("cogs_difference", t.MONEY),
        Column("inventory_value_before", t.MONEY, description="At the end of restated_to."),
        Column("inventory_value_after", t.MONEY),
        Column("inventory_value_difference", t.MONEY),
    ),
    key=("run_id", "company"),
    partition_column="detected_on",
    exported=True,
    notes=(
        "Exported per day: `exports/costing_restatements/<detected_on>.csv` holds every run's "
        "record detected on that day (an empty file when none), rewritten by each run of it.",
    ),
)

COSTING_RESTATED_DOCUMENTS = TableContract(
    name="costing_restated_documents",
    description="The documents behind each restatement: what changed, its day before and after.",
    columns=(
        Column("run_id", t.ID),
        Column("detected_on", t.DATE),
        Column("source", t.CODE, enum=DOCUMENT_SOURCES),
        Column("document_id", t.ID),
        Column("company", t.ID),
        Column("change", t.CODE, enum=DOCUMENT_CHANGES),
        Column("day_before", t.DATE, required=False, description="None when ADDED."),
        Column("day_after", t.DATE, required=False, description="None when REMOVED."),
        Column("posted_on", t.DATE, description="The day its effect is costed from."),
    ),
    key=("run_id", "source", "document_id"),
    partition_column="detected_on",
    exported=True,
    notes=("Exported per day like costing_restatements.",),
)

COSTING_CLOSED_CORRECTIONS = TableContract(
    name="costing_closed_corrections",
    description=(
        "Per closed period (its first open day), the earliest closed day a correction posted "
        "on that first open day has touched: every recost of the first open day recosts the "
        "closed days from there again (a shadow run, nothing stored) to post the difference."
    ),
    columns=(
        Column("closed_before", t.DATE, description="The first open day (policy closed_before)."),
        Column("corrected_from", t.DATE, description="The earliest closed day corrected."),
    ),
    key=("closed_before",),
)

RESTATEMENT_TABLES = (
    COSTING_DOCUMENTS,
    COSTING_RESTATEMENTS,
    COSTING_RESTATED_DOCUMENTS,
    COSTING_CLOSED_CORRECTIONS,
)
