"""Every writer round-trips: each canonical line and header comes back out of its file."""

from __future__ import annotations

import re
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from demo.bills import WRITERS, BillWriteError, codes, write_bills
from demo.bills.samples import HEADER_SCHEMA, LINE_SCHEMA, sample_bills
from pipelines.contracts.bills import CHARGE_TYPES
from storage.layout import DataLayout
from tests.demo_bills import readers

LINE_FIELDS = [
    "line_number",
    "tracking_number",
    "shipment_date",
    "billed_weight_kg",
    "zone",
    "destination_country",
    "charge_type",
    "amount",
]
HEADER_FIELDS = [c for c in HEADER_SCHEMA if c != "carrier"]


def read_back(carrier: str, path: Path) -> tuple[dict, list[tuple]]:
    reader = {
        "DHL": readers.read_dhl,
        "UPS": readers.read_ups_source,
        "FOURPX": readers.read_fourpx,
        "YUNEXPRESS": readers.read_yunexpress,
        "YANWEN": readers.read_yanwen,
    }[carrier]
    header, lines, *_ = reader(path)
    return header, lines


def expected(headers: pl.DataFrame, lines: pl.DataFrame, bill_number: str):
    header = (
        headers.filter(pl.col("bill_number") == bill_number).select(HEADER_FIELDS).to_dicts()[0]
    )
    rows = lines.filter(pl.col("bill_number") == bill_number).sort("line_number")
    return header, rows.select(LINE_FIELDS).rows()


@pytest.mark.parametrize("carrier", list(WRITERS))
def test_every_line_and_header_round_trips(carrier: str, tmp_path: Path) -> None:
    headers, lines = sample_bills(carrier, shipments_per_bill=(45, 3, 0))
    paths = write_bills(carrier, headers, lines, DataLayout(tmp_path))
    assert [p.stem for p in paths] == headers["bill_number"].to_list()
    for path, bill_number in zip(paths, headers["bill_number"], strict=True):
        want_header, want_lines = expected(headers, lines, bill_number)
        header, got = read_back(carrier, path)
        assert header == want_header
        assert got == want_lines
    # the sample has what makes bills hard: null zones and weights, a duplicate, no account
    assert lines["zone"].null_count() and lines["billed_weight_kg"].null_count()
    assert headers["account"].null_count() == 1


@pytest.mark.parametrize("carrier", list(WRITERS))
def test_files_land_where_the_layout_says(carrier: str, tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    headers, lines = sample_bills(carrier, shipments_per_bill=(2,))
    [path] = write_bills(carrier, headers, lines, layout)
    base = layout.bills_api_dir if carrier == "UPS" else layout.bills_inbox
    assert path.parent == base / carrier
    ext = {"DHL": "csv", "UPS": "json", "FOURPX": "xml", "YUNEXPRESS": "xlsx", "YANWEN": "pdf"}
    assert path.name == f"{headers['bill_number'][0]}.{ext[carrier]}"


@pytest.mark.parametrize("carrier", list(WRITERS))
def test_rewriting_gives_identical_bytes(carrier: str, tmp_path: Path) -> None:
    headers, lines = sample_bills(carrier, shipments_per_bill=(5,))
    first = [
        p.read_bytes() for p in write_bills(carrier, headers, lines, DataLayout(tmp_path / "a"))
    ]
    second = [
        p.read_bytes() for p in write_bills(carrier, headers, lines, DataLayout(tmp_path / "b"))
    ]
    assert first == second


def test_every_carrier_has_a_distinct_code_for_every_charge_type() -> None:
    key_index = {"DHL": 0, "UPS": 1, "FOURPX": 0, "YUNEXPRESS": 0, "YANWEN": 0}
    for carrier, mapping in codes.BY_CARRIER.items():
        assert set(mapping) == set(CHARGE_TYPES), carrier
        printed = [v[key_index[carrier]] for v in mapping.values()]
        assert len(set(printed)) == len(printed), carrier


def _one_bill(
    carrier: str, rows: list[tuple], stated_total: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    headers = pl.DataFrame(
        [
            [
                carrier,
                "950123456",
                "B1",
                date(2026, 1, 31),
                date(2026, 1, 1),
                date(2026, 1, 31),
                "USD",
                Decimal(stated_total),
            ]
        ],
        schema=HEADER_SCHEMA,
        orient="row",
    )
    lines = pl.DataFrame(
        [[carrier, "B1", i, *row] for i, row in enumerate(rows, start=1)],
        schema=LINE_SCHEMA,
        orient="row",
    )
    return headers, lines


def test_dhl_worked_example_bom_rows_and_total_row(tmp_path: Path) -> None:
    ship = ("0012345678", date(2026, 1, 5), Decimal("1.500"), "3", "DE")
    headers, lines = _one_bill(
        "DHL",
        [
            (*ship, "FREIGHT", Decimal("20.10")),
            (*ship, "FUEL", Decimal("3.05")),
            ("0099999999", None, None, None, "US", "FREIGHT", Decimal("7.00")),
            (*ship, "FREIGHT", Decimal("20.10")),  # billed again later: its own row
        ],
        stated_total="99.99",
    )
    [path] = write_bills("DHL", headers, lines, DataLayout(tmp_path))
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = data[3:].decode("utf-8").split("\r\n")
    assert rows[-1] == ""  # file ends with CRLF
    rows = rows[:-1]
    assert len(rows) == 5  # header, 3 shipment rows, total
    empty_triplets = "," * (3 * 9)
    assert rows[1] == (
        "S,MYBILL,B1,20260131,950123456,20260101,20260131,USD,0012345678,20260105,P,DE,3,1.500,K,"
        "23.15,WC,WEIGHT CHARGE,20.10,FF,FUEL SURCHARGE,3.05" + empty_triplets[:-3]
    )
    assert rows[2].startswith(
        "S,MYBILL,B1,20260131,950123456,20260101,20260131,USD,0099999999,,P,US,,,K,7.00,WC,"
    )
    assert rows[3].split(",")[8] == "0012345678" and rows[3].split(",")[15] == "20.10"
    assert rows[4] == "T,MYBILL,B1,20260131,950123456,20260101,20260131,USD,,,,,,,,99.99" + "," * 30


def test_dhl_more_than_ten_charges_continue_on_a_new_row(tmp_path: Path) -> None:
    ship = ("1234567890", date(2026, 1, 5), Decimal("2.000"), "1", "GB")
    amounts = [Decimal(f"{i}.0{i % 10}") for i in range(1, 13)]
    types = [CHARGE_TYPES[i % len(CHARGE_TYPES)] for i in range(12)]
    headers, lines = _one_bill(
        "DHL", [(*ship, t, a) for t, a in zip(types, amounts, strict=True)], "1.00"
    )
    [path] = write_bills("DHL", headers, lines, DataLayout(tmp_path))
    _, got = readers.read_dhl(path)
    assert [g[-1] for g in got] == amounts
    assert [g[-2] for g in got] == types
    body = path.read_bytes().decode("utf-8-sig").split("\r\n")
    assert [r.split(",")[0] for r in body if r] == ["Line Type", "S", "S", "T"]


def test_pdf_runs_over_pages_with_repeated_headers_and_a_summary_page(tmp_path: Path) -> None:
    headers, lines = sample_bills("YANWEN", shipments_per_bill=(60,))
    [path] = write_bills("YANWEN", headers, lines, DataLayout(tmp_path))
    _, got, pages = readers.read_yanwen(path)
    assert len(pages) >= 3
    column_header = (
        "No. Tracking No. Ship Date Country Zone Weight (kg) Code Description Amount (CNY)"
    )
    table_pages, summary = pages[:-1], pages[-1]
    for n, text in enumerate(pages, start=1):
        rows = text.splitlines()
        assert rows[0] == f"YANWEN LOGISTICS - Statement {headers['bill_number'][0]}"
        assert rows[-1] == f"Page {n} of {len(pages)}"
    for text in table_pages:
        assert column_header in text.splitlines()
    assert "Bill No.: " in table_pages[0] and "Bill No.: " not in table_pages[1]
    assert summary.splitlines()[1] == "SUMMARY" and column_header not in summary
    assert f"Total lines: {lines.height}" in summary
    assert f"Total Amount (CNY): {headers['stated_total'][0]}" in summary
    freight = lines.filter(pl.col("charge_type") == "FREIGHT")
    assert f"FRT Postage {freight.height} {sum(freight['amount'])}" in summary
    assert len(got) == lines.height


def test_xlsx_has_title_merged_two_row_header_and_summary_row(tmp_path: Path) -> None:
    headers, lines = sample_bills("YUNEXPRESS", shipments_per_bill=(4,))
    [path] = write_bills("YUNEXPRESS", headers, lines, DataLayout(tmp_path))
    _, _, grid = readers.read_yunexpress(path)
    assert grid[0][0].startswith("云途物流")
    assert grid[3][0] == "序号" and grid[3][1] == "运单信息" and grid[3][6] == "费用明细"
    assert grid[4][1:] == [
        "运单号",
        "发货日期",
        "目的国家",
        "分区",
        "计费重量(kg)",
        "费用代码",
        "费用名称",
        "金额",
    ]
    assert grid[-1][0] == "合计" and grid[-1][1] == f"共{lines.height}条"
    assert grid[-1][8] == str(headers["stated_total"][0])
    with zipfile.ZipFile(path) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    for ref in ("A1:I1", "A4:A5", "B4:F4", "G4:I4"):
        assert f'<mergeCell ref="{ref}"/>' in sheet
    # amounts are text cells (shared strings), never numeric cells holding a float
    assert '<c r="I6" t="s"' in sheet


def test_xml_is_namespaced_and_omits_missing_values(tmp_path: Path) -> None:
    headers, lines = _one_bill(
        "FOURPX",
        [("4PX1234567890123CN", None, None, None, "US", "REGISTRATION", Decimal("8.00"))],
        "8.00",
    )
    headers = headers.with_columns(
        account=pl.lit(None, pl.String),
        period_start=pl.lit(None, pl.Date),
        period_end=pl.lit(None, pl.Date),
    )
    [path] = write_bills("FOURPX", headers, lines, DataLayout(tmp_path))
    text = path.read_text("utf-8")
    assert '<BillStatement xmlns="urn:4px:billing:statement:1.0"' in text
    for absent in ("CustomerCode", "BillingPeriod", "ShipDate", "Zone", "ChargeableWeight"):
        assert absent not in text
    assert "<FeeCode>REG</FeeCode>" in text and "<FeeName>挂号费</FeeName>" in text
    assert '<Amount currency="USD">8.00</Amount>' in text


def test_json_money_is_strings_never_numbers(tmp_path: Path) -> None:
    headers, lines = sample_bills("UPS", shipments_per_bill=(3,))
    [path] = write_bills("UPS", headers, lines, DataLayout(tmp_path))
    text = path.read_text("utf-8")
    assert '"netAmount": "' in text and '"invoiceAmount": "' in text
    assert '"netAmount": -' not in text and '"netAmount": 0' not in text


def test_float_money_is_refused(tmp_path: Path) -> None:
    headers, lines = sample_bills("DHL", shipments_per_bill=(2,))
    with pytest.raises(BillWriteError, match="'amount' must be Decimal with scale 2"):
        write_bills(
            "DHL",
            headers,
            lines.with_columns(pl.col("amount").cast(pl.Float64)),
            DataLayout(tmp_path),
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda h, ln: (h, ln.with_columns(charge_type=pl.lit("POSTAGE"))),
            "charge_type 'POSTAGE'",
        ),
        (
            lambda h, ln: (h, ln.with_columns(bill_number=pl.lit("NOPE"))),
            "names bill 'NOPE', which has no header",
        ),
        (
            lambda h, ln: (h, ln.with_columns(line_number=pl.lit(1, pl.Int64))),
            "line_number 1 appears twice",
        ),
        (
            lambda h, ln: (h, ln.with_columns(amount=pl.lit(None, pl.Decimal(18, 2)))),
            "'amount' has",
        ),
        (lambda h, ln: (h, ln.with_columns(carrier=pl.lit("UPS"))), "belong to carrier 'UPS'"),
        (lambda h, ln: (h.with_columns(bill_number=pl.lit("../x")), ln), "not safe as a file name"),
        (lambda h, ln: (h.drop("currency"), ln), "missing column"),
    ],
)
def test_bad_input_is_refused_with_the_reason(change, message: str, tmp_path: Path) -> None:
    headers, lines = change(*sample_bills("DHL", shipments_per_bill=(2,)))
    with pytest.raises(BillWriteError, match=re.escape(message)):
        write_bills("DHL", headers, lines, DataLayout(tmp_path))
    assert not (tmp_path / "bills").exists()


def test_unknown_carrier_is_refused(tmp_path: Path) -> None:
    headers, lines = sample_bills("DHL", shipments_per_bill=(1,))
    with pytest.raises(BillWriteError, match="no bill writer for carrier 'FEDEX'"):
        write_bills("FEDEX", headers, lines, DataLayout(tmp_path))


@pytest.mark.parametrize("carrier", list(WRITERS))
def test_all_null_optional_columns_of_dtype_null_are_written(carrier: str, tmp_path: Path) -> None:
    headers, lines = sample_bills(carrier, shipments_per_bill=(3,))
    nulls = {"zone": None, "shipment_date": None, "billed_weight_kg": None}
    lines = lines.with_columns(pl.lit(None).alias(c) for c in nulls)
    headers = headers.with_columns(
        pl.lit(None).alias(c) for c in ("account", "period_start", "period_end")
    )
    assert lines.schema["zone"] == pl.Null
    [path] = write_bills(carrier, headers, lines, DataLayout(tmp_path))
    header, got = read_back(carrier, path)
    assert header["account"] is None and header["period_start"] is None
    assert [g[2:5] for g in got] == [(None, None, None)] * lines.height


@pytest.mark.parametrize(
    ("column", "dtype", "message"),
    [
        ("shipment_date", pl.Datetime("us"), "column 'shipment_date' must be Date, got Datetime"),
        ("bill_date", pl.String, "column 'bill_date' must be Date, got String"),
        ("billed_weight_kg", pl.Decimal(12, 2), "'billed_weight_kg' must be Decimal with scale 3"),
        ("line_number", pl.Float64, "column 'line_number' must be Int64 or Int32"),
    ],
)
def test_wrong_column_types_are_refused(column: str, dtype, message: str, tmp_path: Path) -> None:
    headers, lines = sample_bills("FOURPX", shipments_per_bill=(2,))
    if column in headers.columns:
        headers = headers.with_columns(pl.col(column).cast(dtype))
    else:
        lines = lines.with_columns(pl.col(column).cast(dtype))
    with pytest.raises(BillWriteError, match=re.escape(message)):
        write_bills("FOURPX", headers, lines, DataLayout(tmp_path))


def test_pdf_refuses_cells_it_could_not_print_unambiguously(tmp_path: Path) -> None:
    headers, lines = sample_bills("YANWEN", shipments_per_bill=(2,))
    lines = lines.with_columns(zone=pl.when(pl.col("line_number") == 2).then(pl.lit("Zone 3")))
    with pytest.raises(BillWriteError, match="line 2: zone 'Zone 3' cannot be printed"):
        write_bills("YANWEN", headers, lines, DataLayout(tmp_path))
