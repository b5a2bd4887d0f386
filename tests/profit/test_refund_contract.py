"""The refunds extract: a refund of units or of an amount, exactly one of them; anything
else is quarantined with the file, row, column and reason (docs/profit.md rule 4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from pipelines.contracts.orders import ORDER_REFUNDS
from storage.loading.validation import validate_files

HEADER = "refund_id,refunded_at,order_line_id,kind,quantity,amount"
ROWS = {
    "R-UNITS": ("RETURN,2,", None),
    "R-MONEY": ("REFUND,,4.50", None),
    "R-BOTH": ("REFUND,1,4.50", ("quantity", "exactly one of quantity (units) and amount")),
    "R-NONE": ("REFUND,,", ("quantity", "exactly one of quantity (units) and amount")),
    "R-RETURN": ("RETURN,,4.50", ("amount", "its kind is REFUND, not CANCEL or RETURN")),
    "R-ZERO": ("REFUND,,0.00", ("amount", "0.00 must be greater than 0")),
    "R-CENTS": ("REFUND,,4.505", ("amount", "is not")),
}


def test_a_refund_is_of_units_or_of_an_amount_never_both_nor_neither(tmp_path: Path) -> None:
    path = tmp_path / "order_refunds" / "2026-03-05.csv"
    path.parent.mkdir()
    lines = [f"{rid},2026-03-05 12:00:00,L1,{row}" for rid, (row, _) in ROWS.items()]
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    batch = validate_files([path], ORDER_REFUNDS, load_date=date(2026, 3, 5))
    valid = {r["refund_id"]: r for r in batch.valid.iter_rows(named=True)}
    assert sorted(valid) == ["R-MONEY", "R-UNITS"]
    assert (valid["R-MONEY"]["quantity"], valid["R-MONEY"]["amount"]) == (None, Decimal("4.50"))
    assert (valid["R-UNITS"]["quantity"], valid["R-UNITS"]["amount"]) == (2, None)
    found = {(r["row"], r["column"]): r["reason"] for r in batch.violations.iter_rows(named=True)}
    expected = {
        (row, why[0]): why[1]
        for row, (_, why) in enumerate(ROWS.values(), start=2)
        if why is not None
    }
    assert found.keys() == expected.keys()
    for where, reason in expected.items():
        assert reason in found[where], (where, found[where])
    assert all(f == str(path) for f in batch.violations["file"])


def test_an_extract_without_the_amount_column_loads_as_refunds_of_units(tmp_path: Path) -> None:
    """Extracts written before refunds of an amount existed still load."""
    path = tmp_path / "2026-03-05.csv"
    text = "refund_id,refunded_at,order_line_id,kind,quantity\nR1,2026-03-05 12:00:00,L1,REFUND,1\n"
    path.write_text(text, encoding="utf-8")
    batch = validate_files([path], ORDER_REFUNDS, load_date=date(2026, 3, 5))
    assert batch.violations.is_empty()
    assert batch.valid.select("quantity", "amount").rows() == [(1, None)]


def test_a_refund_names_its_line_or_for_an_amount_its_whole_order(tmp_path: Path) -> None:
    path = tmp_path / "2026-03-05.csv"
    rows = {
        "R-LINE": ("L1,REFUND,,4.50,", None),
        "R-ORDER": (",REFUND,,4.50,O1", None),
        "R-BOTH": ("L1,REFUND,,4.50,O1", ("order_line_id", "exactly one of order_line_id")),
        "R-NEITHER": (",REFUND,,4.50,", ("order_line_id", "exactly one of order_line_id")),
        "R-UNITS": (",REFUND,1,,O1", ("order_id", "a refund of a whole order is of an amount")),
    }
    header = "refund_id,refunded_at,order_line_id,kind,quantity,amount,order_id"
    text = [header, *(f"{rid},2026-03-05 12:00:00,{row}" for rid, (row, _) in rows.items())]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    batch = validate_files([path], ORDER_REFUNDS, load_date=date(2026, 3, 5))
    assert sorted(batch.valid["refund_id"]) == ["R-LINE", "R-ORDER"]
    found = {(r["row"], r["column"]): r["reason"] for r in batch.violations.iter_rows(named=True)}
    for row, (_, why) in enumerate(rows.values(), start=2):
        if why is not None:
            assert why[1] in found[(row, why[0])], (row, found)
