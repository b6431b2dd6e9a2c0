"""The PostgreSQL server the scale bench works on, and its databases.

127.0.0.1:5432, user ``postgres``, trust authentication, unless ``KARGO_DAGSTER_TEST_PG_HOST``,
``_PORT`` or ``_USER`` say otherwise (as for the tests). The bench creates ``kargo_bench_<hex>``
for each run and drops it at the end; ``--reuse`` keeps populated histories as templates
``kargo_bench_tpl_n<stages>_f<freight>_<version>``.
"""

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import psycopg2

__all__ = [
    "admin",
    "cancel_queries",
    "connect_args",
    "create_database",
    "dagster_yaml",
    "database_exists",
    "drop_database",
    "keep_template",
    "template_name",
]

HOST = os.environ.get("KARGO_DAGSTER_TEST_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("KARGO_DAGSTER_TEST_PG_PORT", "5432"))
USER = os.environ.get("KARGO_DAGSTER_TEST_PG_USER", "postgres")


def connect_args(database: str) -> dict[str, Any]:
    """psycopg2 connection arguments for ``database`` on the bench's server."""
    return {"host": HOST, "port": PORT, "user": USER, "dbname": database}


@contextlib.contextmanager
def admin() -> Iterator[Any]:
    """A cursor on the server's ``postgres`` database, outside any transaction."""
    connection = psycopg2.connect(**connect_args("postgres"))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


def database_exists(name: str) -> bool:
    """Whether the server has a database ``name``."""
    with admin() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cursor.fetchone() is not None


def create_database(name: str, template: str | None = None) -> None:
    """Create ``name``, empty or as a copy of ``template``."""
    with admin() as cursor:
        cursor.execute(
            f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        )


def drop_database(name: str) -> None:
    """Drop ``name`` if it exists, closing its sessions."""
    with admin() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cancel_queries(database: str) -> None:
    """Cancel whatever still runs in ``database`` (the bench's own sessions only use it)."""
    with admin() as cursor:
        cursor.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )


def dagster_yaml(database: str) -> str:
    """An instance on ``database`` with Dagster's default settings otherwise."""
    return (
        "storage:\n  postgres:\n    postgres_db:\n"
        f"      hostname: {HOST}\n      port: {PORT}\n      username: {USER}\n"
        f'      password: ""\n      db_name: {database}\n'
        "telemetry:\n  enabled: false\n"
    )


def template_name(stages: int, freight: int, version: str) -> str:
    """The name of the template holding the history of this size and generator version."""
    return f"kargo_bench_tpl_n{stages}_f{freight}_{version}"


def keep_template(database: str, template: str, stages: int, freight: int) -> None:
    """Keep the populated database as ``template``; drop templates of older generators."""
    prefix = f"kargo_bench_tpl_n{stages}_f{freight}_"
    with admin() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
            (prefix.replace("_", r"\_") + "%", template),
        )
        stale = [row[0] for row in cursor.fetchall()]
    for name in stale:
        print(f"dropping the stale template {name}", flush=True)
        drop_database(name)
    create_database(template, database)
    print(f"history kept as template {template}", flush=True)
