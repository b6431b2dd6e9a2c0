"""Argo Rollouts AnalysisTemplate and ClusterAnalysisTemplate, kept for verification.

Only the envelope is modelled; ``spec`` stays a plain mapping until the verification code
interprets it.
"""

from typing import Any, Literal

from kargo_dagster.spec.base import KargoObject
from kargo_dagster.spec.meta import ObjectMeta

__all__ = ["AnalysisTemplate", "ClusterAnalysisTemplate"]


class AnalysisTemplate(KargoObject):
    """An Argo Rollouts AnalysisTemplate (namespaced)."""

    api_version: Literal["argoproj.io/v1alpha1"]
    kind: Literal["AnalysisTemplate"]
    metadata: ObjectMeta
    spec: dict[str, Any]


class ClusterAnalysisTemplate(KargoObject):
    """An Argo Rollouts ClusterAnalysisTemplate (cluster-scoped)."""

    api_version: Literal["argoproj.io/v1alpha1"]
    kind: Literal["ClusterAnalysisTemplate"]
    metadata: ObjectMeta
    spec: dict[str, Any]
