"""`kargo-dagster history`: a Stage's promotions with Freight, action, actor and result."""

import json

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.cli import main
from tests.defs.promotions import declined, promote
from tests.defs.test_pipeline import DEV, SHOP, STAGING, app_freight


def test_history_lists_a_stages_promotions_newest_first(instance, monkeypatch, capsys):
    defs = load_definitions(SHOP)
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    v2 = record_freight(instance, "shop", app_freight("v2.0.0"))
    assert promote(defs, instance, DEV, v1, tags={"kargo/actor": "alice"}).success
    assert promote(defs, instance, DEV, v2, tags={"kargo/actor": "bob"}).success
    rollback = {"kargo/actor": "carol", "kargo/action": "rollback"}
    assert promote(defs, instance, DEV, v1, tags=rollback).success
    v3 = record_freight(instance, "shop", app_freight("v3.0.0"))
    refused = promote(defs, instance, STAGING, v3, tags={"kargo/actor": "dave"})
    assert "not available" in declined(instance, refused, "refused")
    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))

    assert main(["history", "--path", str(SHOP), "--stage", "dev", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["freight"], r["action"], r["actor"], r["result"]) for r in rows] == [
        (v1, "rollback", "self-declared:carol", "succeeded"),
        (v2, "promote", "self-declared:bob", "succeeded"),
        (v1, "promote", "self-declared:alice", "succeeded"),
    ]
    assert main(["history", "--path", str(SHOP), "--stage", "staging"]) == 0
    out = capsys.readouterr().out
    header, row, reason = out.splitlines()
    assert header.split() == ["TIME", "FREIGHT", "ACTION", "ACTOR", "RESULT", "RUNID"]
    assert row.split()[1:5] == [v3, "promote", "self-declared:dave", "refused"]
    assert reason.strip().startswith(f"Refused: Freight {v3} is not available to Stage staging")
    assert main(["history", "--path", str(SHOP), "--stage", "prod"]) == 0
    assert capsys.readouterr().out.strip() == "Stage prod has no promotions yet"
