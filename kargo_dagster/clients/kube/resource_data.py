"""ConfigMaps and Secrets read through the Kubernetes API, as Kargo's expression functions
read them: one ``GET`` per object, from the Project's namespace (Kargo names a Project's
namespace after it) or from the shared resources namespace.

Each call has a read timeout and a total deadline
(:mod:`kargo_dagster.clients.kube.deadlines`). A missing object is not an error: it is
absent (None), and the expression sees an empty map, as in Kargo.
"""

import base64
import binascii
from typing import Any, cast

import kubernetes

from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE, RequestDeadlineExceeded
from kargo_dagster.clients.kube.deadlines import call_within
from kargo_dagster.clients.kube.errors import connection_cause
from kargo_dagster.clients.resource_data import (
    SHARED_RESOURCES_NAMESPACE,
    ResourceRef,
    StoredObject,
)
from kargo_dagster.errors import ResourceDataError

__all__ = ["KubernetesResourceData"]


class KubernetesResourceData:
    """ConfigMaps and Secrets of a cluster.

    Args:
        api_client: A configured ``kubernetes`` API client.
        shared_namespace: Where ``sharedConfigMap()``/``sharedSecret()`` read.
        request_timeout: Seconds allowed for each read of a request.
        request_deadline: Seconds each request may take in all.
    """

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        *,
        shared_namespace: str = SHARED_RESOURCES_NAMESPACE,
        request_timeout: float = 10.0,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
    ) -> None:
        self._api_client = api_client
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._shared_namespace = shared_namespace
        self._timeout = request_timeout
        self._deadline = request_deadline

    def read(self, ref: ResourceRef) -> StoredObject | None:
        """The object ``ref`` names, or None when the API server does not have it.

        Raises:
            ResourceDataError: The API server refused, failed or could not be reached; the
                message names the object and the status, never the answer's body.
        """
        namespace = ref.project if ref.project is not None else self._shared_namespace
        secret = ref.kind == "Secret"
        call = (
            self._core.read_namespaced_secret if secret else self._core.read_namespaced_config_map
        )
        where = f"{ref.kind} {namespace}/{ref.name}"
        try:
            answer = call_within(
                call,
                ref.name,
                namespace,
                method="GET",
                host=str(self._api_client.configuration.host),
                timeout=self._timeout,
                deadline=self._deadline,
            )
            found = self._api_client.deserialize(answer, "V1Secret" if secret else "V1ConfigMap")
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return None
            # The body of an API error may echo request data; report the status only.
            raise ResourceDataError(
                f"cannot read {where} (Kubernetes API answered {error.status} {error.reason})"
            ) from None
        except RequestDeadlineExceeded as error:
            raise ResourceDataError(
                f"the Kubernetes API was too slow to read {where}: {error}"
            ) from None
        except Exception as error:  # noqa: BLE001 - urllib3 raises many kinds for one cause
            raise ResourceDataError(
                f"cannot reach the Kubernetes API to read {where} ({connection_cause(error)})"
            ) from None
        metadata = cast(Any, found).metadata or kubernetes.client.V1ObjectMeta()
        labels = dict(metadata.labels or {})
        if secret:
            return StoredObject(_decoded(cast(kubernetes.client.V1Secret, found), where), labels)
        return StoredObject(dict(cast(kubernetes.client.V1ConfigMap, found).data or {}), labels)


def _decoded(secret: kubernetes.client.V1Secret, where: str) -> dict[str, str]:
    # Kargo turns each value's bytes into a string; bytes that are not UTF-8 are replaced.
    try:
        return {
            key: base64.b64decode(value).decode(errors="replace")
            for key, value in (secret.data or {}).items()
        }
    except (binascii.Error, ValueError):
        raise ResourceDataError(f"{where} holds data that is not base64") from None
