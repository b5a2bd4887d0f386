"""A hand-written, tiny data directory: small enough to read in a test, real files on disk."""

from __future__ import annotations

from pathlib import Path

COMPANIES = "company,functional_currency\nCN01,CNY\nUS01,USD\n"
WAREHOUSES = "warehouse,company,country,kind\nSZ-DOM,CN01,CN,DOMESTIC\nLA-3PL,US01,US,THIRD_PARTY\n"
SKUS = (
    "sku,weight_kg,length_cm,width_cm,height_cm\n"
    "MUG-01,0.450,12.0,10.0,10.0\n"
    "LAMP-02,1.250,30.0,20.0,20.0\n"
)
FX_RATES = (
    "rate_date,currency,to_currency,rate\n"
    "2026-01-05,USD,CNY,7.12345678\n"
    "2026-01-05,CNY,USD,0.14038000\n"
)
MOVEMENTS_DAY_1 = (
    "movement_id,occurred_at,company,warehouse,sku,movement_type,quantity,unit_cost,currency,reference\n"
    "M-1,2026-01-05 08:00:00,CN01,SZ-DOM,MUG-01,RECEIPT,100,12.345600,CNY,PO-1/1\n"
    "M-2,2026-01-05 09:30:00,CN01,SZ-DOM,MUG-01,ISSUE,3,,,SO-1\n"
    "M-3,2026-01-05 10:00:00,US01,LA-3PL,LAMP-02,RECEIPT,10,4.50,USD,PO-2/1\n"
)
MOVEMENTS_DAY_2 = (
    "movement_id,occurred_at,company,warehouse,sku,movement_type,quantity,unit_cost,currency,reference\n"
    "M-4,2026-01-06 11:00:00,CN01,SZ-DOM,MUG-01,ISSUE,5,,,SO-2\n"
    "M-5,2026-01-05 18:00:00,CN01,SZ-DOM,MUG-01,ISSUE,1,,,SO-3\n"
)
SHIPMENTS_DAY_1 = (
    "shipment_id,tracking_number,carrier,service,shipped_at,company,warehouse,destination_country,"
    "destination_postcode,parcels,weight_kg,length_cm,width_cm,height_cm,order_id\n"
    "S-1,1234567890,DHL,EXPRESS,2026-01-05 15:00:00,CN01,SZ-DOM,DE,10115,1,1.350,36.0,30.0,10.0,SO-1\n"
)


def write_tiny_data(root: Path) -> Path:
    """Write the tiny data set under `root` and return it."""
    files = {
        "companies/companies.csv": COMPANIES,
        "warehouses/warehouses.csv": WAREHOUSES,
        "skus/skus.csv": SKUS,
        "fx_rates/fx_rates.csv": FX_RATES,
        "movements/2026-01-05.csv": MOVEMENTS_DAY_1,
        "movements/2026-01-06.csv": MOVEMENTS_DAY_2,
        "shipments/2026-01-05.csv": SHIPMENTS_DAY_1,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
