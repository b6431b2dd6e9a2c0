"""Kargo's data functions: ``configMap()``, ``secret()``, ``sharedConfigMap()``, ``sharedSecret()``.

Each takes the object's name and gives its data as a map of strings (``secret('creds').token``),
or an empty map when it is not found, as in Kargo. ``configMap``/``secret`` read the Project's
namespace, the shared forms the shared resources namespace; ``sharedSecret()`` reads only
Secrets labelled ``kargo.akuity.io/cred-type: generic`` and gives an empty map for others.

One :class:`ResourceLookups` serves one promotion (or one verification): an object is read
when an expression first calls for it, and at most once; later calls get a copy of the same
data. Every value read through ``secret()`` or ``sharedSecret()`` is remembered
(:meth:`ResourceLookups.secret_values`) so that what the promotion shows can be masked.
"""

from collections.abc import Callable, Mapping
from typing import Any

from kargo_dagster.clients.resource_data import (
    CRED_TYPE_LABEL,
    GENERIC_CRED_TYPE,
    ResourceData,
    ResourceKind,
    ResourceRef,
)
from kargo_dagster.errors import ExpressionError, ResourceDataError
from kargo_dagster.expressions.gotype import go_type

__all__ = ["DATA_FUNCTIONS", "MIN_MASKED_LENGTH", "ResourceLookups"]

DATA_FUNCTIONS = ("configMap", "secret", "sharedConfigMap", "sharedSecret")
"""The functions' names; each takes exactly one argument."""

MIN_MASKED_LENGTH = 4
"""Secret values shorter than this are not masked: masking every ``1`` or ``true`` in what a
promotion shows would hide more than it protects, and such values guard nothing."""


class ResourceLookups:
    """The data functions of one promotion, reading ``source`` lazily and once per object.

    Args:
        source: Where objects are read; None: nothing is configured, every object is absent.
        project: The Project whose namespace ``configMap()`` and ``secret()`` read.

    Examples:
        >>> from kargo_dagster.clients.resource_data import StaticResourceData
        >>> source = StaticResourceData(secrets={"shop/creds": {"token": "s3cr3t-token"}})
        >>> lookups = ResourceLookups(source, "shop")
        >>> lookups.functions()["secret"]("creds")
        {'token': 's3cr3t-token'}
        >>> lookups.secret_values()
        ['s3cr3t-token']
    """

    def __init__(self, source: ResourceData | None, project: str) -> None:
        self._source = source
        self._project = project
        self._cache: dict[ResourceRef, dict[str, str]] = {}
        self._secrets: dict[str, None] = {}

    def functions(self) -> dict[str, Callable[..., Any]]:
        """The four functions, by the names expressions call them."""
        return {
            "configMap": lambda *args: self._read("configMap", "ConfigMap", self._project, args),
            "secret": lambda *args: self._read("secret", "Secret", self._project, args),
            "sharedConfigMap": lambda *args: self._read("sharedConfigMap", "ConfigMap", None, args),
            "sharedSecret": lambda *args: self._read("sharedSecret", "Secret", None, args),
        }

    def secret_values(self) -> list[str]:
        """Every Secret value read so far that is long enough to mask, in the order read."""
        return list(self._secrets)

    def _read(
        self, function: str, kind: ResourceKind, project: str | None, args: tuple[Any, ...]
    ) -> dict[str, str]:
        if len(args) != 1:
            raise ExpressionError(f"{function}: expected 1 argument, got {len(args)}")
        name = args[0]
        if not isinstance(name, str):
            raise ExpressionError(f"{function}: argument must be string, got {go_type(name)}")
        if not name:
            # The API server refuses a read without a name, so Kargo's call fails.
            raise ExpressionError(f"{function}: name must not be empty")
        ref = ResourceRef(kind, project, name)
        if ref not in self._cache:
            self._cache[ref] = self._fetch(function, ref)
        return dict(self._cache[ref])

    def _fetch(self, function: str, ref: ResourceRef) -> dict[str, str]:
        if self._source is None:
            return {}
        try:
            found = self._source.read(ref)
        except ResourceDataError as error:
            raise ExpressionError(f"{function}: {error}") from None
        if found is None:
            return {}
        if ref.kind == "Secret" and ref.project is None and not _generic(found.labels):
            # Kargo shares only generic credentials; other shared Secrets read as absent.
            return {}
        data = dict(found.data)
        if ref.kind == "Secret":
            self._secrets.update(
                dict.fromkeys(v for v in data.values() if len(v) >= MIN_MASKED_LENGTH)
            )
        return data


def _generic(labels: Mapping[str, str]) -> bool:
    return labels.get(CRED_TYPE_LABEL) == GENERIC_CRED_TYPE
