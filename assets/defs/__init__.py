"""Definitions by domain; `assets.definitions` loads every module here."""
