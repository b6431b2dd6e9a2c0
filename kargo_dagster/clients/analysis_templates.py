"""Argo Rollouts AnalysisTemplates read from a cluster.

A Stage's ``verification`` names AnalysisTemplates (in the Project's namespace) and
ClusterAnalysisTemplates; under Kargo they live in the cluster. :class:`ClusterTemplates`
reads them through the Kubernetes API (``CustomObjectsApi``, ``argoproj.io/v1alpha1``
``analysistemplates`` and ``clusteranalysistemplates``). It has the shape of
:class:`kargo_dagster.verification.template_sources.TemplateSource`: it returns a template's
``spec`` mapping, or None when there is no such template.

A missing template (404 naming it) is None; any other failure raises
:class:`~kargo_dagster.errors.VerificationError`: a cluster that does not serve the kinds at
all (Argo Rollouts not installed), a refusal (with its status, reason and the API's own
``Status.message``), or an API that cannot be reached (refused, timed out: every request has
a read timeout, since the client has none by default, and a total deadline, see
:mod:`kargo_dagster.clients.kube.deadlines`). The client's exception text (headers, raw
bodies) is never passed on, and the API server's address is shown with any credentials
masked.
"""

import json
from collections.abc import Mapping
from typing import Any, Self, cast

import kubernetes
import urllib3

from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE, RequestDeadlineExceeded
from kargo_dagster.clients.kube.deadlines import KubeAnswer, call_within
from kargo_dagster.clients.kube.errors import client_secrets, connection_cause, status_body
from kargo_dagster.errors import VerificationError
from kargo_dagster.redaction import ECHO_MASK, mask_secrets, redact_url

__all__ = ["ClusterTemplates"]

_GROUP, _VERSION = "argoproj.io", "v1alpha1"
_NAMESPACED, _CLUSTER_SCOPED = "analysistemplates", "clusteranalysistemplates"


class ClusterTemplates:
    """AnalysisTemplates and ClusterAnalysisTemplates in a Kubernetes cluster.

    Args:
        api_client: A configured ``kubernetes`` client (kubeconfig, in-cluster or explicit
            host and token). It is closed by :meth:`close`.
        request_timeout: Seconds allowed for each read of a request.
        request_deadline: Seconds each request may take in all.

    Examples:
        >>> with ClusterTemplates(api_client, request_timeout=5) as cluster:  # doctest: +SKIP
        ...     spec = cluster.analysis_template("kargo-demo", "smoke-test")
    """

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        *,
        request_timeout: float = 10.0,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
    ) -> None:
        self._api_client = api_client
        self._custom = kubernetes.client.CustomObjectsApi(api_client)
        self._secrets = client_secrets(api_client)
        self._timeout = request_timeout
        self._deadline = request_deadline
        self._host = str(api_client.configuration.host)
        self.where = f"the Kubernetes API at {redact_url(str(api_client.configuration.host))}"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the client's connections."""
        self._api_client.close()

    def analysis_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The ``spec`` of AnalysisTemplate ``namespace/name``, or None when there is none.

        Raises:
            VerificationError: The cluster refused, could not be reached, or does not serve
                AnalysisTemplates.
        """
        what = f"AnalysisTemplate {name!r} in namespace {namespace!r}"
        try:
            found = self._get(
                self._custom.get_namespaced_custom_object,
                _GROUP, _VERSION, namespace, _NAMESPACED, name,
            )  # fmt: skip
        except kubernetes.client.ApiException as error:
            return self._missing_or_raise(error, name, what, "AnalysisTemplates")
        except (urllib3.exceptions.HTTPError, RequestDeadlineExceeded) as error:
            raise self._unreachable(error, what) from None
        return self._spec(found, what)

    def cluster_analysis_template(self, name: str) -> Mapping[str, Any] | None:
        """The ``spec`` of ClusterAnalysisTemplate ``name``, or None when there is none.

        Raises:
            VerificationError: The cluster refused, could not be reached, or does not serve
                ClusterAnalysisTemplates.
        """
        what = f"ClusterAnalysisTemplate {name!r}"
        try:
            found = self._get(
                self._custom.get_cluster_custom_object, _GROUP, _VERSION, _CLUSTER_SCOPED, name
            )
        except kubernetes.client.ApiException as error:
            return self._missing_or_raise(error, name, what, "ClusterAnalysisTemplates")
        except (urllib3.exceptions.HTTPError, RequestDeadlineExceeded) as error:
            raise self._unreachable(error, what) from None
        return self._spec(found, what)

    # Answers and errors ------------------------------------------------------------------------

    def _get(self, call: Any, *args: Any) -> object:
        answer: KubeAnswer = call_within(
            call,
            *args,
            method="GET",
            host=self._host,
            timeout=self._timeout,
            deadline=self._deadline,
        )
        try:
            return json.loads(answer.data)
        except ValueError:
            return None  # not a template, as _spec says

    def _spec(self, found: object, what: str) -> Mapping[str, Any]:
        spec = cast(dict[str, Any], found).get("spec") if isinstance(found, dict) else None
        if not isinstance(spec, dict):
            # A template without a spec cannot pass the CRD's schema; something else answered.
            raise VerificationError(f"{self.where} answered for {what} without a spec object")
        return cast(dict[str, Any], spec)

    def _missing_or_raise(
        self, error: kubernetes.client.ApiException, name: str, what: str, kinds: str
    ) -> None:
        status = int(error.status or 0)
        if status == 0:
            # The client reports TLS failures as status 0 with the cause in ``reason``.
            reason = mask_secrets(str(error.reason), self._secrets, mask=ECHO_MASK)
            raise VerificationError(f"cannot reach {self.where} to get {what}: {reason}") from None
        body = status_body(error)
        message = mask_secrets(
            str(body.get("message") or error.reason or ""), self._secrets, mask=ECHO_MASK
        )
        message = message.strip()
        if status == 404:
            details = body.get("details")
            named = details.get("name") if isinstance(details, dict) else None
            if named == name:
                return None
            # A 404 naming no object is about the resource itself: the CRD is not installed.
            raise VerificationError(
                f"cannot get {what}: {self.where} does not serve {kinds} ({_GROUP}/{_VERSION}); "
                f"is Argo Rollouts installed there? ({message or 'not found'})"
            ) from None
        reason = f"{status} {error.reason}".strip() if error.reason else str(status)
        raise VerificationError(
            f"{self.where} refused to get {what} ({reason}){': ' + message if message else ''}"
        ) from None

    def _unreachable(
        self, error: urllib3.exceptions.HTTPError | RequestDeadlineExceeded, what: str
    ) -> VerificationError:
        if isinstance(error, RequestDeadlineExceeded):
            return VerificationError(f"{self.where} was too slow to get {what}: {error}")
        return VerificationError(
            f"cannot reach {self.where} to get {what}: {connection_cause(error)}"
        )
