"""Print every row of every table of a kiosk database as JSON (SQLite file or PostgreSQL URL).

Run as a script by the end-to-end tests, as the account that owns the database, so a dump never
leaves files behind that the kiosk's own account could not open. Comparing two dumps shows
whether anything at all changed (progress rows aside: see WALK_TABLES).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from typing import Any

# Progress rows record what the kiosk saw a person reach (for the onboarding board): the walk, not
# the account. Walking away must leave the account as it was; the walk itself is recorded.
WALK_TABLES = {"progress_event"}


def _rows(cursor: Any, tables: list[str], quote: str) -> dict[str, list[list[str]]]:
    dump: dict[str, list[list[str]]] = {}
    for table in sorted(set(tables) - WALK_TABLES):
        cursor.execute(f"SELECT * FROM {quote}{table}{quote}")  # noqa: S608 - names from the catalog
        dump[table] = sorted([[repr(value) for value in row] for row in cursor.fetchall()])
    return dump


def dump(url: str) -> dict[str, list[list[str]]]:
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///") :])
        try:
            cur = conn.cursor()
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return _rows(cur, [r[0] for r in cur.fetchall()], '"')
        finally:
            conn.close()
    import psycopg2

    pg = psycopg2.connect(url)
    try:
        with pg.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
            return _rows(cur, [r[0] for r in cur.fetchall()], '"')
    finally:
        pg.close()


if __name__ == "__main__":
    json.dump(dump(sys.argv[1]), sys.stdout)
