"""Column types shared by every contract.

Money is never binary floating point (DOMAIN.md, "Costing rules"): amounts are
decimals with a fixed scale, and engines that need speed convert to integer
minor units internally. Quantities are integers; physical measures (kg, cm)
are decimals because their unit says so.
"""

from __future__ import annotations

import polars as pl

MONEY = pl.Decimal(18, 2)
"""An amount in a currency, to the cent."""

UNIT_COST = pl.Decimal(18, 6)
"""A price per unit: more places than money so quantity x price rounds once."""

FX_RATE = pl.Decimal(18, 8)
"""Units of `to_currency` per unit of `currency`."""

PERCENT = pl.Decimal(9, 4)
"""A percentage such as a fuel surcharge (12.5 means 12.5%)."""

WEIGHT_KG = pl.Decimal(12, 3)
LENGTH_CM = pl.Decimal(10, 1)

QUANTITY = pl.Int64
ID = pl.String
CODE = pl.String
TEXT = pl.String
DATE = pl.Date
TIMESTAMP = pl.Datetime("us")
