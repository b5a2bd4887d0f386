"""Built-in parsers: importing this package registers them (`@register`)."""

from parsers.builtin import einvoice, facturx, x12

__all__ = ["einvoice", "facturx", "x12"]
