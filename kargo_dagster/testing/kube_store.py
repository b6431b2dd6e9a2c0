"""The object store behind the fake Kubernetes API server, with the API server's semantics.

:class:`KubeStore` keeps objects in memory and applies what a Kubernetes API server does on
each verb, so code written against a cluster sees the same answers:

* ``metadata.resourceVersion`` is one counter over the whole store, moved by every write
  that changes something (a write that changes nothing keeps the object as it was);
  ``uid`` and ``creationTimestamp`` are set on create;
* a write (update or patch) whose object carries a ``metadata.resourceVersion`` other than
  the stored one is refused with ``409 Conflict``; an update of a custom resource must carry
  one (``422``), as the API server requires for custom resources;
* ``metadata.generation`` starts at 1 and moves on every change outside ``metadata``
  (and outside ``status`` when the kind has a status subresource) for custom resources
  and Jobs;
* with a status subresource, writes to the object keep the stored ``status`` and writes to
  ``/status`` change nothing else; without one (Argo CD's Application, Argo Rollouts'
  AnalysisRun), ``status`` is an ordinary field;
* custom resources are pruned, defaulted and validated against their CRD schema
  (:mod:`kargo_dagster.testing.crd_schemas`); invalid writes get ``422 Invalid`` naming
  each field;
* deleting an object with finalizers only sets ``deletionTimestamp``; it goes once an
  update removes the last finalizer;
* failures are :class:`KubeAPIError` carrying the ``Status`` body the API server sends.

Code in the same process (simulators, test set-up) calls the store directly; the HTTP
front is :class:`kargo_dagster.testing.kube_api.FakeKubeAPI`. All methods are thread-safe.

This module keeps the objects and applies the write semantics. The parts live beside it:
the kinds in :mod:`~kargo_dagster.testing.kube_resource_types`, decoding and validating
request bodies in :mod:`~kargo_dagster.testing.kube_admission`, ``PATCH`` formats in
:mod:`~kargo_dagster.testing.kube_patch`, the fields the server owns in
:mod:`~kargo_dagster.testing.kube_server_fields`, and the failures in
:mod:`~kargo_dagster.testing.kube_errors`. The kinds, patch formats and failures are
importable from here as well (``__all__``).
"""

import copy
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from kargo_dagster.testing.crd_schemas import CustomResourceType, FieldError, bundled_crds
from kargo_dagster.testing.kube_admission import admit, decode_object
from kargo_dagster.testing.kube_errors import (
    KubeAPIError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
    status_body,
)
from kargo_dagster.testing.kube_patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_patch,
    patch_format,
)
from kargo_dagster.testing.kube_resource_types import BUILTIN_TYPES, KindRegistry, ResourceType
from kargo_dagster.testing.kube_selectors import SelectorError, field_selector, label_selector
from kargo_dagster.testing.kube_server_fields import (
    advance_generation,
    carry_over,
    initialize_created,
)

__all__ = [
    "BUILTIN_TYPES",
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "KubeAPIError",
    "KubeStore",
    "ResourceType",
    "already_exists",
    "bad_request",
    "conflict",
    "invalid",
    "not_found",
    "status_body",
    "timestamp",
]

# Kubernetes' generateName suffix alphabet: no vowels, no look-alike digits.
_NAME_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


def _now() -> datetime:
    return datetime.now(UTC)


def timestamp(when: datetime) -> str:
    """A Kubernetes timestamp (RFC 3339, whole seconds, UTC)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubeStore(KindRegistry):
    """In-memory Kubernetes objects with the API server's write semantics.

    The kinds it serves are registered through the :class:`KindRegistry` methods.

    Args:
        clock: Returns the current time, for ``creationTimestamp`` and ``deletionTimestamp``.
        crds: The CRDs to serve; by default the bundled Argo CD and Argo Rollouts ones.

    Attributes:
        clock: As given; simulators use it for the timestamps they write.
        warnings: Every warning sent back (``unknown field "spec.foo"``), oldest first.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = _now,
        crds: Iterable[CustomResourceType] | None = None,
    ) -> None:
        super().__init__()
        self.clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        # (group, plural, namespace, name) -> object; namespace "" for cluster-scoped kinds.
        self._objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._revision = 0
        self.warnings: list[str] = []
        for rtype in BUILTIN_TYPES:
            self.register(rtype)
        for crd in bundled_crds() if crds is None else crds:
            self.register(ResourceType.from_crd(crd))

    # Change notification -------------------------------------------------------------------

    @property
    def revision(self) -> int:
        """The store's current resourceVersion."""
        with self._lock:
            return self._revision

    def wait_for_change(self, after: int, timeout: float) -> int:
        """Block until the revision passes ``after`` or ``timeout`` seconds pass."""
        with self._changed:
            self._changed.wait_for(lambda: self._revision > after, timeout=timeout)
            return self._revision

    # Reads ---------------------------------------------------------------------------------

    def _key(
        self, rtype: ResourceType, namespace: str | None, name: str
    ) -> tuple[str, str, str, str]:
        return (rtype.group, rtype.plural, (namespace or "") if rtype.namespaced else "", name)

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        """The stored object (a copy).

        Raises:
            KubeAPIError: 404 when there is no such object.
        """
        with self._lock:
            found = self._objects.get(self._key(rtype, namespace, name))
            if found is None:
                raise not_found(rtype, name)
            return copy.deepcopy(found)

    def find(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object (a copy), or None."""
        with self._lock:
            found = self._objects.get(self._key(rtype, namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def list_objects(
        self,
        rtype: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> list[dict[str, Any]]:
        """Objects of ``rtype`` (in ``namespace``, or everywhere), sorted by namespace and name.

        Raises:
            KubeAPIError: 400 for a selector that does not parse.
        """
        try:
            by_labels = _label_predicate(label_selector)
            by_fields = _field_predicate(field_selector)
        except SelectorError as error:
            raise bad_request(str(error)) from None
        with self._lock:
            return [
                copy.deepcopy(obj)
                for (group, plural, ns, _), obj in sorted(self._objects.items())
                if (group, plural) == (rtype.group, rtype.plural)
                and (namespace is None or not rtype.namespaced or ns == namespace)
                and by_labels(obj)
                and by_fields(obj)
            ]

    # Writes --------------------------------------------------------------------------------

    def create(
        self,
        rtype: ResourceType,
        namespace: str | None,
        obj: Any,
        *,
        dry_run: bool = False,
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        """Create an object, as ``POST`` on the collection does.

        Unknown fields the schema pruned are reported in ``warnings`` when given.

        Raises:
            KubeAPIError: 409 AlreadyExists, 422 Invalid, 400 for a malformed body, 500
                when ``metadata.resourceVersion`` is set.
        """
        obj = decode_object(rtype, namespace, obj)
        meta = obj["metadata"]
        if meta.get("resourceVersion"):
            raise KubeAPIError(
                status_body(500, "", "resourceVersion should not be set on objects to be created")
            )
        with self._lock:
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = self._generated_name(rtype, namespace, str(meta["generateName"]))
            name = str(meta.get("name") or "")
            found = admit(rtype, obj, name)
            if self._key(rtype, namespace, name) in self._objects:
                raise already_exists(rtype, name)
            initialize_created(rtype, obj, timestamp(self.clock()))
            self._warn(found, warnings)
            if dry_run:
                return obj
            self._store(rtype, namespace, name, obj)
            return copy.deepcopy(obj)

    def seed(self, obj: Mapping[str, Any], rtype: ResourceType) -> dict[str, Any]:
        """Store ``obj`` as given, replacing any object of that name: for test set-up.

        Unlike :meth:`create`, the object keeps its ``status``, ``uid``,
        ``creationTimestamp`` and ``generation`` (filled in when absent); it gets a new
        ``resourceVersion``. It is still checked against the kind's schema.

        Raises:
            KubeAPIError: 422 when the object does not fit the schema.
        """
        namespace = (obj.get("metadata") or {}).get("namespace")
        decoded = decode_object(rtype, namespace, obj)
        meta = decoded["metadata"]
        name = str(meta.get("name") or "")
        with self._lock:
            admit(rtype, decoded, name)
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", timestamp(self.clock()))
            if rtype.tracks_generation:
                meta.setdefault("generation", 1)
            self._store(rtype, namespace, name, decoded)
            return copy.deepcopy(decoded)

    def replace(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        obj: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        """Replace an object, as ``PUT`` does (on the object or its ``/status``).

        Unknown fields the schema pruned are reported in ``warnings`` when given.

        Raises:
            KubeAPIError: 404, 409 Conflict on a stale ``resourceVersion``, 422 Invalid, 400.
        """
        obj = decode_object(rtype, namespace, obj)
        given = str(obj["metadata"].get("name") or "")
        if given != name:
            raise bad_request(
                f"the name of the object ({given}) does not match the name on the URL ({name})"
            )
        with self._lock:
            old = self.get(rtype, namespace, name)
            version = obj["metadata"].get("resourceVersion")
            if not version and rtype.custom:
                raise invalid(
                    rtype,
                    name,
                    [
                        FieldError(
                            "metadata.resourceVersion",
                            "FieldValueInvalid",
                            "Invalid value: 0x0: must be specified for an update",
                        )
                    ],
                )
            return self._update(rtype, namespace, old, obj, subresource, dry_run, warnings)

    def patch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        patch: Any,
        content_type: str,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        """Patch an object, as ``PATCH`` does, in one of the three patch formats.

        Unknown fields the schema pruned are reported in ``warnings`` when given.

        Raises:
            KubeAPIError: 404, 409 Conflict when the patched object carries a stale
                ``resourceVersion``, 415 for a format the kind does not take, 422, 400.
        """
        media = patch_format(rtype, content_type)
        with self._lock:
            old = self.get(rtype, namespace, name)
            patched = apply_patch(old, patch, media, name)
            obj = decode_object(rtype, namespace, patched)
            if obj["metadata"].get("name") != name:
                raise bad_request("metadata.name cannot be changed by a patch")
            return self._update(rtype, namespace, old, obj, subresource, dry_run, warnings)

    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        *,
        preconditions: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Delete an object, as ``DELETE`` does.

        Returns:
            The object as deleted (or with ``deletionTimestamp`` set), and whether it is
            gone (False while finalizers hold it).

        Raises:
            KubeAPIError: 404, or 409 when a precondition (``uid``, ``resourceVersion``)
                does not hold.
        """
        with self._lock:
            old = self.get(rtype, namespace, name)
            meta = old["metadata"]
            for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                wanted = (preconditions or {}).get(key)
                if wanted and wanted != meta.get(key):
                    raise conflict(
                        rtype,
                        name,
                        f"Precondition failed: {label} in precondition: {wanted}, "
                        f"{label} in object meta: {meta.get(key)}",
                    )
            if dry_run:
                return old, not meta.get("finalizers")
            if meta.get("finalizers"):
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = timestamp(self.clock())
                    meta["deletionGracePeriodSeconds"] = 0
                    self._store(rtype, namespace, name, old)
                return copy.deepcopy(old), False
            del self._objects[self._key(rtype, namespace, name)]
            self._bump()
            return old, True

    # Internals -----------------------------------------------------------------------------

    def _warn(self, found: list[str], warnings: list[str] | None) -> None:
        self.warnings.extend(found)
        if warnings is not None:
            warnings.extend(found)

    def _bump(self) -> int:
        self._revision += 1
        self._changed.notify_all()
        return self._revision

    def _store(
        self, rtype: ResourceType, namespace: str | None, name: str, obj: dict[str, Any]
    ) -> None:
        obj["metadata"]["resourceVersion"] = str(self._bump())
        self._objects[self._key(rtype, namespace, name)] = copy.deepcopy(obj)

    def _generated_name(self, rtype: ResourceType, namespace: str | None, prefix: str) -> str:
        while True:
            name = prefix + "".join(secrets.choice(_NAME_SUFFIX) for _ in range(5))
            if self._key(rtype, namespace, name) not in self._objects:
                return name

    def _update(
        self,
        rtype: ResourceType,
        namespace: str | None,
        old: dict[str, Any],
        obj: dict[str, Any],
        subresource: str | None,
        dry_run: bool,
        warnings: list[str] | None,
    ) -> dict[str, Any]:
        name = old["metadata"]["name"]
        version = obj["metadata"].get("resourceVersion")
        if version and version != old["metadata"]["resourceVersion"]:
            raise conflict(rtype, name)
        obj = carry_over(rtype, old, obj, subresource)
        self._warn(admit(rtype, obj, name), warnings)
        advance_generation(rtype, old, obj)
        meta = obj["metadata"]
        if obj == old:
            return old  # nothing changed: no write, same resourceVersion
        if dry_run:
            return obj
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            del self._objects[self._key(rtype, namespace, name)]
            meta["resourceVersion"] = str(self._bump())
            return obj
        self._store(rtype, namespace, name, obj)
        return copy.deepcopy(obj)


def _label_predicate(selector: str) -> Callable[[Mapping[str, Any]], bool]:
    return label_selector(selector) if selector else lambda _: True


def _field_predicate(selector: str) -> Callable[[Mapping[str, Any]], bool]:
    return field_selector(selector) if selector else lambda _: True
