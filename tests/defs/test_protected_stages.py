"""Protected Stages: only the people a Stage lists, signed in to Dagster, approve or promote.

The signed-in user is the ``dagster/user`` tag an authenticating webserver puts on the runs it
launches; a name given on the command line or in a ``kargo/actor`` tag is self-declared.
"""

import json
from pathlib import Path

import dagster as dg
import pytest

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.approvals import approve_freight
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.errors import PromotionRefusedError
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.protection import APPROVERS_ANNOTATION, PROMOTERS_ANNOTATION
from kargo_dagster.spec import load_manifests
from tests.defs.promotions import declined
from tests.manifests import project, requested, stage, warehouse, write_manifests

APP = "registry.example.com/shop/app"


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    prod = stage("prod", "shop", requested=[requested("app", stages=["dev"])])
    prod["metadata"]["annotations"] = {
        PROMOTERS_ANNOTATION: "alice",
        APPROVERS_ANNOTATION: "alice, group:release",
    }
    return write_manifests(
        tmp_path / "stages.yaml",
        project("shop"),
        warehouse("app", "shop", image=APP),
        stage("dev", "shop", requested=[requested("app")]),
        prod,
    )


def freight(tag: str) -> Freight:
    digest = "sha256:" + tag.encode().hex().ljust(64, "0")
    return Freight(
        origin=FreightOrigin(name="app"), images=(Image(repo_url=APP, tag=tag, digest=digest),)
    )


def run(
    defs: dg.Definitions, instance: dg.DagsterInstance, job: str, key: str, tags: dict[str, str]
) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(job).execute_in_process(
        partition_key=key, instance=instance, tags=tags, raise_on_error=False
    )


def test_only_listed_people_signed_in_approve_or_promote(manifests, instance, monkeypatch, capsys):
    # Groups are the deployment's: bob approves as a member of "release".
    defs = load_definitions(
        manifests, resources={"kargo": KargoResource(groups={"release": ["bob", "dana"]})}
    )
    shop = load_manifests(manifests).projects["shop"]
    v1 = record_freight(instance, "shop", freight("v1.0.0"))
    assert run(defs, instance, "shop__promote__dev", v1, {"kargo/actor": "eve"}).success

    # Approvals: a self-declared name never counts, a signed-in one must be listed.
    with pytest.raises(PromotionRefusedError, match="'alice' is self-declared"):
        approve_freight(instance, shop, stage="prod", partition_key=v1, actor="alice")
    refused = run(defs, instance, "shop__approve__prod", v1, {"dagster/user": "carol"})
    assert not refused.success
    assert run(defs, instance, "shop__approve__prod", v1, {"dagster/user": "bob"}).success

    # Manual promotions: the same, with the promoters' list.
    promote = "shop__promote__prod"
    claimed = run(defs, instance, promote, v1, {"kargo/actor": "alice"})
    assert "'alice' is self-declared" in declined(instance, claimed, "refused")
    unlisted = run(defs, instance, promote, v1, {"dagster/user": "bob"})
    assert "only alice may promote into it, not bob" in declined(instance, unlisted, "refused")
    assert run(
        defs, instance, promote, v1, {"dagster/user": "alice"}
    ).get_asset_materialization_events()

    # The command line's actor is self-declared: refused before anything is launched.
    monkeypatch.setenv("DAGSTER_HOME", instance.root_directory)
    capsys.readouterr()
    code = main(
        [
            "promote",
            "--path",
            str(manifests),
            "--stage",
            "prod",
            "--freight",
            v1,
            "--actor",
            "alice",
        ]
    )
    assert code == 1
    assert "Stage prod is protected" in capsys.readouterr().err

    # The audit trail tells authenticated people from claimed names.
    assert main(["history", "--path", str(manifests), "--stage", "prod", "--json"]) == 0
    rows = [(r["action"], r["actor"], r["result"]) for r in json.loads(capsys.readouterr().out)]
    assert rows == [
        ("promote", "alice", "succeeded"),
        ("promote", "bob", "refused"),
        ("promote", "self-declared:alice", "refused"),
        ("approve", "bob", "succeeded"),
        ("approve", "carol", "failed"),
    ]
    assert main(["history", "--path", str(manifests), "--stage", "dev", "--json"]) == 0
    assert [row["actor"] for row in json.loads(capsys.readouterr().out)] == ["self-declared:eve"]
