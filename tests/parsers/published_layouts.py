"""Bill files written from the carriers' published billing-file layouts (issue 12 point 4).

No vendor file is copied: each writer builds a file from the layout as documented
(docs/parsers.md, "Which carriers and formats reckon reads", names the documents), from a
seeded random bill, and returns the canonical lines a parser must recover from it. Every
bill mixes several charge kinds, a credit (negative amount) and an adjustment.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Line:
    """One canonical charge line as the file states it."""

    tracking: str
    charge_type: str
    amount: Decimal
    description: str


@dataclass
class Bill:
    """A written bill: its file bytes and what reading it must give."""

    number: str
    currency: str
    total: Decimal
    lines: list[Line] = field(default_factory=list)
    data: bytes = b""


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return (Decimal(rng.randint(low * 100, high * 100)) * CENT).quantize(CENT)


def _csv(rows: list[list[str]], delimiter: str = ",", quoting: int = csv.QUOTE_MINIMAL) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


# --- UPS Billing Data file: header-less, 250 positions, one row per charge ----------------

UPS_WIDTH = 250
UPS_POSITIONS = {
    "Version": 1,
    "Recipient Number": 2,
    "Account Number": 3,
    "Account Country": 4,
    "Invoice Date": 5,
    "Invoice Number": 6,
    "Invoice Type Code": 7,
    "Invoice Type Detail Code": 8,
    "Invoice Currency Code": 10,
    "Invoice Amount": 11,
    "Transaction Date": 12,
    "Lead Shipment Number": 14,
    "Bill Option Code": 18,
    "Package Quantity": 19,
    "Tracking Number": 21,
    "Entered Weight": 27,
    "Entered Weight Unit of Measure": 28,
    "Billed Weight": 29,
    "Billed Weight Unit of Measure": 30,
    "Container Type": 31,
    "Billed Weight Type": 32,
    "Zone": 34,
    "Charge Category Code": 35,
    "Charge Category Detail Code": 36,
    "Charge Classification Code": 44,
    "Charge Description Code": 45,
    "Charge Description": 46,
    "Charged Unit Quantity": 47,
    "Transaction Currency Code": 51,
    "Incentive Amount": 52,
    "Net Amount": 53,
    "Invoice Due Date": 63,
    "Sender Country": 74,
    "Receiver Country": 82,
}
# (category, category detail, classification, description code, description, canonical type)
UPS_CHARGES = {
    "freight": ("SHP", "ISS", "FRT", "3", "Ground Commercial", "FREIGHT"),
    "fuel": ("SHP", "ISS", "FSC", "FSC", "Fuel Surcharge", "FUEL"),
    "residential": ("SHP", "ISS", "ACC", "RES", "Residential Surcharge", "RESIDENTIAL"),
    "das": ("SHP", "ISS", "ACC", "RDC", "Delivery Area Surcharge (Com)", "REMOTE_AREA"),
    "handling": ("SHP", "ISS", "ACC", "AHW", "Addl. Handling weight", "OVERSIZE"),
    "duty": ("SHP", "IMP", "GOV", "201", "Duty Amount", "CUSTOMS_DUTY"),
    "vat": ("SHP", "IMP", "GOV", "205", "Value Added Tax", "IMPORT_VAT"),
    "brokerage": ("SHP", "IMP", "BRK", "405", "Disbursement Fee", "OTHER"),
    "address": ("ADJ", "ADC", "FRT", "3", "Address Correction Ground", "ADDRESS_CORRECTION"),
    "correction": ("ADJ", "SCC", "FRT", "3", "Shipping Charge Correction Ground", "FREIGHT"),
    "res_credit": ("ADJ", "RADJ", "ACC", "RES", "Residential Surcharge Adjustment", "RESIDENTIAL"),
    "rebill": ("ADJ", "SCC", "FRT", "3", "Shipping Charge Correction Ground", "FREIGHT"),
}
UPS_REVERSES = {"correction": "freight", "res_credit": "residential"}
"""With `exact_credits`, the charge each credit kind reverses in full."""


def ups_tracking(rng: random.Random) -> str:
    return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTVWXYZ") for _ in range(16))


def ups_billing_data(
    seed: int,
    *,
    currency: str = "USD",
    account: str = "A1B2C3",
    shipments: int = 6,
    foreign_row_currency: str | None = None,
    exact_credits: bool = False,
    weight_units: str = "LK",
) -> Bill:
    """A UPS Billing Data file of one invoice. `foreign_row_currency` prints one row's
    Transaction Currency Code in another currency (a bill reckon must refuse).
    `exact_credits`: every third shipment's credits reverse its freight and residential
    surcharge in full, and the freight is billed again (a shipping charge correction:
    credit + new charge); otherwise the credits are of other amounts. `weight_units`: the
    unit codes drawn (L pounds, K kilograms, O ounces)."""
    rng = random.Random(seed)
    invoice_date = date(2026, 1, 10) + timedelta(days=7 * rng.randint(0, 20))
    number = f"0000{account}{rng.randint(100, 999)}"
    bill = Bill(number=number, currency=currency, total=Decimal("0.00"))
    rows: list[dict[str, str]] = []
    for s in range(shipments):
        tracking = ups_tracking(rng)
        unit = rng.choice(weight_units)
        weight = f"{rng.randint(1, 60)}.0"
        shipped = (invoice_date - timedelta(days=rng.randint(3, 9))).isoformat()
        zone = f"{rng.randint(2, 8):03d}"
        receiver = rng.choice(["US", "CA", "GB", "DE"])
        kinds = ["freight", "fuel", *rng.sample(["residential", "das", "handling"], 2)]
        if exact_credits and "residential" not in kinds:
            kinds.insert(2, "residential")
        if s % 3 == 1:
            kinds += ["duty", "vat", "brokerage"]
        if s % 3 == 2:
            kinds += ["address", "correction", "res_credit"]
            if exact_credits:
                kinds.insert(kinds.index("correction") + 1, "rebill")
        billed: dict[str, Decimal] = {}
        for kind in kinds:
            category, detail, classification, code, description, kind_type = UPS_CHARGES[kind]
            amount = _money(rng, 1, 40)
            if kind in ("correction", "res_credit"):
                amount = -amount  # credits: a correction in the shipper's favour
                if exact_credits:
                    amount = -billed[UPS_REVERSES[kind]]
            billed[kind] = amount
            bill.lines.append(Line(tracking, kind_type, amount, description))
            rows.append(
                {
                    "Transaction Date": shipped,
                    "Lead Shipment Number": tracking,
                    "Bill Option Code": "P/P",
                    "Package Quantity": "1",
                    "Tracking Number": tracking,
                    "Entered Weight": weight,
                    "Entered Weight Unit of Measure": unit,
                    "Billed Weight": weight,
                    "Billed Weight Unit of Measure": unit,
                    "Container Type": "PKG",
                    "Billed Weight Type": "1",
                    "Zone": zone,
                    "Charge Category Code": category,
                    "Charge Category Detail Code": detail,
                    "Charge Classification Code": classification,
                    "Charge Description Code": code,
                    "Charge Description": description,
                    "Charged Unit Quantity": "1",
                    "Transaction Currency Code": currency,
                    "Incentive Amount": str(-_money(rng, 0, 5)),
                    "Net Amount": str(amount),
                    "Sender Country": "US",
                    "Receiver Country": receiver,
                }
            )
    if foreign_row_currency:
        rows[len(rows) // 2]["Transaction Currency Code"] = foreign_row_currency
    bill.total = sum((line.amount for line in bill.lines), Decimal("0.00"))
    invoice = {
        "Version": "2.1",
        "Recipient Number": account,
        "Account Number": account,
        "Account Country": "US",
        "Invoice Date": invoice_date.isoformat(),
        "Invoice Number": number,
        "Invoice Type Code": "E",
        "Invoice Type Detail Code": "1",
        "Invoice Currency Code": currency,
        "Invoice Amount": str(bill.total),
        "Invoice Due Date": (invoice_date + timedelta(days=14)).isoformat(),
    }
    grid = []
    for row in rows:
        cells = [""] * UPS_WIDTH
        for name, value in {**invoice, **row}.items():
            cells[UPS_POSITIONS[name] - 1] = value
        grid.append(cells)
    bill.data = _csv(grid).encode("utf-8")
    return bill


# --- FedEx Billing Online invoice CSV: one row per shipment, repeated charge pairs --------

FEDEX_PAIRS = 25
FEDEX_COLUMNS = [
    "Bill to Account Number",
    "Invoice Date",
    "Invoice Number",
    "Store ID",
    "Original Amount Due",
    "Current Balance",
    "Payor",
    "Ground Tracking ID Prefix",
    "Express or Ground Tracking ID",
    "Transportation Charge Amount",
    "Net Charge Amount",
    "Service Type",
    "Ground Service",
    "Shipment Date",
    "POD Delivery Date",
    "Actual Weight Amount",
    "Actual Weight Units",
    "Rated Weight Amount",
    "Rated Weight Units",
    "Number of Pieces",
    "Recipient Country/Territory",
    "Shipper Country/Territory",
    "Zone Code",
    *(["Tracking ID Charge Description", "Tracking ID Charge Amount"] * FEDEX_PAIRS),
]
FEDEX_CHARGES = {
    "Fuel Surcharge": "FUEL",
    "Residential Delivery": "RESIDENTIAL",
    "Delivery Area Surcharge": "REMOTE_AREA",
    "DAS Extended Resi": "REMOTE_AREA",
    "Additional Handling": "OVERSIZE",
    "Address Correction": "ADDRESS_CORRECTION",
    "Saturday Delivery": "OTHER",
    "Declared Value": "OTHER",
}
FEDEX_CREDITS = {"Earned Discount": "FREIGHT", "Performance Pricing": "FREIGHT"}


def fedex_billing_online(seed: int, *, shipments: int = 6, wrong_row: int | None = None) -> Bill:
    """A FedEx Billing Online invoice CSV. `wrong_row` (0-based shipment) prints a Net Charge
    Amount one cent off its charges (a bill reckon must refuse, naming the row)."""
    rng = random.Random(seed)
    invoice_date = date(2026, 2, 3) + timedelta(days=7 * rng.randint(0, 20))
    number = str(rng.randint(700000000, 799999999))
    bill = Bill(number=number, currency="USD", total=Decimal("0.00"))
    body: list[list[str]] = []
    for s in range(shipments):
        tracking = str(rng.randint(10**11, 10**12 - 1))
        freight = _money(rng, 8, 90)
        if s == shipments - 1:
            freight = -freight  # a service-failure credit of an earlier shipment
        extras = [(d, _money(rng, 1, 25)) for d in rng.sample(sorted(FEDEX_CHARGES), 3)]
        extras += [(d, -_money(rng, 1, 6)) for d in rng.sample(sorted(FEDEX_CREDITS), 1)]
        lines = [Line(tracking, "FREIGHT", freight, "Transportation Charge")]
        lines += [Line(tracking, {**FEDEX_CHARGES, **FEDEX_CREDITS}[d], a, d) for d, a in extras]
        bill.lines += lines
        net = sum((line.amount for line in lines), Decimal("0.00"))
        if s == wrong_row:
            net += CENT
        unit = rng.choice(["L", "K"])
        pairs = [cell for d, a in extras for cell in (d, str(a))]
        pairs += [""] * (2 * FEDEX_PAIRS - len(pairs))
        body.append(
            [
                "123456789",
                invoice_date.strftime("%Y%m%d"),
                number,
                "",
                "",  # Original Amount Due: filled in below
                "0.00",
                "Shipper",
                "",
                tracking,
                str(freight),
                str(net),
                rng.choice(["FedEx Ground", "Home Delivery", "FedEx 2Day"]),
                "",
                (invoice_date - timedelta(days=rng.randint(3, 9))).strftime("%Y%m%d"),
                "",
                f"{rng.randint(1, 40)}.0",
                unit,
                f"{rng.randint(1, 40)}.0",
                unit,
                "1",
                rng.choice(["US", "CA", "MX"]),
                "US",
                str(rng.randint(2, 8)),
                *pairs,
            ]
        )
    bill.total = sum((line.amount for line in bill.lines), Decimal("0.00"))
    for row in body:
        row[4] = str(bill.total)
    bill.data = _csv([FEDEX_COLUMNS, *body]).encode("utf-8")
    return bill


# --- DHL Express invoice CSV (MyBill detail): I row, S rows, XC1-XC9 ----------------------

DHL_COLUMNS = [
    "Line Type", "Billing Country", "Billing Source", "Invoice Number", "Station Code",
    "Invoice Identifier", "Invoice Type", "Invoice Date", "Payment Terms", "Due Date",
    "Parent Account", "Billing Account", "Billing Account Name", "Billing Address 1",
    "Billing Address 2", "Billing Address 3", "Billing Postcode", "VAT Number",
    "Shipment Number", "Shipment Date", "Shipment Reference 1", "Shipment Reference 2",
    "Shipment Reference 3", "Product", "Product Name", "Pieces", "Unit Type", "Orig Name",
    "Orig Country Code", "Orig Country Name", "Senders Name", "Senders Address 1",
    "Senders Address 2", "Senders Address 3", "Senders Postcode", "Destination", "Dest Name",
    "Dest Country Code", "Dest Country Name", "Receivers Name", "Receivers Address 1",
    "Receivers Address 2", "Receivers Address 3", "Receivers Postcode", "Receivers Contact",
    "Cust Scale Weight (kg)", "DHL Scale Weight (kg)", "Cust Vol Weight (ltr)",
    "DHL Vol Weight (ltr)", "Weight Flag", "Weight (kg)", "Currency", "Total Amount",
    "Total Charge", "Tax Code", "Total Tax", "Tax Adjustment", "Invoice Fee", "Weight Charge",
    "Weight Tax (VAT)", "Other Charges 1", "Other Charges 1 Amount", "Other Charges 2",
    "Other Charges 2 Amount", "Discount 1", "Discount 1 Amount", "Discount 2",
    "Discount 2 Amount", "Discount 3", "Discount 3 Amount", "Total Extra Charges (XC)",
    "Total Extra Charges Tax",
    *(
        f"XC{n} {part}"
        for n in range(1, 10)
        for part in ("Code", "Name", "Charge", "Tax Code", "Tax", "Discount", "Total")
    ),
]  # fmt: skip
DHL_EXTRAS = {
    ("FF", "FUEL SURCHARGE"): "FUEL",
    ("OO", "REMOTE AREA DELIVERY"): "REMOTE_AREA",
    ("XX", "IMPORT EXPORT DUTIES"): "CUSTOMS_DUTY",
    ("XB", "IMPORT EXPORT TAXES"): "IMPORT_VAT",
    ("MA", "ADDRESS CORRECTION"): "ADDRESS_CORRECTION",
    ("YB", "OVERSIZE PIECE"): "OVERSIZE",
    ("II", "SHIPMENT INSURANCE"): "OTHER",
    ("CA", "ELEVATED RISK"): "OTHER",
}


def dhl_express_invoice(
    seed: int,
    *,
    currency: str = "EUR",
    shipments: int = 5,
    wrong_row: int | None = None,
    delimiter: str = ";",
) -> Bill:
    """A DHL Express invoice CSV with a VAT rate of 19% on every charge (taxes are printed,
    not lines). `wrong_row` (0-based shipment) prints a Total Charge one cent off."""
    rng = random.Random(seed)
    invoice_date = date(2026, 3, 2) + timedelta(days=7 * rng.randint(0, 20))
    number = f"FRA{rng.randint(10**8, 10**9 - 1)}"
    bill = Bill(number=number, currency=currency, total=Decimal("0.00"))
    at = {name: i for i, name in enumerate(DHL_COLUMNS)}

    def vat(amount: Decimal) -> Decimal:
        return (amount * Decimal("0.19")).quantize(CENT)

    invoice = {
        "Billing Source": "MYBILL",
        "Invoice Number": number,
        "Invoice Type": "N",
        "Invoice Date": invoice_date.strftime("%Y%m%d"),
        "Due Date": (invoice_date + timedelta(days=30)).strftime("%Y%m%d"),
        "Billing Account": "951234567",
        "Currency": currency,
    }
    rows: list[list[str]] = []
    taxes = Decimal("0.00")
    for s in range(shipments):
        tracking = str(rng.randint(10**9, 10**10 - 1))
        row = [""] * len(DHL_COLUMNS)
        cells: dict[str, str] = {
            **invoice,
            "Line Type": "S",
            "Shipment Number": tracking,
            "Shipment Date": (invoice_date - timedelta(days=rng.randint(3, 20))).strftime("%Y%m%d"),
            "Product": "P",
            "Product Name": "EXPRESS WORLDWIDE nondoc",
            "Pieces": "1",
            "Orig Country Code": "DE",
            "Dest Country Code": rng.choice(["US", "GB", "CN", "FR"]),
            "Weight (kg)": f"{rng.randint(1, 300) / 10:.1f}",
        }
        weight_charge = _money(rng, 20, 200)
        lines = [Line(tracking, "FREIGHT", weight_charge, "Weight Charge")]
        cells["Weight Charge"] = str(weight_charge)
        cells["Weight Tax (VAT)"] = str(vat(weight_charge))
        tax = vat(weight_charge)
        if s == 0:
            discount = -_money(rng, 2, 10)
            cells["Discount 1"], cells["Discount 1 Amount"] = "VOLUME DISCOUNT", str(discount)
            lines.append(Line(tracking, "FREIGHT", discount, "VOLUME DISCOUNT"))
        if s == 1:
            cells["Other Charges 1"], cells["Other Charges 1 Amount"] = "DUTY TAX PAID", "11.00"
            lines.append(Line(tracking, "CUSTOMS_DUTY", Decimal("11.00"), "DUTY TAX PAID"))
        extras = rng.sample(sorted(DHL_EXTRAS), rng.randint(2, 4))
        extras_total = Decimal("0.00")
        discounts = []  # read after all extra charges: the discounts are their own slots
        for n, (code, name) in enumerate(extras, 1):
            charge = _money(rng, 1, 30)
            cells |= {
                f"XC{n} Code": code,
                f"XC{n} Name": name,
                f"XC{n} Charge": str(charge),
                f"XC{n} Tax Code": "A",
                f"XC{n} Tax": str(vat(charge)),
            }
            lines.append(Line(tracking, DHL_EXTRAS[(code, name)], charge, name))
            extras_total += charge
            tax += vat(charge)
            if s == 2 and n == 1:  # a discount on an extra charge: a credit line
                cells[f"XC{n} Discount"] = str(-CENT * 50)
                discounts.append(Line(tracking, "OTHER", -CENT * 50, "Extra charge discount"))
                extras_total -= CENT * 50
            cells[f"XC{n} Total"] = str(charge + vat(charge))
        lines += discounts
        net = sum((line.amount for line in lines), Decimal("0.00"))
        cells["Total Extra Charges (XC)"] = str(extras_total)
        cells["Total Tax"] = str(tax)
        cells["Total Charge"] = str(net + (CENT if s == wrong_row else 0))
        cells["Total Amount"] = str(net + tax)
        bill.lines += lines
        taxes += tax
        for name, value in cells.items():
            row[at[name]] = value
        rows.append(row)
    bill.total = sum((line.amount for line in bill.lines), Decimal("0.00"))
    head = [""] * len(DHL_COLUMNS)
    for name, value in {
        **invoice,
        "Line Type": "I",
        "Total Charge": str(bill.total),
        "Total Tax": str(taxes),
        "Total Amount": str(bill.total + taxes),
    }.items():
        head[at[name]] = value
    text = _csv([DHL_COLUMNS, head, *rows], delimiter=delimiter, quoting=csv.QUOTE_ALL)
    bill.data = text.encode("utf-8")
    return bill
