"""Opening the Dagster instance the command line works on, with errors a person can act on."""

import os

import dagster as dg
from dagster_postgres.utils import DagsterPostgresException
from sqlalchemy.exc import DBAPIError

from kargo_dagster.defs.dagster_internals import unreachable
from kargo_dagster.errors import InstanceError, KargoDagsterError

__all__ = ["open_instance"]


def open_instance() -> dg.DagsterInstance:
    """The instance ``DAGSTER_HOME`` names (use it as a context manager).

    Raises:
        KargoDagsterError: ``DAGSTER_HOME`` is not set.
        InstanceError: Its storage cannot be reached; the message names the instance and
            the reason, never a password.
    """
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise KargoDagsterError(
            "DAGSTER_HOME is not set: point it at the directory of your Dagster instance "
            "(the one holding dagster.yaml)"
        )
    try:
        return dg.DagsterInstance.get()
    except (DagsterPostgresException, DBAPIError) as error:
        # Dagster's PostgreSQL storage retries connecting, then raises its own error.
        raise InstanceError(unreachable(f"in {home}", error.__cause__ or error)) from None
