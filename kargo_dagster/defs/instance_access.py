"""Opening the Dagster instance the command line works on, with errors a person can act on."""

import os

import dagster as dg
from dagster_postgres.utils import DagsterPostgresException
from sqlalchemy.exc import DBAPIError

from kargo_dagster.errors import InstanceError, KargoDagsterError
from kargo_dagster.redaction import redact_text

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
        cause = error.__cause__ or error
        reason = str(getattr(cause, "orig", None) or cause).strip().splitlines()
        raise InstanceError(
            redact_text(
                f"cannot open the Dagster instance in {home} (its dagster.yaml storage): "
                f"{reason[0] if reason else type(error).__name__}. Check that its database "
                "is running and reachable"
            )
        ) from None
