"""Registries for the OCI client tests: a real docker-registry, and a scripted server."""

from collections.abc import Iterator

import pytest

from kargo_dagster.testing.registry import LocalRegistry
from kargo_dagster.testing.scripted_registry import ScriptedRegistry


@pytest.fixture(scope="session")
def registry() -> Iterator[LocalRegistry]:
    """One docker-registry for the session; tests use their own repository names."""
    with LocalRegistry() as server:
        yield server


@pytest.fixture
def scripted() -> Iterator[ScriptedRegistry]:
    """A server that answers what the test scripts."""
    with ScriptedRegistry() as server:
        yield server
