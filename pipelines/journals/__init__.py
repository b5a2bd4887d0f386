"""ERP journals per day and company (issue 3, item 4)."""

from pipelines.journals.journals import ACCOUNTS, journal_lines, journals

__all__ = ["ACCOUNTS", "journal_lines", "journals"]
