"""Built-in parsers: importing this package registers them (`@register`)."""

from parsers.builtin import edifact, einvoice, facturx, pdf_text, structured, tabular, x12

__all__ = ["edifact", "einvoice", "facturx", "pdf_text", "structured", "tabular", "x12"]
