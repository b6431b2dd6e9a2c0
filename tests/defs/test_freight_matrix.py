"""`kargo-dagster status`: the Freight x Stage matrix, with states, times and actors."""

import json

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.approvals import approve_freight
from kargo_dagster.spec import load_manifests
from tests.defs.promotions import declined, promote
from tests.defs.test_pipeline import DEV, QA, SHOP, STAGING, app_freight


def test_status_shows_where_each_freight_stands(instance, monkeypatch, capsys):
    defs = load_definitions(SHOP)
    project = load_manifests(SHOP).projects["shop"]
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    v2 = record_freight(instance, "shop", app_freight("v2.0.0"))
    v3 = record_freight(instance, "shop", app_freight("v3.0.0"))
    assert promote(defs, instance, DEV, v1, tags={"kargo/actor": "alice"}).success
    assert promote(defs, instance, STAGING, v1, tags={"kargo/actor": "alice"}).success
    assert promote(defs, instance, DEV, v2, tags={"kargo/actor": "bob"}).success
    never_in_dev = promote(defs, instance, STAGING, v3)
    assert "not available" in declined(instance, never_in_dev, "refused")
    # qa's promotion steps cannot run here: its promotion fails.
    assert not promote(defs, instance, QA, v3).success
    approve_freight(instance, project, stage="staging", partition_key=v3, actor="carol")
    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))

    assert main(["status", "--path", str(SHOP), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {
        row["freight"]: row["stages"]
        for row in report["projects"][0]["freight"]
        if row["warehouse"] == "app"
    }
    assert list(rows) == [v3, v2, v1]  # newest first
    assert rows[v2]["dev"]["states"] == ["current", "verified"]
    assert rows[v2]["dev"]["promotedBy"] == "self-declared:bob"
    assert rows[v1]["dev"]["states"] == ["verified"]
    assert rows[v1]["staging"]["states"] == ["current", "verified"]
    assert rows[v1]["staging"]["promotedBy"] == "self-declared:alice"
    assert rows[v1]["staging"]["promotedAt"].endswith("+00:00")
    assert rows[v1]["staging"]["verifiedAt"] >= rows[v1]["staging"]["promotedAt"]
    assert "verifiedAt" not in rows[v3]["staging"]
    # The refused promotion changed nothing; the failed one is shown.
    assert rows[v3]["staging"]["states"] == ["approved"]
    assert rows[v3]["qa"]["states"] == ["promotion failed"]
    assert rows[v3]["staging"]["approvedBy"] == "self-declared:carol"
    # prod wants an hour of soak in staging: v1 is verified there but has not soaked.
    assert rows[v1]["prod"]["states"] == ["soaking"]
    assert rows[v2]["prod"]["states"] == []

    assert main(["status", "--path", str(SHOP)]) == 0
    text = capsys.readouterr().out
    assert "Freight by Stage (newest first):" in text
    line = next(line for line in text.splitlines() if line.strip().startswith(v1))
    assert "current,verified (self-declared:alice)" in line
    assert "soaking" in line
