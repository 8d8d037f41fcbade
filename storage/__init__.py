"""Maeum's storage layer: one SQLite file (WAL) behind an async API. See storage/database.py."""
from storage.database import Database
from storage.identity import (
    SecretError,
    is_pseudonym,
    load_or_create_secret,
    pseudonymize,
    secret_path_for,
)
from storage.migrations import LATEST_VERSION, SchemaTooNewError
from storage.rows import MessageRow

__all__ = [
    "Database",
    "LATEST_VERSION",
    "MessageRow",
    "SchemaTooNewError",
    "SecretError",
    "is_pseudonym",
    "load_or_create_secret",
    "pseudonymize",
    "secret_path_for",
]
