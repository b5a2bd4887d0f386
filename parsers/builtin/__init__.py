"""Built-in parsers: importing this package registers them (`@register`)."""

from parsers.builtin import einvoice, facturx, tabular, x12

__all__ = ["einvoice", "facturx", "tabular", "x12"]
