"""Every demo carrier's bill, written by demo/bills in its real-world style, parses back exactly.

The demo writers are lossless (demo/bills/FORMATS.md), so the parsed canonical
lines must equal the generator's lines: same order (line_number), tracking
number, shipment fields, charge type and amount, and the header fields. The
second sample bill states a total 10.01 above its lines (as the generator may
inject): that is a totals_mismatch of that file only.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.bills import write_bills
from demo.bills.samples import HEADER_SCHEMA, LINE_SCHEMA, sample_bills
from parsers.base import ParseContext
from parsers.ingest import ingest_many
from parsers.model import BillParseError
from parsers.registry import Registry
from parsers.validate import validate
from storage.layout import DataLayout
from tests.parsers.conftest import DEMO_CARRIERS, expected_lines

TOKEN = "test-token"
TEMPLATE_OF = {
    "DHL": "dhl-mybill-csv",
    "UPS": "ups-api-envelope-json",
    "FOURPX": "fourpx-statement-xml",
    "YUNEXPRESS": "yunexpress-statement-xlsx",
    "YANWEN": "yanwen-statement-pdf",
}


def fetch_ups(layout: DataLayout) -> list[Path]:
    """The UPS bills go through the real connector against the demo carrier API (paged,
    with injected transient errors), exactly as `make demo` does."""
    from demo.carrier_api import serve
    from parsers.connectors.http_api import ApiSource, BearerToken, fetch_bills

    with serve(layout, TOKEN, fail_every=4, retry_after=0) as url:
        source = ApiSource(url, "UPS", BearerToken(TOKEN), page_size=7)
        return fetch_bills(source, layout, sleep=lambda s: None).paths


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, tuple[pl.DataFrame, pl.DataFrame, list[Path]]]:
    layout = DataLayout(tmp_path_factory.mktemp("demo"))
    out = {}
    for carrier in DEMO_CARRIERS:
        headers, lines = sample_bills(carrier, shipments_per_bill=(12, 4))
        paths = write_bills(carrier, headers, lines, layout)
        if carrier == "UPS":
            paths = sorted(fetch_ups(layout))
        out[carrier] = (headers, lines, paths)
    return out


def parse(registry: Registry, path: Path, carrier: str | None = None):
    ctx = ParseContext(hashlib.sha256(path.read_bytes()).hexdigest(), path.name, carrier)
    return registry.parse(path, ctx)


@pytest.mark.parametrize("carrier", DEMO_CARRIERS)
def test_demo_bill_parses_back_exactly(registry, demo, carrier):
    headers, lines, paths = demo[carrier]
    for header, path in zip(headers.iter_rows(named=True), paths, strict=True):
        choice, result = parse(registry, path)
        assert choice.template is not None and choice.template.id == TEMPLATE_OF[carrier]
        got = result.lines.select(expected_lines(lines, header["bill_number"]).columns)
        assert got.to_dicts() == expected_lines(lines, header["bill_number"]).to_dicts()
        assert (result.lines["tracking_number_raw"] == result.lines["tracking_number"]).all()
        parsed = result.headers.row(0, named=True)
        for field in ("carrier", "bill_number", "bill_date", "account", "currency", "stated_total"):
            assert parsed[field] == header[field], field
        assert (parsed["period_start"], parsed["period_end"]) == (
            header["period_start"],
            header["period_end"],
        )
        assert result.lines["locator"].null_count() == 0
        assert result.lines["locator"].is_unique().all()


@pytest.mark.parametrize("carrier", DEMO_CARRIERS)
def test_the_bill_whose_total_does_not_foot_is_its_own_error(registry, demo, carrier):
    _, _, paths = demo[carrier]
    validate(parse(registry, paths[0])[1])
    with pytest.raises(BillParseError) as info:
        validate(parse(registry, paths[1])[1])
    assert info.value.code == "totals_mismatch"
    assert "difference 10.01" in info.value.reason


def test_locators_point_at_the_printed_place(registry, demo):
    expected_first = {
        "DHL": "row=2;charge=1",
        "UPS": "api_page=1;index=0",
        "FOURPX": "xpath=/BillStatement/ChargeList/Charge[1]",
        "YUNEXPRESS": "sheet=账单明细;row=6",
        "YANWEN": "page=1;row=1",
    }
    for carrier, locator in expected_first.items():
        result = parse(registry, demo[carrier][2][0])[1]
        assert result.lines["locator"][0] == locator
    ups = parse(registry, demo["UPS"][2][0])[1]
    assert ups.lines["locator"][7] == "api_page=2;index=0"  # page_size=7


def test_all_demo_bills_ingest_on_two_workers(tmp_path, demo):
    paths = [p for carrier in DEMO_CARRIERS for p in demo[carrier][2]]
    outcomes = ingest_many(paths, tmp_path / "raw", tmp_path / "quarantine", workers=2)
    assert [o.status for o in outcomes] == ["parsed", "quarantined"] * len(DEMO_CARRIERS)
    assert {o.error_code for o in outcomes if o.status == "quarantined"} == {"totals_mismatch"}
    parsed_lines = sum(o.lines.height for o in outcomes if o.status == "parsed")
    expected = sum(
        demo[c][1].filter(pl.col("bill_number") == demo[c][0]["bill_number"][0]).height
        for c in DEMO_CARRIERS
    )
    assert parsed_lines == expected


CHARGE_TYPES = ["FREIGHT", "FUEL", "REMOTE_AREA", "RESIDENTIAL", "OTHER", "OVERSIZE"]
shipment = st.tuples(
    st.integers(0, 10**9),
    st.none() | st.decimals(Decimal("0.001"), Decimal("70"), places=3),
    st.none() | st.sampled_from(["1", "2", "A7"]),
    st.lists(
        st.tuples(
            st.sampled_from(CHARGE_TYPES), st.decimals(Decimal("-50"), Decimal("9999"), places=2)
        ),
        min_size=1,
        max_size=13,
    ),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shipments=st.lists(shipment, min_size=1, max_size=6), carrier=st.sampled_from(["DHL", "FOURPX"])
)
def test_any_bill_round_trips(tmp_path_factory, registry, shipments, carrier):
    """Invariant: whatever the generator bills (11+ charges on one shipment, null weights
    and zones, negative amounts), parsing the carrier's file gives the same lines back."""
    tracking = {"DHL": "{:010d}", "FOURPX": "4PX{:013d}CN"}[carrier]
    rows, n = [], 0
    for number, weight, zone, charges in shipments:
        for kind, amount in charges:
            n += 1
            rows.append(
                [
                    carrier,
                    "B-1",
                    n,
                    tracking.format(number),
                    date(2026, 1, 2) + timedelta(days=n % 20),
                    weight,
                    zone,
                    "DE",
                    kind,
                    amount,
                ]
            )
    lines = pl.DataFrame(rows, schema=LINE_SCHEMA, orient="row")
    total = sum((r[-1] for r in rows), Decimal("0.00"))
    headers = pl.DataFrame(
        [[carrier, None, "B-1", date(2026, 2, 1), None, None, "USD", total]],
        schema=HEADER_SCHEMA,
        orient="row",
    )
    layout = DataLayout(tmp_path_factory.mktemp("rt"))
    (path,) = write_bills(carrier, headers, lines, layout)
    _, result = parse(registry, path)
    validate(result)
    got = result.lines.select(expected_lines(lines, "B-1").columns)
    assert got.to_dicts() == expected_lines(lines, "B-1").to_dicts()
