"""Per-carrier settings (`carriers.yaml`): billing cycle, currency, tolerances, API.

DOMAIN.md ("Bill reconciliation"): tolerances are absolute and relative and
configurable per carrier (and here per charge type). A billed figure is within
tolerance when |billed − expected| ≤ max(absolute, relative% × |expected|);
the boundary itself is within tolerance. Weight has its own tolerance, in kg.
The file is read by storage/config.py (load_carriers).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.contracts.bills import CHARGE_TYPES
from pipelines.money import grams, percent_units, price_units

NonNegative = Annotated[Decimal, Field(ge=0)]


class BillingCycle(StrEnum):
    WEEKLY = "WEEKLY"
    """Monday to Sunday (ISO weeks)."""
    SEMI_MONTHLY = "SEMI_MONTHLY"
    """1st-15th and 16th-end of month."""
    MONTHLY = "MONTHLY"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmountTolerance(_Strict):
    absolute: NonNegative = Decimal(0)
    relative_percent: NonNegative = Decimal(0)


class WeightTolerance(_Strict):
    absolute_kg: NonNegative = Decimal(0)
    relative_percent: NonNegative = Decimal(0)


class Tolerances(_Strict):
    amount: dict[str, AmountTolerance] = Field(
        default_factory=lambda: {"DEFAULT": AmountTolerance()}
    )
    """Per charge type; `DEFAULT` applies to charge types not listed."""
    weight: WeightTolerance = WeightTolerance()

    @model_validator(mode="after")
    def _known(self) -> Tolerances:
        unknown = sorted(set(self.amount) - set(CHARGE_TYPES) - {"DEFAULT"})
        if unknown:
            raise ValueError(f"unknown charge types in amount tolerances: {unknown}")
        return self


class ApiSettings(_Strict):
    endpoint: str
    token_env: str
    """Environment variable holding the bearer token (never the token itself)."""
    page_size: int = Field(default=100, gt=0)


class CarrierConfig(_Strict):
    carrier: str = Field(pattern=r"^[A-Z0-9_]+$")
    name: str = ""
    billing_cycle: BillingCycle
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    bill_format: str = ""
    api: ApiSettings | None = None
    tolerances: Tolerances = Tolerances()


class CarriersFile(_Strict):
    carriers: list[CarrierConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> CarriersFile:
        codes = [c.carrier for c in self.carriers]
        dup = sorted({c for c in codes if codes.count(c) > 1})
        if dup:
            raise ValueError(f"carriers listed twice: {dup}")
        return self

    def get(self, carrier: str) -> CarrierConfig:
        for c in self.carriers:
            if c.carrier == carrier:
                return c
        raise KeyError(f"carrier {carrier!r} not in carriers.yaml")


def tolerance_table(config: CarriersFile) -> pl.DataFrame:
    """carrier, charge_type ('DEFAULT' for the fallback), tol_abs_c (cents), tol_rel_u.

    tol_rel_u is in 1/10000 of a percent, so tolerance checks stay in integers.
    """
    rows = [
        {
            "carrier": c.carrier,
            "charge_type": ct,
            "tol_abs_c": price_units(tol.absolute) // 100,
            "tol_rel_u": percent_units(tol.relative_percent),
        }
        for c in config.carriers
        for ct, tol in c.tolerances.amount.items()
    ]
    return pl.DataFrame(
        rows,
        schema={
            "carrier": pl.String,
            "charge_type": pl.String,
            "tol_abs_c": pl.Int64,
            "tol_rel_u": pl.Int64,
        },
    )


def weight_tolerance_table(config: CarriersFile) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "carrier": c.carrier,
                "wtol_abs_g": grams(c.tolerances.weight.absolute_kg),
                "wtol_rel_u": percent_units(c.tolerances.weight.relative_percent),
            }
            for c in config.carriers
        ],
        schema={"carrier": pl.String, "wtol_abs_g": pl.Int64, "wtol_rel_u": pl.Int64},
    )
