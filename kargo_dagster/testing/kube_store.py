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
"""

import base64
import copy
import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.testing.crd_schemas import (
    CustomResourceType,
    FieldError,
    bundled_crds,
    format_value,
)
from kargo_dagster.testing.kube_patch import (
    PatchError,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from kargo_dagster.testing.kube_selectors import SelectorError, field_selector, label_selector

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

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

_OBJECT_META = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    r"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*"
    r"[a-z0-9])?)*')"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
# Kubernetes' generateName suffix alphabet: no vowels, no look-alike digits.
_NAME_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


def status_body(
    code: int, reason: str, message: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A ``v1/Status`` failure body, with the fields in the API server's order."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = dict(details)
    body["code"] = code
    if not reason:
        del body["reason"]
    return body


class KubeAPIError(KargoDagsterError):
    """A request the fake API server refuses; ``status`` is the ``v1/Status`` body it sends.

    Attributes:
        status: The Status body (``code``, ``reason``, ``message``, ``details``).
    """

    def __init__(self, status: Mapping[str, Any]) -> None:
        super().__init__(f"{status.get('code')} {status.get('reason', '')}: {status['message']}")
        self.status = dict(status)

    @property
    def code(self) -> int:
        """The HTTP status code."""
        return int(self.status["code"])

    @property
    def reason(self) -> str:
        """The Kubernetes reason (``Conflict``, ``NotFound``, ``Invalid``...)."""
        return str(self.status.get("reason", ""))


@dataclass(frozen=True)
class ResourceType:
    """A kind the store serves, and the API server behaviours that differ between kinds.

    Attributes:
        group: The API group; ``""`` for the core group.
        version: The API version (``v1``, ``v1alpha1``).
        kind: The kind (``Secret``, ``Application``).
        plural: The resource name in URLs (``secrets``, ``applications``).
        namespaced: Whether objects live in a namespace.
        status_subresource: Whether ``status`` is written through ``/status`` only.
        tracks_generation: Whether ``metadata.generation`` counts changes.
        custom: A custom resource: ``kind`` is required in bodies, strategic merge patches
            are refused, and updates must carry ``metadata.resourceVersion``.
        crd: The CRD whose schema validates writes, for custom resources that have one.
        returns_deleted_object: Whether ``DELETE`` answers with the object (custom
            resources, Pods) rather than a ``Status``.
        initial_status: The ``status`` a new object gets when the kind has a status
            subresource (the API server ignores the one sent on create).
    """

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    status_subresource: bool = False
    tracks_generation: bool = False
    custom: bool = False
    crd: CustomResourceType | None = field(default=None, repr=False)
    returns_deleted_object: bool = False
    initial_status: Mapping[str, Any] | None = field(default=None, compare=False)

    @classmethod
    def from_crd(cls, crd: CustomResourceType) -> "ResourceType":
        """The custom resource a CRD defines, validated by its schema."""
        return cls(
            group=crd.group,
            version=crd.version,
            kind=crd.kind,
            plural=crd.plural,
            namespaced=crd.namespaced,
            status_subresource=crd.status_subresource,
            tracks_generation=True,
            custom=True,
            crd=crd,
            returns_deleted_object=True,
        )

    @property
    def api_version(self) -> str:
        """``apiVersion`` of its objects (``v1``, ``argoproj.io/v1alpha1``)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """The kind of its lists."""
        return self.crd.list_kind if self.crd else f"{self.kind}List"

    @property
    def qualified_resource(self) -> str:
        """``applications.argoproj.io`` or ``secrets``, as messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``Application.argoproj.io`` or ``Secret``, as ``Invalid`` messages name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def details(self, name: str, *, by_kind: bool = False) -> dict[str, Any]:
        """``Status.details`` for one object of this kind."""
        details: dict[str, Any] = {"name": name}
        if self.group:
            details["group"] = self.group
        details["kind"] = self.kind if by_kind else self.plural
        return details


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "ConfigMap", "configmaps"),
    ResourceType("", "v1", "Event", "events"),
    ResourceType(
        "",
        "v1",
        "Pod",
        "pods",
        status_subresource=True,
        returns_deleted_object=True,
        initial_status={"phase": "Pending"},
    ),
    ResourceType("", "v1", "Secret", "secrets"),
    ResourceType(
        "batch",
        "v1",
        "Job",
        "jobs",
        status_subresource=True,
        tracks_generation=True,
        initial_status={},
    ),
)


def not_found(rtype: ResourceType, name: str) -> KubeAPIError:
    """``404 NotFound`` for an object."""
    return KubeAPIError(
        status_body(
            404, "NotFound", f'{rtype.qualified_resource} "{name}" not found', rtype.details(name)
        )
    )


def conflict(rtype: ResourceType, name: str, why: str | None = None) -> KubeAPIError:
    """``409 Conflict`` for a stale write."""
    why = why or (
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return KubeAPIError(
        status_body(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {rtype.qualified_resource} "{name}": {why}',
            rtype.details(name),
        )
    )


def already_exists(rtype: ResourceType, name: str) -> KubeAPIError:
    """``409 AlreadyExists`` for a create."""
    return KubeAPIError(
        status_body(
            409,
            "AlreadyExists",
            f'{rtype.qualified_resource} "{name}" already exists',
            rtype.details(name),
        )
    )


def invalid(rtype: ResourceType, name: str, errors: Iterable[FieldError]) -> KubeAPIError:
    """``422 Invalid`` listing every invalid field."""
    errors = list(errors)
    summary = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
    details = rtype.details(name, by_kind=True)
    details["causes"] = [
        {"reason": e.reason, "message": e.message, "field": e.field} for e in errors
    ]
    return KubeAPIError(
        status_body(
            422, "Invalid", f'{rtype.qualified_kind} "{name}" is invalid: {summary}', details
        )
    )


def bad_request(message: str) -> KubeAPIError:
    """``400 BadRequest``."""
    return KubeAPIError(status_body(400, "BadRequest", message))


def _now() -> datetime:
    return datetime.now(UTC)


def timestamp(when: datetime) -> str:
    """A Kubernetes timestamp (RFC 3339, whole seconds, UTC)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _content(obj: Mapping[str, Any], *, without_status: bool) -> dict[str, Any]:
    skip = {"metadata", "status"} if without_status else {"metadata"}
    return {key: value for key, value in obj.items() if key not in skip}


class KubeStore:
    """In-memory Kubernetes objects with the API server's write semantics.

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
        self.clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._types: dict[tuple[str, str], ResourceType] = {}
        # (group, plural, namespace, name) -> object; namespace "" for cluster-scoped kinds.
        self._objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._revision = 0
        self.warnings: list[str] = []
        for rtype in BUILTIN_TYPES:
            self.register(rtype)
        for crd in bundled_crds() if crds is None else crds:
            self.register(ResourceType.from_crd(crd))

    # Kinds ---------------------------------------------------------------------------------

    def register(self, rtype: ResourceType) -> ResourceType:
        """Serve ``rtype`` (replacing a registered kind with the same group and plural)."""
        with self._lock:
            self._types[(rtype.group, rtype.plural)] = rtype
        return rtype

    def register_crd(self, manifest: Mapping[str, Any], version: str | None = None) -> ResourceType:
        """Serve the custom resource a CRD manifest defines, validated by its schema."""
        return self.register(
            ResourceType.from_crd(CustomResourceType.from_manifest(manifest, version))
        )

    def resource_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The kind served at ``group/version/plural``, or None."""
        with self._lock:
            rtype = self._types.get((group, plural))
        return rtype if rtype is not None and rtype.version == version else None

    def type_of(self, api_version: str, kind: str) -> ResourceType | None:
        """The registered kind for an object's ``apiVersion`` and ``kind``, or None."""
        group, _, version = api_version.rpartition("/")
        with self._lock:
            return next(
                (
                    t
                    for t in self._types.values()
                    if (t.group, t.version, t.kind) == (group, version, kind)
                ),
                None,
            )

    def types(self) -> list[ResourceType]:
        """Every kind served."""
        with self._lock:
            return sorted(self._types.values(), key=lambda t: (t.group, t.plural))

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
        obj = self._decode(rtype, namespace, obj)
        meta = obj["metadata"]
        if meta.get("resourceVersion"):
            raise KubeAPIError(
                status_body(500, "", "resourceVersion should not be set on objects to be created")
            )
        with self._lock:
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = self._generated_name(rtype, namespace, str(meta["generateName"]))
            name = str(meta.get("name") or "")
            found = self._admit(rtype, obj, name)
            if self._key(rtype, namespace, name) in self._objects:
                raise already_exists(rtype, name)
            for key in (*_SYSTEM_META, "generation"):
                meta.pop(key, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = timestamp(self.clock())
            if rtype.tracks_generation:
                meta["generation"] = 1
            if rtype.status_subresource:
                obj.pop("status", None)
                if rtype.initial_status is not None:
                    obj["status"] = copy.deepcopy(dict(rtype.initial_status))
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
        decoded = self._decode(rtype, namespace, obj)
        meta = decoded["metadata"]
        name = str(meta.get("name") or "")
        with self._lock:
            self._admit(rtype, decoded, name)
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
        obj = self._decode(rtype, namespace, obj)
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
        media = content_type.split(";")[0].strip().lower()
        refused = media == STRATEGIC_MERGE_PATCH and rtype.custom
        if refused or media not in (MERGE_PATCH, JSON_PATCH, STRATEGIC_MERGE_PATCH):
            accepted = [JSON_PATCH, MERGE_PATCH, "application/apply-patch+yaml"]
            if not rtype.custom:
                accepted.insert(2, STRATEGIC_MERGE_PATCH)
            raise KubeAPIError(
                status_body(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    f"include: {', '.join(accepted)}",
                )
            )
        with self._lock:
            old = self.get(rtype, namespace, name)
            try:
                if media == JSON_PATCH:
                    patched = json_patch(old, patch)
                elif media == MERGE_PATCH:
                    if not isinstance(patch, Mapping):
                        raise PatchError("a merge patch must be a JSON object")
                    patched = merge_patch(old, patch)
                else:
                    if not isinstance(patch, Mapping):
                        raise PatchError("a strategic merge patch must be a JSON object")
                    patched = strategic_merge_patch(old, patch)
            except PatchError as error:
                raise bad_request(str(error)) from None
            if not isinstance(patched, dict):
                raise bad_request("the patched object is not a JSON object")
            patched.setdefault("metadata", {})
            if not isinstance(patched["metadata"], dict):
                raise bad_request("metadata must be a JSON object")
            patched["metadata"].setdefault("name", name)
            obj = self._decode(rtype, namespace, patched)
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

    def _decode(self, rtype: ResourceType, namespace: str | None, obj: Any) -> dict[str, Any]:
        """Check the envelope (kind, apiVersion, namespace) and tidy metadata."""
        if not isinstance(obj, Mapping):
            raise bad_request("the request body must be a JSON object")
        obj = copy.deepcopy(dict(obj))
        if rtype.custom and not obj.get("kind"):
            raise bad_request(f"Object 'Kind' is missing in '{json.dumps(obj, sort_keys=True)}'")
        obj.setdefault("kind", rtype.kind)
        obj.setdefault("apiVersion", rtype.api_version)
        if obj["apiVersion"] != rtype.api_version:
            raise bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match the "
                f"expected API version ({rtype.api_version})"
            )
        if obj["kind"] != rtype.kind:
            raise bad_request(
                f"the kind in the data ({obj['kind']}) does not match the expected kind "
                f"({rtype.kind})"
            )
        meta = obj.get("metadata") or {}
        if not isinstance(meta, Mapping):
            raise bad_request("metadata must be a JSON object")
        # Unknown metadata fields and nulls are dropped, as decoding into ObjectMeta does.
        meta = {k: v for k, v in meta.items() if k in _OBJECT_META and v is not None}
        for key in ("labels", "annotations"):
            values = meta.get(key, {})
            if not isinstance(values, Mapping) or not all(
                isinstance(v, str) for v in values.values()
            ):
                raise bad_request(f"metadata.{key} must map strings to strings")
        if rtype.namespaced:
            given = meta.get("namespace")
            if given and namespace and given != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            if not (given or namespace):
                raise bad_request("an empty namespace may not be set during creation")
            meta["namespace"] = given or namespace
        else:
            meta.pop("namespace", None)
        obj["metadata"] = meta
        if rtype.kind == "Secret" and rtype.group == "" and "stringData" in obj:
            # The API server folds stringData into data and never stores it.
            data = dict(obj.get("data") or {})
            for key, value in (obj.pop("stringData") or {}).items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data
        return obj

    def _admit(self, rtype: ResourceType, obj: dict[str, Any], name: str) -> list[str]:
        """Prune, default and validate ``obj`` in place; the warnings to send back."""
        errors: list[FieldError] = []
        meta = obj["metadata"]
        if not name:
            errors.append(
                FieldError(
                    "metadata.name",
                    "FieldValueRequired",
                    "Required value: name or generateName is required",
                )
            )
        elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            errors.append(
                FieldError(
                    "metadata.name",
                    "FieldValueInvalid",
                    f"Invalid value: {format_value(name)}: {_DNS_SUBDOMAIN_MESSAGE}",
                )
            )
        errors += [
            FieldError(
                "metadata.labels",
                "FieldValueInvalid",
                f"Invalid value: {format_value(value)}: {_LABEL_VALUE_MESSAGE}",
            )
            for value in sorted((meta.get("labels") or {}).values())
            if len(value) > 63 or not _LABEL_VALUE.match(value)
        ]
        warnings: list[str] = []
        if rtype.crd is not None:
            warnings = [f'unknown field "{path}"' for path in rtype.crd.prune(obj)]
            errors += rtype.crd.validate(obj)
        if errors:
            raise invalid(rtype, name, errors)
        return warnings

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
        if subresource == "status":
            # Only status changes through /status; the rest is the stored object.
            status = obj.get("status")
            obj = copy.deepcopy(old)
            if status is None:
                obj.pop("status", None)
            else:
                obj["status"] = status
        elif rtype.status_subresource:
            if "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            else:
                obj.pop("status", None)
        meta = obj["metadata"]
        for key in _SYSTEM_META:
            if key in old["metadata"]:
                meta[key] = old["metadata"][key]
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        self._warn(self._admit(rtype, obj, name), warnings)
        if rtype.tracks_generation:
            generation = int(old["metadata"].get("generation", 1))
            without_status = rtype.status_subresource
            if _content(obj, without_status=without_status) != _content(
                old, without_status=without_status
            ):
                generation += 1
            meta["generation"] = generation
        else:
            meta.pop("generation", None)
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
