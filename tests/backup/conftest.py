"""A catalogue with Debian's own schema (make_sqlite3_tables), made once per session and copied per test: the
rows the director writes are added by the test."""
import shutil
import sqlite3

import pytest

from dcops.backup.lab import available, create_catalogue


@pytest.fixture(scope="session")
def bacula_schema(tmp_path_factory):
    if not available():
        pytest.skip("needs Debian's Bacula catalogue schema")
    db = tmp_path_factory.mktemp("bacula-schema") / "bacula.db"
    create_catalogue(db)  # ~1 s
    return db


@pytest.fixture
def empty_catalogue(bacula_schema, tmp_path):
    """A function: folder -> (path, open connection) of a fresh catalogue in that folder."""
    def make(folder=tmp_path):
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "bacula.db"
        shutil.copy(bacula_schema, db)
        con = sqlite3.connect(db)
        con.row_factory = sqlite3.Row
        return db, con
    return make
