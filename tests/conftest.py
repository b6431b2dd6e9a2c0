"""Shared fixtures: real Dagster instances on SQLite and on PostgreSQL."""

import fcntl
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# CI runs PostgreSQL on 127.0.0.1:5432 with trust authentication; the variables let a
# developer point the tests elsewhere.
PG_HOST = os.environ.get("KARGO_DAGSTER_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("KARGO_DAGSTER_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("KARGO_DAGSTER_TEST_PG_USER", "postgres")


def _admin_connection():
    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    connection.autocommit = True
    return connection


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"kargo_dagster_test_{uuid.uuid4().hex[:12]}"
    connection = _admin_connection()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()


# The PostgreSQL database behind each instance the fixture made, for stored_bytes().
_DATABASES: dict[int, str] = {}


def stored_bytes(instance: dg.DagsterInstance) -> bytes:
    """Everything the instance stored: its files, and for PostgreSQL every table's rows."""
    chunks = [
        path.read_bytes() for path in Path(instance.root_directory).rglob("*") if path.is_file()
    ]
    database = _DATABASES.get(id(instance))
    if database:
        connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database)
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
            for (table,) in cursor.fetchall():
                cursor.execute(f'SELECT t::text FROM "{table}" AS t')
                chunks.extend(row[0].encode() for row in cursor.fetchall())
        connection.close()
    return b"\n".join(chunks)


def postgres_storage(database: str) -> dict:
    """The ``dagster.yaml`` storage section for one of the test server's databases."""
    return {
        "storage": {
            "postgres": {
                "postgres_db": {
                    "hostname": PG_HOST,
                    "port": PG_PORT,
                    "username": PG_USER,
                    "password": "",
                    "db_name": database,
                }
            }
        }
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A real, persistent Dagster instance on each storage backend we support.

    Its ``dagster.yaml`` is written out too, so that the command line, which reads the
    instance from ``DAGSTER_HOME``, sees the same storage.
    """
    overrides: dict = {}
    database = ""
    if request.param == "postgres":
        database = request.getfixturevalue("postgres_database")
        overrides = postgres_storage(database)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(json.dumps(overrides))
    with dg.instance_for_test(overrides=overrides, temp_dir=str(home)) as instance:
        if database:
            _DATABASES[id(instance)] = database
        try:
            yield instance
        finally:
            _DATABASES.pop(id(instance), None)


@pytest.fixture
def demo_ports() -> Iterator[None]:
    """The demo's fixed ports (registry, git, Argo CD, guestbook), for one test at a time.

    The suite runs in several processes; a file lock keeps two tests that start the demo's
    services from running at once.
    """
    with open(Path(tempfile.gettempdir()) / "kargo-dagster-demo-ports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
