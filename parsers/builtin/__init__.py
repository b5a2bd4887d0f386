"""Built-in parsers: importing this package registers them (`@register`)."""

from parsers.builtin import x12

__all__ = ["x12"]
