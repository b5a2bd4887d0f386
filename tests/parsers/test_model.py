"""The canonical builder: number cleaning, weights, tracking numbers, charge types."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.model import (
    BillParseError,
    Provenance,
    RawBill,
    canonical_frames,
    clean_number,
)
from pipelines.contracts.bills import BILL_HEADERS, BILL_LINES
from pipelines.tracking import normalise_tracking

PROV = Provenance("ab" * 32, "bill.csv", "test-parser", "7", "tpl@1")


def clean(values: list[str], decimal_comma: bool = False) -> list[str]:
    frame = pl.DataFrame({"v": values})
    return frame.select(clean_number(pl.col("v"), decimal_comma).alias("v"))["v"].to_list()


def bill(rows: dict[str, list], **header) -> RawBill:
    n = len(rows["amount"])
    rows.setdefault("tracking_number_raw", ["1z 999-aa1"] * n)
    rows.setdefault("locator", [f"row={i + 2}" for i in range(n)])
    defaults = dict(carrier="UPS", bill_number="B1", bill_date=date(2026, 2, 1), currency="USD")
    return RawBill(lines=pl.DataFrame(rows), **{**defaults, **header})


def test_printed_numbers_become_plain_decimal_text():
    assert clean(["$1,234.50", "(12.00)", "12.00-", " 7 ", "Rs 1939", "-0.05"]) == [
        "1234.50",
        "-12.00",
        "-12.00",
        "7",
        "1939",
        "-0.05",
    ]
    assert clean(["1.234,56", "-0,05"], decimal_comma=True) == ["1234.56", "-0.05"]
    assert clean([".50", "-.5", "(.25)"]) == ["0.50", "-0.5", "-0.25"]


def test_tracking_numbers_normalise_to_letters_and_digits():
    frame = pl.DataFrame({"t": ["1z 999-aa1", "UG 123.456 cn", "0012345678"]})
    assert frame.select(normalise_tracking(pl.col("t")))["t"].to_list() == [
        "1Z999AA1",
        "UG123456CN",
        "0012345678",
    ]


def test_canonical_frames_have_contract_types_and_provenance():
    result = canonical_frames(
        [bill({"amount": ["10.50", "2.25"], "charge_code": ["FRT", "FSC"]}, stated_total="12.75")],
        PROV,
        code_map={"FRT": "FREIGHT", "FSC": "FUEL"},
    )
    assert result.lines.schema == BILL_LINES.schema
    assert result.headers.schema == BILL_HEADERS.schema
    assert result.lines["charge_type"].to_list() == ["FREIGHT", "FUEL"]
    assert result.lines["line_number"].to_list() == [1, 2]
    assert result.lines["tracking_number"].unique().to_list() == ["1Z999AA1"]
    row = result.lines.row(0, named=True)
    assert (row["source_sha256"], row["parser"], row["parser_version"], row["template_id"]) == (
        PROV.source_sha256,
        "test-parser",
        "7",
        "tpl@1",
    )
    header = result.headers.row(0, named=True)
    assert header["parsed_total"] == Decimal("12.75") == header["stated_total"]
    assert header["line_count"] == 2


def test_pounds_convert_to_kilograms_exactly_rounded_half_up():
    # 1 lb = 0.45359237 kg: 1.000 lb -> 0.454 kg; 2.205 lb -> 1.000168... -> 1.000 kg;
    # 0.001 lb = 0.45359 g -> 0.000 kg; 500 g -> 0.500 kg; 3.5 kg stays.
    result = canonical_frames(
        [
            bill(
                {
                    "amount": ["1.00"] * 5,
                    "billed_weight": ["1.000", "2.205", "0.001", "500", "3.5"],
                    "weight_unit": ["lbs", "LB", "L", "G", "kg"],
                }
            )
        ],
        PROV,
    )
    assert result.lines["weight_unit"].to_list() == ["LB", "LB", "LB", "G", "KG"]
    assert [str(w) for w in result.lines["billed_weight_kg"]] == [
        "0.454",
        "1.000",
        "0.000",
        "0.500",
        "3.500",
    ]


def test_ounces_convert_to_kilograms_exactly_rounded_half_up():
    # 1 oz = 1/16 lb = 28.349523125 g: 16 oz -> 0.454 kg (as 1 lb); 8.818 oz = 249.986 g ->
    # 0.250 kg; 0.5 oz = 14.175 g -> 0.014 kg; UPS's unit code "O" and "ounces" read as OZ.
    result = canonical_frames(
        [
            bill(
                {
                    "amount": ["1.00"] * 3,
                    "billed_weight": ["16", "8.818", "0.5"],
                    "weight_unit": ["O", "oz", "ounces"],
                }
            )
        ],
        PROV,
    )
    assert result.lines["weight_unit"].to_list() == ["OZ", "OZ", "OZ"]
    assert [str(w) for w in result.lines["billed_weight_kg"]] == ["0.454", "0.250", "0.014"]


def test_charge_types_from_keywords_when_no_code_maps():
    result = canonical_frames(
        [
            bill(
                {
                    "amount": ["1.00"] * 5,
                    "charge_description": [
                        "Fuel surcharge on freight",
                        "挂号费",
                        "Extended Area Surcharge",
                        "Something else",
                        "Weight charge / freight",
                    ],
                }
            )
        ],
        PROV,
    )
    assert result.lines["charge_type"].to_list() == [
        "FUEL",
        "REGISTRATION",
        "REMOTE_AREA",
        "OTHER",
        "FREIGHT",
    ]


@pytest.mark.parametrize(
    ("amount", "message"),
    [("12.345", "more than 2 decimal places"), ("abc", "is not a number"), ("1e3", "not a number")],
)
def test_bad_amounts_are_errors_with_their_locator(amount, message):
    with pytest.raises(BillParseError, match=message) as info:
        canonical_frames([bill({"amount": ["1.00", amount]})], PROV)
    assert info.value.locator == "row=3"


def test_a_charge_without_amount_is_an_error_not_a_dropped_line():
    with pytest.raises(BillParseError, match="no amount") as info:
        canonical_frames([bill({"amount": ["1.00", None]})], PROV)
    assert info.value.locator == "row=3"


money = st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(money, min_size=1, max_size=20), comma=st.booleans(), group=st.booleans())
def test_printed_money_round_trips_exactly(values, comma, group):
    """Whatever the printing (thousands groups, decimal comma), parsing gives the value back."""

    def printed(v: Decimal) -> str:
        text = f"{v:,.2f}" if group else f"{v:.2f}"
        if comma:
            text = text.replace(",", "_").replace(".", ",").replace("_", ".")
        return text

    result = canonical_frames(
        [bill({"amount": [printed(v) for v in values]})], PROV, decimal_comma=comma
    )
    assert result.lines["amount"].to_list() == values
    assert result.headers["parsed_total"][0] == sum(values, Decimal("0.00"))


def test_the_stated_total_is_cleaned_like_the_lines():
    result = canonical_frames(
        [bill({"amount": ["1.234,50", "-0,50"]}, stated_total="EUR 1.234,00")],
        PROV,
        decimal_comma=True,
    )
    assert (
        result.headers["stated_total"][0] == Decimal("1234.00") == result.headers["parsed_total"][0]
    )
