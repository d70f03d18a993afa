"""The only module that knows which store versions exist and how to open them.

A store file says what it is with ``PRAGMA application_id``
(:data:`~memsleuth.store.format.APPLICATION_ID`) and which schema it has with
``PRAGMA user_version``.  :func:`check` turns every other case into a
:class:`~memsleuth.errors.StoreError` with a sentence a user can act on:

* not SQLite, or a damaged header -> ``StoreError`` ("not a memsleuth store");
* another program's SQLite file -> ``StoreError`` ("foreign");
* a newer schema -> :class:`~memsleuth.errors.SchemaMismatch` ("upgrade memsleuth");
* an older schema -> upgraded in place by :data:`UPGRADES` (none yet: version
  1 is the first; ``tests/fixtures/store/`` holds a v1 file so that the day
  version 2 lands, the upgrade from 1 is tested on a real old file).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from memsleuth.errors import SchemaMismatch, StoreError
from memsleuth.store.format import APPLICATION_ID, SCHEMA, SCHEMA_VERSION, transaction

#: from-version -> function that upgrades the open connection to from-version + 1.
UPGRADES: dict[int, Callable[[sqlite3.Connection], None]] = {}

#: Tables every supported version has; their absence means a damaged file.
_REQUIRED_TABLES = frozenset({"meta", "samples", "blobs", "processes", "series_keys", "points"})


def check(conn: sqlite3.Connection, path: str, *, create: bool, writable: bool) -> int:
    """Validate (and, if ``create``, initialise) the store; return its schema version."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a memsleuth store ({exc})") from None
    if app_id == 0 and version == 0 and not tables:
        if not create:
            raise StoreError(f"{path}: empty file, not a memsleuth store")
        _initialise(conn)
        return SCHEMA_VERSION
    if app_id != APPLICATION_ID:
        raise StoreError(
            f"{path}: an SQLite database, but not a memsleuth store "
            f"(application_id {app_id:#x}, expected {APPLICATION_ID:#x})"
        )
    if version > SCHEMA_VERSION:
        raise SchemaMismatch(
            f"{path}: store schema version {version} is newer than this memsleuth "
            f"understands ({SCHEMA_VERSION}); upgrade memsleuth to read it"
        )
    if version < 1:
        raise StoreError(f"{path}: store has no schema version; the file is damaged")
    missing = _REQUIRED_TABLES - tables
    if missing:
        raise StoreError(f"{path}: store is missing table(s) {', '.join(sorted(missing))}; damaged")
    if version < SCHEMA_VERSION:
        if not writable:
            raise SchemaMismatch(
                f"{path}: store schema version {version} is older than {SCHEMA_VERSION}; "
                "open it once with 'memsleuth record' to upgrade it"
            )
        upgrade(conn, version, path)
    return SCHEMA_VERSION


def upgrade(conn: sqlite3.Connection, version: int, path: str) -> None:
    """Step the schema from ``version`` to :data:`SCHEMA_VERSION`, one transaction per step."""
    while version < SCHEMA_VERSION:
        step = UPGRADES.get(version)
        if step is None:
            raise SchemaMismatch(f"{path}: no upgrade from store schema version {version}")
        with transaction(conn):
            step(conn)
            conn.execute(f"PRAGMA user_version={version + 1}")
        version += 1


def _initialise(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        for ddl in SCHEMA:
            conn.execute(ddl)
        conn.execute("INSERT INTO meta(key, value) VALUES ('created_schema', ?)", (str(SCHEMA_VERSION),))
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


__all__ = ["UPGRADES", "check", "upgrade"]
