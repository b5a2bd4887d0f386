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


EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]
"""The name of an environment variable: credentials are read from the environment, never
written in carriers.yaml (a `token:` or `client_secret:` key is refused as unknown)."""
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s/?#]+[^\s]*$")]
QueryName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]


class OAuthSettings(_Strict):
    """OAuth 2.0 client credentials (RFC 6749, 4.4): a token is asked for at `token_url`
    with the client id and secret read from the environment, and asked for again, once,
    when the API answers 401 (the token expired)."""

    token_url: HttpUrl
    client_id_env: EnvName
    client_secret_env: EnvName
    scope: str | None = None


class RetrySettings(_Strict):
    """How hard one request is tried (parsers/connectors/http_api.py RetryPolicy): timeouts,
    connection errors, 5xx and 429 are retried with jittered exponential backoff or the
    server's Retry-After, within `max_attempts` and `max_elapsed_s`."""

    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    max_retry_after_s: float = Field(default=120.0, ge=0)
    max_elapsed_s: float = Field(default=300.0, gt=0)


class ApiSettings(_Strict):
    """A carrier's billing API (docs/parsers.md, "API bills")."""

    endpoint: HttpUrl
    """The bills endpoint (`.../carriers/<CARRIER>/bills`) or the API root."""
    token_env: EnvName | None = None
    """Environment variable holding a bearer token (never the token itself)."""
    oauth: OAuthSettings | None = None
    page_size: int = Field(default=100, gt=0, le=1000)
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    """Read timeout of one request (connecting: at most 5 s)."""
    cursor_param: QueryName = "since"
    """The listing's query parameter that takes the since-cursor."""
    cursor_field: QueryName = "invoiceDate"
    """The field of each listed invoice whose greatest value is the next cursor; its values
    must sort as text (ISO 8601 dates or timestamps)."""
    retries: RetrySettings = RetrySettings()

    @model_validator(mode="after")
    def _one_auth(self) -> ApiSettings:
        if (self.token_env is None) == (self.oauth is None):
            raise ValueError(
                "give exactly one of token_env (a bearer token) or oauth (client credentials)"
            )
        return self


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
