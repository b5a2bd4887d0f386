"""Connectors that fetch carrier bills from remote sources into the bill inbox."""
