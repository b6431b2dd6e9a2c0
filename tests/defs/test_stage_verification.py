"""The ``verified`` check runs the Stage's AnalysisTemplates as one AnalysisRun, as Kargo does,
in a fake Kubernetes API where the AnalysisRun simulator plays Argo Rollouts."""

from pathlib import Path

import dagster as dg

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import ArgoCDKubernetes, KargoResource, RolloutsSettings
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing.analysis_sim import AnalysisRunSimulator
from kargo_dagster.testing.kube_api import FakeKubeAPI
from tests.defs.promotions import promote

MANIFESTS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: shop
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: shop
spec:
  subscriptions:
  - image:
      repoURL: registry.example.com/shop/app
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: smoke
  namespace: shop
spec:
  args:
  - name: version
  metrics:
  - name: up
    provider:
      web:
        url: https://shop.example.com/healthz?v={{args.version}}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
  namespace: shop
spec:
  requestedFreight:
  - origin:
      kind: Warehouse
      name: app
    sources:
      direct: true
  promotionTemplate:
    spec:
      steps:
      - uses: compose-output
        config:
          image: ${{ imageFrom("registry.example.com/shop/app").Tag }}
  verification:
    analysisTemplates:
    - name: smoke
    args:
    - name: version
      value: ${{ imageFrom("registry.example.com/shop/app").Tag }}
"""
DEV = dg.AssetKey(["shop", "stage", "dev"])


def verify_dev(tmp_path: Path, instance, *, outcome: str, rollouts: bool = True):
    manifests = tmp_path / "stages.yaml"
    manifests.write_text(MANIFESTS)
    with FakeKubeAPI() as kube:
        settings = RolloutsSettings(
            kubernetes=ArgoCDKubernetes(host=kube.url), poll_interval_seconds=0.05
        )
        kargo = KargoResource(
            work_dir=str(tmp_path / "work"), rollouts=settings if rollouts else None
        )
        defs = load_definitions(manifests, resources={"kargo": kargo})
        freight = Freight(
            origin=FreightOrigin(name="app"),
            images=(
                Image(
                    repo_url="registry.example.com/shop/app",
                    tag="v1.2.3",
                    digest="sha256:" + "1" * 64,
                ),
            ),
        )
        key = record_freight(instance, "shop", freight)
        with AnalysisRunSimulator(kube, outcome=outcome).running():
            result = promote(defs, instance, DEV, key)
        runs = kube.list_objects("argoproj.io/v1alpha1", "AnalysisRun", "shop")
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return result, checks["verified"], runs


def test_a_successful_analysis_verifies_the_freight(tmp_path, instance):
    result, verified, runs = verify_dev(tmp_path, instance, outcome="Successful")
    assert result.success
    assert verified.passed
    assert verified.metadata["phase"].value == "Successful"
    [run] = runs
    # Built as Kargo builds it: the Stage's label and args evaluated for this Freight.
    assert run["metadata"]["labels"]["kargo.akuity.io/stage"] == "dev"
    assert run["metadata"]["name"].startswith("dev.")
    assert run["spec"]["args"] == [{"name": "version", "value": "v1.2.3"}]
    assert verified.metadata["analysisRun"].value == f"shop/{run['metadata']['name']}"


def test_a_failed_analysis_fails_the_gate(tmp_path, instance):
    result, verified, runs = verify_dev(tmp_path, instance, outcome="Failed")
    assert not verified.passed
    assert verified.metadata["phase"].value == "Failed"
    assert len(runs) == 1
    assert not result.success


def test_without_a_rollouts_cluster_the_check_says_how_to_configure_one(tmp_path, instance):
    _, verified, runs = verify_dev(tmp_path, instance, outcome="Successful", rollouts=False)
    assert not verified.passed
    assert "give KargoResource `rollouts=RolloutsSettings(...)`" in (verified.description or "")
    assert runs == []
