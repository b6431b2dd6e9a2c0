"""Argo Rollouts AnalysisRuns in a cluster: created, read while they run, told to stop.

With an Argo Rollouts cluster, a Stage's verification is an AnalysisRun created in the
Project's namespace there, as Kargo creates it, and read again until it ends.
:class:`AnalysisRuns` makes those requests as custom objects (``argoproj.io/v1alpha1``
``analysisruns``, through :class:`~kargo_dagster.clients.kube.custom_objects.CustomObjects`),
each within a read timeout and a total deadline.

Failures raise :class:`~kargo_dagster.errors.VerificationError`: a refusal names its status
and reason, anything else says the cluster could not be reached; credentials in URLs are
masked.
"""

import json
from collections.abc import Callable, Mapping
from typing import Any, cast

import kubernetes

from kargo_dagster.clients.kube.custom_objects import CustomObjectsClient, CustomResource
from kargo_dagster.errors import VerificationError
from kargo_dagster.redaction import redact_text

__all__ = ["AnalysisRuns"]

_ANALYSIS_RUNS = CustomResource("argoproj.io", "v1alpha1", "analysisruns")


class AnalysisRuns(CustomObjectsClient):
    """AnalysisRuns in a Kubernetes cluster where Argo Rollouts runs them.

    Args:
        api_client: A configured ``kubernetes`` client. It is closed by :meth:`close`; one
            shared with the cluster's other clients is better left to whoever made it.
        request_timeout: Seconds allowed for each read of a request.
        request_deadline: Seconds each request (but :meth:`terminate`) may take in all.
    """

    def create(self, namespace: str, run: Mapping[str, Any]) -> dict[str, Any]:
        """Create ``run`` in ``namespace``; the AnalysisRun as the API server stored it.

        Raises:
            VerificationError: The cluster refused, or could not be reached.
        """
        create = self._objects.api.create_namespaced_custom_object
        return self._run("POST", create, *_ANALYSIS_RUNS.in_namespace(namespace), dict(run))

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        """AnalysisRun ``namespace/name`` as it is now.

        Raises:
            VerificationError: The cluster refused, or could not be reached.
        """
        get = self._objects.api.get_namespaced_custom_object
        return self._run("GET", get, *_ANALYSIS_RUNS.in_namespace(namespace), name)

    def terminate(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        """Send AnalysisRun ``namespace/name`` the merge ``patch`` that stops it, if the
        cluster can be told.

        Best effort, with the read timeout alone: it runs while a timeout or an interruption
        is being handled, which matters more than whether the run heard.
        """
        try:
            self._objects.api.patch_namespaced_custom_object(
                *_ANALYSIS_RUNS.in_namespace(namespace),
                name,
                dict(patch),
                _request_timeout=self._objects.request_timeout,
            )
        except Exception:  # noqa: BLE001 - the interruption being handled matters more
            pass

    def _run(self, method: str, call: Callable[..., Any], *args: Any) -> dict[str, Any]:
        try:
            answer = self._objects.call(method, call, *args)
            found = json.loads(answer.data)
            if not isinstance(found, dict):
                raise ValueError("the answer is not a JSON object")
            return cast(dict[str, Any], found)
        except kubernetes.client.ApiException as error:
            reason = redact_text(str(error.reason or error.status))
            raise VerificationError(
                f"the Argo Rollouts cluster refused the AnalysisRun ({error.status}): {reason}"
            ) from None
        except Exception as error:  # noqa: BLE001 - any other failure leaves the run unknown
            raise VerificationError(
                f"cannot reach the Argo Rollouts cluster: {redact_text(str(error))}"
            ) from None
