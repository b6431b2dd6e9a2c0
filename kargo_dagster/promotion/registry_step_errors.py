"""How the OCI steps (``oci-push``, ``oci-download``) report registry failures to the engine.

A registry that refused or failed (:class:`~kargo_dagster.errors.RepositoryError`) may do
better later, so the step is retried, after the delay the registry asked for if any; an
artifact that cannot be handled as asked (:class:`~kargo_dagster.errors.ArtifactError`)
never will, so the step fails.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from kargo_dagster.errors import (
    ArtifactError,
    RepositoryError,
    RetryableStepError,
    TerminalStepError,
)

__all__ = ["registry_step_errors"]


@contextmanager
def registry_step_errors(what: str) -> Iterator[None]:
    """Turn registry and artifact errors inside the block into step errors saying ``what``
    failed (``failed to download ghcr.io/acme/app:v1``)."""
    try:
        yield
    except RepositoryError as error:
        raise RetryableStepError(
            f"{what}: {error}", retry_after=error.retry_after or 0.0
        ) from error
    except ArtifactError as error:
        raise TerminalStepError(f"{what}: {error}") from error
