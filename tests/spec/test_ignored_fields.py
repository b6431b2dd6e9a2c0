"""Fields Kargo acts on but kargo-dagster does not: they load, with a warning at their line."""

from pathlib import Path

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.spec import load_manifests
from tests.spec.manifests import PROJECT, WAREHOUSE, join, stage, write

CONFIG = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata:
  name: demo
  namespace: demo
spec:
  promotionPolicies:
  - stageSelector:
      name: dev
    autoPromotionEnabled: true
    autoRollback:
      onVerification: [Failed]
  webhookReceivers:
  - name: gh
    github:
      secretRef:
        name: gh-secret
"""


def test_fields_without_effect_here_are_warnings(here: Path) -> None:
    sharded = stage("dev").replace("spec:\n", "spec:\n  shard: east\n", 1)
    warehouse = WAREHOUSE.replace("spec:\n", "spec:\n  shard: east\n", 1)
    write(here, {"a.yaml": join(PROJECT, warehouse, CONFIG, sharded)})
    warnings: list[ManifestProblem] = []
    catalog = load_manifests("a.yaml", warnings=warnings)
    assert list(catalog.projects["demo"].stages) == ["dev"]
    found = [str(w).split(": has no effect")[0] for w in warnings]
    assert found == [
        "a.yaml:12: Warehouse/app: spec.shard",
        "a.yaml:27: ProjectConfig/demo: spec.promotionPolicies.0.autoRollback",
        "a.yaml:41: Stage/dev: spec.shard",
    ]
    assert all("has no effect in kargo-dagster" in str(w) for w in warnings)


def test_manifests_without_them_warn_nothing(here: Path) -> None:
    write(here, {"a.yaml": join(PROJECT, WAREHOUSE, stage("dev"))})
    warnings: list[ManifestProblem] = []
    load_manifests("a.yaml", warnings=warnings)
    assert warnings == []
