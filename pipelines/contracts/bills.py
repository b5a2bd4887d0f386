"""The canonical carrier bill: what every parser produces, whatever the format.

Every line carries its provenance (DOMAIN.md, "Bill reconciliation"): the raw
file's sha256, the parser and its version, the template, and a locator that
points at the page and row, sheet and row, XPath, or API page and index.
"""

from __future__ import annotations

from pipelines.contracts import types as t
from pipelines.contracts.spec import Column, TableContract

CHARGE_TYPES = (
    "FREIGHT",
    "FUEL",
    "REMOTE_AREA",
    "RESIDENTIAL",
    "REGISTRATION",
    "CUSTOMS_DUTY",
    "IMPORT_VAT",
    "ADDRESS_CORRECTION",
    "OVERSIZE",
    "OTHER",
)
WEIGHT_UNITS = ("KG", "LB", "OZ", "G")

BILL_HEADERS = TableContract(
    name="bill_headers",
    description="One row per parsed carrier bill (invoice).",
    columns=(
        Column("source_sha256", t.ID, description="sha256 of the raw file in the raw store."),
        Column("source_name", t.TEXT, description="File name as it arrived in the inbox."),
        Column("carrier", t.CODE),
        Column("account", t.ID, required=False),
        Column("bill_number", t.ID),
        Column("bill_date", t.DATE),
        Column("period_start", t.DATE, required=False),
        Column("period_end", t.DATE, required=False),
        Column("currency", t.CODE),
        Column("stated_total", t.MONEY, required=False, description="Total printed on the bill."),
        Column("parsed_total", t.MONEY, description="Sum of the parsed lines."),
        Column("line_count", t.QUANTITY, non_negative=True),
        Column("parser", t.CODE),
        Column("parser_version", t.CODE),
        Column("template_id", t.CODE, required=False),
    ),
    key=("source_sha256", "bill_number"),
)

BILL_LINES = TableContract(
    name="bill_lines",
    description="One row per charge billed on one shipment (long form).",
    columns=(
        Column("source_sha256", t.ID),
        Column("carrier", t.CODE),
        Column("bill_number", t.ID),
        Column("bill_date", t.DATE),
        Column("currency", t.CODE),
        Column("line_number", t.QUANTITY, positive=True, description="1-based, per bill."),
        Column("tracking_number_raw", t.TEXT, description="As printed."),
        Column(
            "tracking_number",
            t.ID,
            description="Normalised: upper case, no spaces, dashes or punctuation.",
        ),
        Column("shipment_date", t.DATE, required=False),
        Column("billed_weight", t.WEIGHT_KG, required=False),
        Column("weight_unit", t.CODE, required=False, enum=WEIGHT_UNITS),
        Column("billed_weight_kg", t.WEIGHT_KG, required=False),
        Column("zone", t.CODE, required=False),
        Column("destination_country", t.CODE, required=False),
        Column("charge_type", t.CODE, enum=CHARGE_TYPES),
        Column("charge_code", t.CODE, required=False, description="The carrier's own code."),
        Column("charge_description", t.TEXT, required=False),
        Column("amount", t.MONEY),
        Column("parser", t.CODE),
        Column("parser_version", t.CODE),
        Column("template_id", t.CODE, required=False),
        Column(
            "locator",
            t.TEXT,
            description=(
                "page=2;row=14 | sheet=账单;row=7 | xpath=/Invoice/Line[3] | api_page=2;index=5"
            ),
        ),
    ),
    key=("source_sha256", "bill_number", "line_number"),
)

BILL_FILES = TableContract(
    name="bill_files",
    description=(
        "Each inbox file (one dynamic partition), copied into the content-addressed raw store "
        "before anything else."
    ),
    columns=(
        Column("partition_key", t.ID, description="`<CARRIER>/<file name>#<sha256 prefix>`."),
        Column("carrier", t.CODE, description="The inbox folder it arrived in."),
        Column("file_name", t.TEXT),
        Column("sha256", t.ID),
        Column("raw_path", t.TEXT, description="Its copy in the raw store."),
        Column("size_bytes", t.QUANTITY, non_negative=True),
    ),
    key=("partition_key",),
)

FILE_STATUSES = ("parsed", "quarantined", "duplicate", "withdrawn")
TAKEN_IN = ("parsed", "quarantined")
"""The statuses of a file that owns its content (its lines, or its quarantine record)."""
DUPLICATE_FILE = "duplicate_file"
"""The error code of a file whose bytes were already taken in under another name."""
FILE_WITHDRAWN = "file_withdrawn"
"""A withdrawn file's error code: its content is no longer anywhere in the inbox."""
FILE_SUPERSEDED = "file_superseded"
"""A withdrawn file's error code: a corrected file now has its name in its carrier folder."""

BILL_FILE_STATUS = TableContract(
    name="bill_file_status",
    description="What parsing made of each inbox file: parsed into lines, quarantined and why, "
    "a duplicate of a file taken in first, or withdrawn (removed from the inbox, or replaced "
    "by a corrected file under its name) with its lines.",
    columns=(
        Column("partition_key", t.ID),
        Column("file_name", t.TEXT),
        Column("sha256", t.ID),
        Column("status", t.CODE, enum=FILE_STATUSES),
        Column("parser", t.CODE, required=False),
        Column("template_id", t.CODE, required=False),
        Column("lines", t.QUANTITY, non_negative=True),
        Column("parsed_total", t.MONEY, required=False, description="Sum of its lines' amounts."),
        Column("error_code", t.CODE, required=False),
        Column("reason", t.TEXT, required=False),
        Column("locator", t.TEXT, required=False, description="Where the parse failed."),
        Column("warnings", t.TEXT, required=False),
        Column(
            "duplicate_of",
            t.ID,
            required=False,
            description="A duplicate: the partition key of the file first taken in with its bytes.",
        ),
    ),
    key=("partition_key",),
)

BILL_QUARANTINE = TableContract(
    name="bill_quarantine",
    description=(
        "Bill files no parser could read, or whose parse failed validation, with why; files "
        "whose bytes were already taken in (`duplicate_file`); and inbox entries refused as "
        "bill files (replaced whole from the quarantine folder's records, the duplicates in "
        "bill_file_status and the inbox survey)."
    ),
    columns=(
        Column("file_name", t.TEXT),
        Column(
            "sha256",
            t.ID,
            required=False,
            description="None for an inbox entry refused as a bill file (never read).",
        ),
        Column("error_code", t.CODE),
        Column("reason", t.TEXT),
        Column("locator", t.TEXT, required=False),
        Column("parser", t.CODE, required=False),
        Column("quarantined_at", t.TEXT, description="ISO timestamp of the quarantine."),
        Column(
            "duplicate_of",
            t.ID,
            required=False,
            description="A duplicate: the partition key of the file first taken in with its bytes.",
        ),
    ),
    key=("sha256", "file_name"),
)

BILL_TABLES = (BILL_HEADERS, BILL_LINES, BILL_FILES, BILL_FILE_STATUS, BILL_QUARANTINE)
