"""Partition keys read back what made them: billing periods and bill files."""

from __future__ import annotations

from datetime import date

import pytest

from runs.partition_keys import (
    bill_file_key,
    bill_file_key_carrier,
    period_key,
    period_key_carrier,
    split_bill_file_key,
    split_period_key,
)


def test_period_keys_round_trip() -> None:
    key = period_key("DHL", date(2026, 1, 1))
    assert key == "DHL|2026-01-01"
    assert split_period_key(key) == ("DHL", date(2026, 1, 1))
    assert period_key_carrier(key) == "DHL"


def test_bill_file_keys_round_trip_with_a_sha_prefix() -> None:
    key = bill_file_key("UPS", "inv#7.csv", "ab" * 32)
    assert key == "UPS/inv#7.csv#abababababab"
    assert split_bill_file_key(key) == ("UPS", "inv#7.csv", "abababababab")
    assert bill_file_key_carrier(key) == "UPS"


def test_a_key_without_a_hash_is_not_a_bill_file_key() -> None:
    with pytest.raises(ValueError, match="not a bill file partition key"):
        split_bill_file_key("UPS/inv.csv")
