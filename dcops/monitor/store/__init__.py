"""History and state of the monitor in SQLite (WAL): db.py the Store (one writer, read-only readers),
schema.py tables, rollups, migrations."""
from .db import Point, Store
from .schema import MIGRATIONS, SCHEMA

__all__ = ["MIGRATIONS", "SCHEMA", "Point", "Store"]
