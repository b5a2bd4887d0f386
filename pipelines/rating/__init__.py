"""Rate cards and set-based rating (issue 5 items 1-2). No Dagster imports."""

from pipelines.rating.cards import RateCard, RateCardError
from pipelines.rating.engine import RatingResult, rate_shipments
from pipelines.rating.tables import RateCardTables, build_tables
from pipelines.tracking import normalise_tracking

__all__ = [
    "RateCard",
    "RateCardError",
    "RateCardTables",
    "RatingResult",
    "build_tables",
    "normalise_tracking",
    "rate_shipments",
]
