"""Where a Stage's verification reads its AnalysisTemplates from.

A Stage's ``verification`` names AnalysisTemplates (in the Project's namespace) and
ClusterAnalysisTemplates. Under Kargo they live in the cluster; here they may also be among
the manifests. :class:`CatalogTemplates` reads the manifests,
:class:`kargo_dagster.clients.kube.analysis_templates.ClusterTemplates` a cluster, and
:class:`LayeredTemplates` asks several sources in turn, so that a template among the
manifests wins over one of the same name in the cluster and the cluster is asked only for
the others.
"""

from collections.abc import Mapping
from typing import Any, Protocol

from kargo_dagster.spec.catalog import Catalog

__all__ = ["CatalogTemplates", "LayeredTemplates", "TemplateSource"]


class TemplateSource(Protocol):
    """Where AnalysisTemplates are read: the loaded manifests, or a cluster.

    Both methods return the template's ``spec`` (``metrics``, ``args``, ``dryRun``,
    ``measurementRetention``) as a JSON-like mapping, or None when there is no such template.
    """

    def analysis_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The ``spec`` of AnalysisTemplate ``namespace/name``, or None."""
        ...

    def cluster_analysis_template(self, name: str) -> Mapping[str, Any] | None:
        """The ``spec`` of ClusterAnalysisTemplate ``name``, or None."""
        ...


class CatalogTemplates:
    """A :class:`TemplateSource` over the manifests the loader read.

    Args:
        catalog: The loaded manifests; a Project's AnalysisTemplates are those in its
            namespace.
    """

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def analysis_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The ``spec`` of AnalysisTemplate ``name`` in Project ``namespace``, or None."""
        project = self._catalog.projects.get(namespace)
        template = project.analysis_templates.get(name) if project is not None else None
        return template.spec if template is not None else None

    def cluster_analysis_template(self, name: str) -> Mapping[str, Any] | None:
        """The ``spec`` of ClusterAnalysisTemplate ``name``, or None."""
        template = self._catalog.cluster_analysis_templates.get(name)
        return template.spec if template is not None else None


class LayeredTemplates:
    """Template sources asked in order: the first that has the template wins.

    Pass the manifests first and the cluster after them, so that a template the manifests
    define is used as written and the cluster is asked only for the others. A source that
    fails (raises) stops the search rather than letting a later source answer in its place.

    Args:
        sources: The sources, most authoritative first.

    Examples:
        >>> templates = LayeredTemplates(CatalogTemplates(catalog), ClusterTemplates(client))
        ... # doctest: +SKIP
    """

    def __init__(self, *sources: TemplateSource) -> None:
        self.sources = sources

    def analysis_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The first source's ``spec`` of AnalysisTemplate ``namespace/name``, or None."""
        for source in self.sources:
            found = source.analysis_template(namespace, name)
            if found is not None:
                return found
        return None

    def cluster_analysis_template(self, name: str) -> Mapping[str, Any] | None:
        """The first source's ``spec`` of ClusterAnalysisTemplate ``name``, or None."""
        for source in self.sources:
            found = source.cluster_analysis_template(name)
            if found is not None:
                return found
        return None
