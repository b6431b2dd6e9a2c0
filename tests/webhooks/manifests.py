"""Manifests shared by the webhook tests: Projects, a ProjectConfig and the ClusterConfig with
receivers."""

from tests.spec.manifests import PROJECT

CONFIG_HEADER = """\
---
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata:
  name: demo
  namespace: demo
spec:
  webhookReceivers:
"""


def with_receivers(receivers: str) -> str:
    """Project ``demo`` and its ProjectConfig with ``receivers`` (YAML list items, indented
    two spaces) as its ``webhookReceivers``."""
    return PROJECT + CONFIG_HEADER + receivers


def receiver(kind: str, name: str = "hook", secret: str = "hook-secret") -> str:
    """One receiver entry of ``kind`` whose ``secretRef`` names ``secret``."""
    return f"  - name: {name}\n    {kind}:\n      secretRef:\n        name: {secret}\n"


CLUSTER_HEADER = """\
---
apiVersion: kargo.akuity.io/v1alpha1
kind: ClusterConfig
metadata:
  name: cluster
spec:
  webhookReceivers:
"""


def cluster_receivers(receivers: str) -> str:
    """The ClusterConfig with ``receivers`` (YAML list items, indented two spaces) as its
    ``webhookReceivers``."""
    return CLUSTER_HEADER + receivers


def project(name: str) -> str:
    """A Project document named ``name``."""
    return f"---\napiVersion: kargo.akuity.io/v1alpha1\nkind: Project\nmetadata:\n  name: {name}\n"
