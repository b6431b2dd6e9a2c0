"""Argo Rollouts AnalysisTemplates read from a cluster.

A Stage's ``verification`` names AnalysisTemplates (in the Project's namespace) and
ClusterAnalysisTemplates; under Kargo they live in the cluster. :class:`ClusterTemplates`
reads them as custom objects (``argoproj.io/v1alpha1`` ``analysistemplates`` and
``clusteranalysistemplates``, through
:class:`~kargo_dagster.clients.kube.custom_objects.CustomObjects`). It has the shape of
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

from collections.abc import Callable, Mapping
from typing import Any, cast

from kargo_dagster.clients.kube.custom_objects import (
    CustomObjectsClient,
    CustomResource,
    Refused,
    Unanswered,
)
from kargo_dagster.errors import VerificationError

__all__ = ["ClusterTemplates"]

_NAMESPACED = CustomResource("argoproj.io", "v1alpha1", "analysistemplates")
_CLUSTER_SCOPED = CustomResource("argoproj.io", "v1alpha1", "clusteranalysistemplates")


class ClusterTemplates(CustomObjectsClient):
    """AnalysisTemplates and ClusterAnalysisTemplates in a Kubernetes cluster.

    Made from a configured ``kubernetes`` client (closed by :meth:`close`), the seconds for
    each read (``request_timeout``) and for each whole request (``request_deadline``).

    Examples:
        >>> with ClusterTemplates(api_client, request_timeout=5) as cluster:  # doctest: +SKIP
        ...     spec = cluster.analysis_template("kargo-demo", "smoke-test")
    """

    def analysis_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The ``spec`` of AnalysisTemplate ``namespace/name``, or None when there is none.

        Raises:
            VerificationError: The cluster refused, could not be reached, or does not serve
                AnalysisTemplates.
        """
        what = f"AnalysisTemplate {name!r} in namespace {namespace!r}"
        return self._spec(
            lambda doing: self._objects.get(_NAMESPACED, namespace, name, doing=doing),
            name,
            what,
            "AnalysisTemplates",
        )

    def cluster_analysis_template(self, name: str) -> Mapping[str, Any] | None:
        """The ``spec`` of ClusterAnalysisTemplate ``name``, or None when there is none.

        Raises:
            VerificationError: The cluster refused, could not be reached, or does not serve
                ClusterAnalysisTemplates.
        """
        what = f"ClusterAnalysisTemplate {name!r}"
        return self._spec(
            lambda doing: self._objects.get_cluster_scoped(_CLUSTER_SCOPED, name, doing=doing),
            name,
            what,
            "ClusterAnalysisTemplates",
        )

    def _spec(
        self,
        get: Callable[[str], dict[str, Any] | None],
        name: str,
        what: str,
        kinds: str,
    ) -> Mapping[str, Any] | None:
        try:
            found = get(f"get {what}")
        except Unanswered as error:
            raise VerificationError(str(error)) from None
        except Refused as refused:
            if refused.status == 404 and refused.named == name:
                return None
            raise self._refused(refused, what, kinds) from None
        spec = found.get("spec") if found is not None else None
        if not isinstance(spec, dict):
            # A template without a spec cannot pass the CRD's schema; something else answered.
            raise VerificationError(f"{self.where} answered for {what} without a spec object")
        return cast(dict[str, Any], spec)

    def _refused(self, refused: Refused, what: str, kinds: str) -> VerificationError:
        message = refused.message
        if refused.status == 404:
            # A 404 naming no object is about the resource itself: the CRD is not installed.
            return VerificationError(
                f"cannot get {what}: {self.where} does not serve {kinds} "
                f"({_NAMESPACED.api_version}); "
                f"is Argo Rollouts installed there? ({message or 'not found'})"
            )
        return VerificationError(
            f"{self.where} refused to get {what} ({refused.reason})"
            f"{': ' + message if message else ''}"
        )
