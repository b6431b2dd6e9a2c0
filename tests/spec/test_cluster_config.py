"""ClusterConfig loads: its deep links apply to every Project, its webhook receivers are
served without a warning, and what has no effect here says so at its line; a generic
subscription, which Kargo v1.11 has no subscriber for either, is refused at its field."""

from pathlib import Path

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.spec import load_manifests
from tests.spec.manifests import PROJECT, WAREHOUSE, join, problems, stage, write

CLUSTER = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ClusterConfig
metadata:
  name: cluster
spec:
  gitClient:
    name: Release Bot
    email: bot@example.com
    signingKeySecret:
      name: gpg
  webhookReceivers:
  - name: all
    github:
      secretRef:
        name: gh
  stageLinks:
  - title: Cluster dashboard
    url: https://grafana/{{ .stage.metadata.name }}
  freightLinks:
  - title: Cluster build
    url: https://ci/{{ .freight.alias }}
"""

CONFIG = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata:
  name: demo
  namespace: demo
spec:
  stageLinks:
  - title: Project runbook
    url: https://runbooks/demo
  promotionWindows:
  - name: weekends
    kind: Deny
    rrule: FREQ=WEEKLY;BYDAY=SA,SU
"""


def test_cluster_links_come_before_the_projects(here: Path) -> None:
    write(here, {"a.yaml": join(CLUSTER, PROJECT, WAREHOUSE, CONFIG, stage("dev"))})
    catalog = load_manifests("a.yaml")
    project = catalog.projects["demo"]
    assert catalog.cluster_config is not None
    assert [link.title for link in project.stage_links] == ["Cluster dashboard", "Project runbook"]
    assert [link.title for link in project.freight_links] == ["Cluster build"]


def test_what_has_no_effect_here_is_a_warning_at_its_line(here: Path) -> None:
    write(here, {"a.yaml": join(CLUSTER, PROJECT, WAREHOUSE, CONFIG, stage("dev"))})
    warnings: list[ManifestProblem] = []
    load_manifests("a.yaml", warnings=warnings)
    # The ClusterConfig's webhookReceivers are served by `kargo-dagster receive`: no warning.
    assert [str(w).split(": has no effect")[0] for w in warnings] == [
        "a.yaml:6: ClusterConfig/cluster: spec.gitClient",
        "a.yaml:9: ClusterConfig/cluster: spec.gitClient.signingKeySecret",
        "a.yaml:47: ProjectConfig/demo: spec.promotionWindows",
    ]
    assert "sign commits only with the key git-clone's `author.signingKey`" in str(warnings[1])
    assert "Kargo Enterprise feature, not in v1.11" in str(warnings[2])


def test_only_the_cluster_config_named_cluster_is_read(here: Path) -> None:
    found = problems(
        here, {"a.yaml": join(CLUSTER.replace("name: cluster", "name: main"), PROJECT)}
    )
    assert found == [
        "a.yaml:4: ClusterConfig/main: metadata.name: Kargo reads only the ClusterConfig "
        "named 'cluster'; write name: cluster"
    ]


def test_a_generic_subscription_is_refused_at_its_field(here: Path) -> None:
    warehouse = WAREHOUSE.replace(
        "  - image:\n      repoURL: ghcr.io/example/app\n",
        "  - name: bucket\n    subscription:\n      subscriptionType: s3\n",
    )
    assert problems(here, {"a.yaml": join(PROJECT, warehouse)}) == [
        "a.yaml:14: Warehouse/app: spec.subscriptions.0.subscription: generic subscriptions "
        "(subscriptionType 's3') have no subscriber in Kargo v1.11 or in kargo-dagster; "
        "subscribe to an image, git or chart repository instead"
    ]
