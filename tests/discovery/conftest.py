"""A real docker-registry holding the repositories the image discovery tests read."""

from collections.abc import Iterator

import pytest

from kargo_dagster.testing.registry import LocalRegistry


@pytest.fixture(scope="session")
def image_registry() -> Iterator[LocalRegistry]:
    """One docker-registry for the session; each test module pushes its own repositories."""
    with LocalRegistry() as server:
        yield server
